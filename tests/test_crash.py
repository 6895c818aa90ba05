"""A crash changes no variant: Snakemake killed (kill -9) or interrupted (Ctrl-C) while it remakes animations,
then the README's rerun command, gives the same files as a run that was never interrupted; the model workers
exit within 10 s of the kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from aibeats.provenance import read_recipe

from workflow import copy_run, copy_workflow, file_hashes, planned_jobs, run_ok, snakemake

pytestmark = pytest.mark.slow
PROJECT = Path("results") / "demo"
# The scenario: img_3 deleted by the user (re-rolled to attempt 1) and a video setting edited (every animation
# and clip remade at its own attempt), so both kinds of regeneration are under way when the kill comes.
EDIT = {"video": {"motion_bucket_id": 60}}
ARGS = ["--configfile", "profiles/demo/demo-config.yaml", "edit.yaml"]


def prepare(workdir: Path) -> Path:
    (workdir / PROJECT / "images" / "img_3.png").unlink()
    (workdir / "edit.yaml").write_text(yaml.safe_dump(EDIT))
    return workdir


def hashes(workdir: Path) -> dict[str, str]:
    return file_hashes(workdir, ("music", "images", "animations", "clips"))


@pytest.fixture(scope="module")
def uninterrupted(demo_run, tmp_path_factory) -> dict[str, str]:
    workdir = prepare(copy_run(demo_run, tmp_path_factory.mktemp("uninterrupted") / "repo"))
    run_ok(workdir, *ARGS)
    return hashes(workdir)


def worker_pids(workdir: Path) -> list[int]:
    """Model workers running in this copy of the workflow (found by their working directory)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if (proc.name.isdigit() and b"aibeats.workers" in (proc / "cmdline").read_bytes()
                    and os.readlink(proc / "cwd") == str(workdir)):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


def start_snakemake(workdir: Path, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with log.open("w") as output:
        # A session of its own, like a terminal's foreground job, so that Ctrl-C can go to its whole group.
        # SIGINT as a terminal leaves it: a background pytest (`make test &`) runs with it ignored, and Snakemake
        # would inherit that.
        return subprocess.Popen([sys.executable, "-m", "snakemake", "--profile", "profiles/demo", *ARGS],
                                cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT,
                                start_new_session=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_until(condition, timeout: float, what: str) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)
    return time.monotonic() - started


@pytest.mark.parametrize("how", ["kill -9", "Ctrl-C"])
def test_a_crash_while_animating_changes_no_variant(demo_run, uninterrupted, tmp_path, how):
    workdir = prepare(copy_run(demo_run, tmp_path / "repo"))
    log = tmp_path / "snakemake.log"
    process = start_snakemake(workdir, log)
    try:
        # Well into the animation stage: an animation job has started and its worker is up.
        wait_until(lambda: "rule animate_image:" in log.read_text() and worker_pids(workdir), 300,
                   "an animation job and its worker")
        time.sleep(1)
        if how == "kill -9":
            os.kill(process.pid, signal.SIGKILL)
        else:
            os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert "Finished jobid: 0" not in log.read_text(), "the run ended before the kill: nothing was tested"
    waited = wait_until(lambda: not worker_pids(workdir), 10, "the workers to exit after the kill")
    print(f"{how}: workers gone {waited:.1f} s after the kill")

    # The README's rerun command after a crash.
    run_ok(workdir, "--unlock", *ARGS)
    run_ok(workdir, *ARGS)
    assert hashes(workdir) == uninterrupted
    assert read_recipe(workdir / PROJECT / "images" / "img_3.png")["attempt"] == 1
    assert read_recipe(workdir / PROJECT / "animations" / "anim_3.mp4")["attempt"] == 0
    assert planned_jobs(workdir, *ARGS) == set()


def test_unlock_is_refused_while_the_run_that_holds_the_lock_is_going(tmp_path):
    """The README's answer to "Directory cannot be locked" is --unlock, for a run that crashed; a run still
    going (its plan names a live Snakemake) is named instead, with how to stop it."""
    workdir = copy_workflow(tmp_path / "repo")
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        workers = workdir / PROJECT / ".workers"
        workers.mkdir(parents=True)
        (workers / f"plan-{running.pid}.json").write_text(json.dumps({"workflow": [running.pid, None],
                                                                      "written": time.time()}))
        unlock = snakemake(workdir, "--configfile", "profiles/demo/demo-config.yaml", "--unlock", timeout=120)
        assert unlock.returncode != 0
        assert (f"ai-beats: Snakemake process {running.pid} is running this project (its jobs started at "
                in unlock.stderr)
        assert f"--unlock would let two runs write the same files. Wait for it to end, or stop it (Ctrl-C in its " \
               f"terminal, or kill {running.pid})" in unlock.stderr
        dry = snakemake(workdir, "--configfile", "profiles/demo/demo-config.yaml", "--dry-run", timeout=120)
        assert dry.returncode == 0 and "do not --unlock a running run's lock" in dry.stderr
    finally:
        running.kill()
        running.wait()
    unlock = snakemake(workdir, "--configfile", "profiles/demo/demo-config.yaml", "--unlock", timeout=120)
    assert unlock.returncode == 0 and "Unlocked working directory" in unlock.stderr + unlock.stdout
