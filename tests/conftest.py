"""Shared fixtures: one real run of the offline demo, reused by every end-to-end test."""

import pytest

from workflow import copy_run, copy_workflow, run_ok


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """A finished `snakemake --profile profiles/demo` in a copy of the repository (models built by the run)."""
    workdir = copy_workflow(tmp_path_factory.mktemp("demo") / "repo")
    run_ok(workdir)
    return workdir


@pytest.fixture
def demo_copy(demo_run, tmp_path):
    """A private copy of the finished demo run, to delete or edit things in."""
    return copy_run(demo_run, tmp_path / "repo")
