"""Re-roll on delete, pinning, and reproducibility, on real runs of the demo models."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from aibeats.config import validate_config
from aibeats.plan import Project
from aibeats.provenance import read_recipe

from workflow import copy_workflow, demo_config, run_ok

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DEMO = Project(validate_config(demo_config(), SCHEMA))


def snapshot(workdir: Path) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every generated file (logs and history left out)."""
    root = workdir / DEMO.root
    return {str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
            for stage in ("music", "images", "animations", "clips") for path in sorted((root / stage).iterdir())}


def test_a_deleted_image_comes_back_different_and_a_pin_brings_the_old_one_back(demo_copy):
    before = snapshot(demo_copy)
    (demo_copy / DEMO.image(3)).unlink()
    run_ok(demo_copy)
    after = snapshot(demo_copy)

    assert after["images/img_3.png"][0] != before["images/img_3.png"][0]
    assert after["animations/anim_3.mp4"][0] != before["animations/anim_3.mp4"][0]
    rebuilt = {"images/img_3.png", "animations/anim_3.mp4"}
    rebuilt |= {f"clips/clip_{i}.mp4" for i in DEMO.track_indices
                if "anim_3.mp4" in {name for name, _ in DEMO.clip_recipe(i, 0).animations}}
    # everything else is untouched: same bytes and not even rewritten
    assert {name: after[name] for name in after if name not in rebuilt} == {
        name: before[name] for name in before if name not in rebuilt}

    recipe = read_recipe(demo_copy / DEMO.image(3))
    assert (recipe["attempt"], recipe["stage"]) == (1, "image")
    history = json.loads((demo_copy / DEMO.history_dir / "img_3.json").read_text())
    assert history == {"attempt": 1, "seed": recipe["seed"]}
    assert read_recipe(demo_copy / DEMO.image(1))["attempt"] == 0

    # Pinning attempt 0 brings back the variant that was deleted, byte for byte.
    (demo_copy / "pin.yaml").write_text(yaml.safe_dump({"attempts": {"img_3": 0}}))
    run_ok(demo_copy, "--configfile", "profiles/demo/demo-config.yaml", "pin.yaml")
    assert (demo_copy / DEMO.image(3)).read_bytes() == before["images/img_3.png"][0]


def test_two_fresh_runs_of_the_demo_give_identical_files(demo_run, tmp_path):
    second = copy_workflow(tmp_path / "second")
    run_ok(second)
    first_files, second_files = snapshot(demo_run), snapshot(second)
    assert sorted(first_files) == sorted(second_files)
    different = [name for name in first_files if first_files[name][0] != second_files[name][0]]
    assert different == []


def test_workers_on_or_off_give_identical_files(demo_run, tmp_path):
    """Warm workers change how fast files are made, never what is in them."""
    in_process = copy_workflow(tmp_path / "in_process")
    shutil.copytree(demo_run / "models", in_process / "models")
    (in_process / "off.yaml").write_text(yaml.safe_dump({"workers": {"enabled": False}}))
    run_ok(in_process, "--configfile", "profiles/demo/demo-config.yaml", "off.yaml")
    assert not (in_process / DEMO.root / "logs" / "workers").exists()
    with_workers, without = snapshot(demo_run), snapshot(in_process)
    assert {name: content for name, (content, _) in with_workers.items()} == {
        name: content for name, (content, _) in without.items()}
