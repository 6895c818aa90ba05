"""Look-ahead (aibeats.look_ahead): a worker makes the run's next items of its model into the store while no job
waits; a job claims one only when its recipe and inputs are the ones it was made from; the files are those made
without look-ahead, and a run interrupted with look-ahead under way leaves nothing a rerun trusts wrongly."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from aibeats.generate import generate
from aibeats.history import read_record
from aibeats.look_ahead import plan_path, write_plan
from aibeats.pipeline import STAGES
from aibeats.provenance import read_recipe
from aibeats.recipes import TrackRecipe
from aibeats.store import store_key
from aibeats.versions import library_versions
from aibeats.workers import Workflow, request_item, stop_workers

from workflow import copy_run, file_hashes, run_ok

SETTINGS = {"enabled": True, "idle_timeout": 60, "start_timeout": 120, "models_fit_together": False}
STORE_BYTES = 10**9
# Long enough that a stop asked for in the middle of one is told apart from one waiting for its end.
SLOW_TRACK_TOKENS = 403


@pytest.fixture(autouse=True)
def job_environment(tmp_path, monkeypatch):
    """Clients run in the project's workdir, as jobs do, for a workflow that is this pytest process."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIBEATS_WORKFLOW_PID", str(os.getpid()))


def track_recipe(model_id: str, index: int, prompt: str = "lo-fi", tokens: int = 53) -> TrackRecipe:
    return TrackRecipe(prompt, model_id, initial_music_tokens=tokens, seed=index, attempt=0)


def track(project: Path, index: int) -> Path:
    return project / "music" / f"track_{index}.wav"


def plan_tracks(project: Path, recipes: dict[int, TrackRecipe]) -> None:
    """The plan Snakemake's onstart writes, for a run whose jobs make these tracks."""
    jobs = [SimpleNamespace(rule=SimpleNamespace(name=STAGES["music"].rule), output=[str(track(project, index))],
                            wildcards_dict={"i": str(index)}, params=SimpleNamespace(recipe=recipe.as_params()),
                            input={})
            for index, recipe in recipes.items()]
    write_plan(project / ".workers", Workflow.of_this_job(), jobs, {"music": {"device": "cpu"}, "image": {},
                                                                     "video": {"backend": "svd"}})


def ask(project: Path, recipe: TrackRecipe, index: int, look_ahead: int = 2) -> str:
    """What a music job sends when the store did not have its file; returns the worker's log."""
    key = store_key("music", recipe.as_params(), {}, library_versions())
    body = {"stage": "music", "recipe": recipe.as_params(), "inputs": {}, "output": str(track(project, index)),
            "history": str(project / "history"), "workdir": str(project),
            "store": {"folder": str(project / ".store"), "limit_bytes": STORE_BYTES, "key": key},
            "look_ahead": look_ahead}
    return request_item("music", recipe.model_id, "cpu", body, project / ".workers", SETTINGS)


def made_without_look_ahead(tmp_path: Path, recipe: TrackRecipe) -> bytes:
    folder = tmp_path / "in_process"
    generate("music", recipe, {}, folder / "track.wav", folder / "history", device="cpu",
             workers={**SETTINGS, "enabled": False}, workers_dir=folder / ".workers")
    return (folder / "track.wav").read_bytes()


def ahead_lines(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if "s ok, ahead into" in line]


def wait_until(condition, timeout: float) -> None:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"still waiting after {timeout} s"
        time.sleep(0.05)


def test_a_job_claims_what_was_made_ahead_only_for_its_own_recipe(tmp_path, tiny_musicgen_dir):
    model = str(tiny_musicgen_dir)
    plan_tracks(tmp_path, {index: track_recipe(model, index) for index in (1, 2, 3, 4)})
    log = Path(ask(tmp_path, track_recipe(model, 1), 1))

    # the worker goes on with the plan's next tracks, two ahead at most, into the store only
    wait_until(lambda: len(ahead_lines(log)) >= 2, 60)
    time.sleep(1)
    assert [line.split(":")[0] for line in ahead_lines(log)] == [f"music {track(tmp_path, i)}" for i in (2, 3)]
    assert not track(tmp_path, 2).exists() and not track(tmp_path, 3).exists()
    assert read_record(tmp_path / "history", "track_2") == {}
    assert len(list((tmp_path / ".store").glob("*.wav"))) == 2

    # the job of track 2, with the recipe planned: its file is claimed, as made without look-ahead
    ask(tmp_path, track_recipe(model, 2), 2)
    claimed = [line for line in log.read_text().splitlines() if line.endswith("s ok (made ahead)")]
    assert [line.split(":")[0] for line in claimed] == [f"music {track(tmp_path, 2)}"]
    assert track(tmp_path, 2).read_bytes() == made_without_look_ahead(tmp_path, track_recipe(model, 2))
    assert read_record(tmp_path / "history", "track_2")["attempt"] == 0

    # the job of track 3 asks for another recipe (its prompt was edited since the plan): made anew, for it
    edited = track_recipe(model, 3, prompt="lo-fi, rainy night")
    ask(tmp_path, edited, 3)
    last = [line for line in log.read_text().splitlines() if line.startswith(f"music {track(tmp_path, 3)}:")][-1]
    assert last.endswith(" s ok")
    assert read_recipe(track(tmp_path, 3))["prompt"] == "lo-fi, rainy night"
    assert track(tmp_path, 3).read_bytes() == made_without_look_ahead(tmp_path, edited)
    assert stop_workers(tmp_path / ".workers") == 1


def test_a_stop_ends_the_look_ahead_at_once(tmp_path, tiny_musicgen_dir):
    slow = {index: track_recipe(str(tiny_musicgen_dir), index, tokens=SLOW_TRACK_TOKENS) for index in range(1, 9)}
    plan_tracks(tmp_path, slow)
    log = Path(ask(tmp_path, slow[1], 1, look_ahead=8))
    wait_until(lambda: ahead_lines(log), 600)
    one_track = float(ahead_lines(log)[0].split(": ")[1].split()[0])  # its seconds, as the log says
    time.sleep(one_track / 3)  # into the next track made ahead
    started = time.monotonic()
    assert stop_workers(tmp_path / ".workers") == 1
    assert time.monotonic() - started < one_track / 2
    wait_until(lambda: log.read_text().rstrip().endswith("asked to stop after 1 requests"), 10)
    # the track it was making left nothing that looks finished
    assert len(list((tmp_path / ".store").glob("*.wav"))) == len(ahead_lines(log))


def test_without_a_plan_or_with_look_ahead_off_nothing_is_made_ahead(tmp_path, tiny_musicgen_dir):
    tiny_musicgen_id = str(tiny_musicgen_dir)
    log = Path(ask(tmp_path, track_recipe(tiny_musicgen_id, 1), 1))  # no plan: a job run by hand
    plan_tracks(tmp_path, {index: track_recipe(tiny_musicgen_id, index) for index in (1, 2, 3)})
    assert plan_path(tmp_path / ".workers", os.getpid()).exists()
    ask(tmp_path, track_recipe(tiny_musicgen_id, 1), 1, look_ahead=0)
    time.sleep(1)
    assert ahead_lines(log) == []
    assert stop_workers(tmp_path / ".workers") == 1


def test_a_plan_it_cannot_follow_stops_the_look_ahead_not_the_worker(tmp_path, tiny_musicgen_dir):
    model = str(tiny_musicgen_dir)
    plan_tracks(tmp_path, {1: track_recipe(model, 1)})
    plan = plan_path(tmp_path / ".workers", os.getpid())
    broken = json.loads(plan.read_text())
    broken["items"].append({**broken["items"][0], "output": str(track(tmp_path, 2)), "recipe": {"model_id": model}})
    plan.write_text(json.dumps(broken))
    log = Path(ask(tmp_path, track_recipe(model, 1), 1))
    ask(tmp_path, track_recipe(model, 3), 3)
    assert "look-ahead stopped for this run: TypeError" in log.read_text()
    assert track(tmp_path, 3).exists() and ahead_lines(log) == []
    assert stop_workers(tmp_path / ".workers") == 1


# ---------------------------------------------------------------------------------------------- through Snakemake

LOOK_AHEAD_OFF = {"workers": {"look_ahead": 0}}
# An edit of the first modifier: images 1 and 3 get other recipes.
EDITED = {"image": {"prompt_modifiers": ["ink drawing", "watercolor"]}}
GENERATED = ("images", "animations")


def fresh_copy(demo_run: Path, destination: Path) -> Path:
    """The demo's workflow with its models built and nothing generated yet."""
    workdir = copy_run(demo_run, destination)
    project = workdir / "results" / "demo"
    for folder in (*GENERATED, "music", "clips", "mix", "history", ".store", "logs"):
        subprocess.run(["rm", "-rf", str(project / folder)], check=True)
    return workdir


def with_config(workdir: Path, name: str, overrides: dict) -> list[str]:
    (workdir / name).write_text(yaml.safe_dump(overrides))
    return ["--configfile", "profiles/demo/demo-config.yaml", name]


def worker_logs(workdir: Path) -> str:
    return "".join(log.read_text() for log in (workdir / "results" / "demo" / "logs" / "workers").glob("*.log"))


@pytest.mark.slow
def test_files_are_the_same_with_look_ahead_on_and_off(demo_run, tmp_path):
    """demo_run made its images and animations with look-ahead on, the default."""
    assert "ahead into" in worker_logs(demo_run)
    workdir = fresh_copy(demo_run, tmp_path / "repo")
    run_ok(workdir, "image", "video", *with_config(workdir, "off.yaml", LOOK_AHEAD_OFF))
    assert "ahead into" not in worker_logs(workdir)
    assert file_hashes(workdir, GENERATED) == file_hashes(demo_run, GENERATED)


@pytest.mark.slow
def test_a_run_killed_while_looking_ahead_then_an_edit_and_its_undoing_give_the_right_files(demo_run, tmp_path):
    workdir = fresh_copy(demo_run, tmp_path / "repo")
    edited = with_config(workdir, "edited.yaml", EDITED)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "profiles/demo", "image", *edited],
                           cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        wait_until(lambda: "ahead into" in worker_logs(workdir), 120)
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()

    # the rerun of the edited config makes what an uninterrupted run would: as the demo's, but images 1 and 3
    run_ok(workdir, "--unlock", "image", *edited)
    run_ok(workdir, "image", *edited)
    images = file_hashes(workdir, ("images",))
    for name in ("images/img_1.png", "images/img_3.png"):
        assert read_recipe(workdir / "results" / "demo" / name)["prompt"].endswith("ink drawing.")
    uninterrupted = fresh_copy(demo_run, tmp_path / "uninterrupted")
    run_ok(uninterrupted, "image", *with_config(uninterrupted, "edited.yaml", {**EDITED, **LOOK_AHEAD_OFF}))
    assert images == file_hashes(uninterrupted, ("images",))

    # the edit undone: the demo's images, none made from the edited recipes
    run_ok(workdir, "image")
    assert file_hashes(workdir, ("images",)) == file_hashes(demo_run, ("images",))


def test_a_new_run_removes_the_plans_of_runs_that_ended_without_removing_theirs(tmp_path):
    """kill -9 leaves a run's plan behind; a live run's stays."""
    workers = tmp_path / ".workers"
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        workers.mkdir()
        for process in (ended, alive):
            plan_path(workers, process.pid).write_text(json.dumps({"workflow": [process.pid, None]}))
        plan_tracks(tmp_path, {})
        assert sorted(path.name for path in workers.glob("plan-*.json")) == sorted(
            [plan_path(workers, alive.pid).name, plan_path(workers, os.getpid()).name])
    finally:
        alive.kill()
        alive.wait()
