"""Reproducibility on real runs of the demo models. Re-roll on delete and pinning back: tests/test_store.py, where
the pin is also restored from the store."""

import re
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


def worker_logs(workdir: Path) -> dict[str, tuple[str, str, int]]:
    """For each worker (its log's name), from its log: its family, its slot and its torch threads, by the first
    line ("... music model M on cpu#1, for ...; torch threads: 2"); only workers that made at least one item,
    for a job or ahead of one ("... s ok")."""
    workers = {}
    for log in (workdir / DEMO.root / "logs" / "workers").glob("*.log"):
        header, *lines = log.read_text().splitlines()
        if any(re.search(r" s ok( \(made ahead\))?$", line) for line in lines):
            family, slot, threads = re.search(r": (\w+) model .* on (\S+?)[ ,].*torch threads: (\d+)", header).groups()
            workers[log.name] = (family, slot, int(threads))
    return workers


def test_a_fresh_run_on_two_slots_per_model_gives_the_files_of_a_one_slot_run(demo_run, tmp_path):
    """Every model stage on two CPU slots (`device: [cpu, cpu]`: two workers of each model, jobs side by side on a
    free slot) builds its models afresh and makes the same files, byte for byte, as the demo on one slot. The
    images come first, on their own: their jobs are ready together, so two start at once and the second finds the
    first slot taken. On a CPU the thread count changes the files (README, "Warm workers"), and each slot gets its
    share of the cores, so the run has twice the demo's cores: the same threads per job."""
    threads = {threads for _family, _slot, threads in worker_logs(demo_run).values()}
    assert len(threads) == 1, threads
    second = copy_workflow(tmp_path / "second")
    two_slots = {section: {"device": ["cpu", "cpu"]} for section in ("music", "image", "video")}
    (second / "two_slots.yaml").write_text(yaml.safe_dump(two_slots))
    options = ["--cores", str(2 * min(threads)), "--configfile", "profiles/demo/demo-config.yaml", "two_slots.yaml"]
    run_ok(second, "image", *options)
    image_workers = worker_logs(second).values()
    run_ok(second, *options)
    first_files, second_files = snapshot(demo_run), snapshot(second)
    assert sorted(first_files) == sorted(second_files)
    different = [name for name in first_files if first_files[name][0] != second_files[name][0]]
    assert different == []
    assert sorted(image_workers) == [("image", "cpu", *threads), ("image", "cpu#1", *threads)]
    # Later, which slot a job takes depends on what else runs; a third slot is never used.
    assert {slot for _family, slot, _threads in worker_logs(second).values()} <= {"cpu", "cpu#1"}
    assert {threads for _family, _slot, threads in worker_logs(second).values()} == threads


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
