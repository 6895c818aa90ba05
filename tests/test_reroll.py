"""Reproducibility on real runs of the demo models. Re-roll on delete and pinning back: tests/test_store.py, where
the pin is also restored from the store."""

import shutil
from pathlib import Path

import pytest
import yaml

from aibeats.config import validate_config
from aibeats.plan import Project

from workflow import copy_workflow, demo_config, run_ok

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DEMO = Project(validate_config(demo_config(), SCHEMA))


def snapshot(workdir: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every generated file (logs and history left out)."""
    root = workdir / DEMO.root
    return {str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
            for stage in ("music", "images", "animations", "clips") for path in sorted((root / stage).iterdir())}


def test_two_fresh_runs_of_the_demo_give_identical_files(demo_run, tmp_path):
    second = copy_workflow(tmp_path / "second")
    run_ok(second)
    first_files, second_files = snapshot(demo_run), snapshot(second)
    assert sorted(first_files) == sorted(second_files)
    different = [name for name in first_files if first_files[name][0] != second_files[name][0]]
    assert different == []


def test_workers_on_or_off_give_identical_files(demo_run, tmp_path):
    """Warm workers change how fast files are made, never what is in them. One item of every model stage: without
    workers each job loads its model, about 8 s apiece."""
    in_process = copy_workflow(tmp_path / "in_process")
    shutil.copytree(demo_run / "models", in_process / "models")
    (in_process / "off.yaml").write_text(yaml.safe_dump({"workers": {"enabled": False}}))
    run_ok(in_process, str(DEMO.track_ext(1)), str(DEMO.animation(1)), "--configfile",
           "profiles/demo/demo-config.yaml", "off.yaml")
    assert not (in_process / DEMO.root / "logs" / "workers").exists()
    made = [DEMO.track(1), DEMO.track_ext(1), DEMO.image(1), DEMO.animation(1)]
    assert {path: (in_process / path).read_bytes() for path in made} == {
        path: (demo_run / path).read_bytes() for path in made}
