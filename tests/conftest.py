"""Shared fixtures: the tiny models, built once per session, and one real run of the offline demo."""

import pytest

from aibeats.tiny import build_tiny_model

from workflow import copy_run, copy_workflow, run_ok


def _tiny_model_dir(tmp_path_factory, family: str):
    folder = tmp_path_factory.mktemp("models") / family
    build_tiny_model(family, folder)
    return folder


@pytest.fixture(scope="session")
def tiny_musicgen_dir(tmp_path_factory):
    return _tiny_model_dir(tmp_path_factory, "musicgen")


@pytest.fixture(scope="session")
def tiny_musicgen_stereo_dir(tmp_path_factory):
    return _tiny_model_dir(tmp_path_factory, "musicgen-stereo")


@pytest.fixture(scope="session")
def tiny_ace_step_dir(tmp_path_factory):
    return _tiny_model_dir(tmp_path_factory, "ace-step")


@pytest.fixture(scope="session")
def tiny_sdxl_dir(tmp_path_factory):
    return _tiny_model_dir(tmp_path_factory, "sdxl")


@pytest.fixture(scope="session")
def tiny_svd_dir(tmp_path_factory):
    return _tiny_model_dir(tmp_path_factory, "svd")


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
