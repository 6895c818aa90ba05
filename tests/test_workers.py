"""Warm model workers on the tiny MusicGen: one load for many items, the same files as in-process, and
recovery from dead, stale and stuck workers."""

import fcntl
import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from aibeats import workers
from aibeats.audio import read_wav
from aibeats.errors import MediaError
from aibeats.generate import generate
from aibeats.workers import WorkerError, request_item, socket_path, stop_workers


@pytest.fixture
def tiny_musicgen_id(tiny_musicgen_dir) -> str:
    return str(tiny_musicgen_dir)


SETTINGS = {"enabled": True, "idle_timeout": 60, "start_timeout": 120, "models_fit_together": False}


def track_recipe(model_id: str, seed: int) -> dict:
    return {"prompt": "lo-fi", "model_id": model_id, "initial_music_tokens": 53, "seed": seed, "attempt": 0}


def request(project: Path, model_id: str, output: str, seed: int = 1, stage: str = "music", inputs=None,
            settings=SETTINGS) -> str:
    recipe = track_recipe(model_id, seed)
    if stage == "music_continuation":
        recipe = {**recipe, "music_duration": 2, "max_continuation_duration": 1, "prompt_music_duration": 0.5}
    body = {"stage": stage, "recipe": recipe, "inputs": inputs or {}, "output": str(project / output),
            "history": str(project / "history"), "workdir": str(project)}
    return request_item("music", model_id, "cpu", body, project / ".workers", settings)


def worker_path(project: Path, model_id: str) -> Path:
    return socket_path(project / ".workers", workers._worker_name("music", model_id, "cpu"))


def test_one_worker_makes_many_items_identical_to_in_process(tmp_path, tiny_musicgen_id):
    log = Path(request(tmp_path, tiny_musicgen_id, "a.wav", seed=1))
    request(tmp_path, tiny_musicgen_id, "b.wav", seed=2)
    lines = log.read_text().splitlines()
    assert len([line for line in lines if "model loaded" in line]) == 1
    assert len([line for line in lines if line.endswith(" s ok")]) == 2

    in_process = tmp_path / "in_process"
    generate("music", track_recipe(tiny_musicgen_id, 1), {}, in_process / "a.wav", in_process / "history", "cpu",
             {**SETTINGS, "enabled": False}, in_process / ".workers")
    assert (tmp_path / "a.wav").read_bytes() == (in_process / "a.wav").read_bytes()
    assert not np.array_equal(read_wav(tmp_path / "a.wav")[0], read_wav(tmp_path / "b.wav")[0])

    # a bad input file is reported as such, naming it, and the worker goes on serving
    (tmp_path / "bad.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(MediaError, match="bad.wav"):
        request(tmp_path, tiny_musicgen_id, "c.wav", stage="music_continuation", inputs={"track": "bad.wav"})
    request(tmp_path, tiny_musicgen_id, "c.wav", stage="music_continuation", inputs={"track": "a.wav"})
    assert len(read_wav(tmp_path / "c.wav")[0]) == 2 * 32000

    assert stop_workers(tmp_path / ".workers") == 1
    assert not worker_path(tmp_path, tiny_musicgen_id).exists()


def test_a_stale_socket_is_replaced_and_an_idle_worker_exits(tmp_path, tiny_musicgen_id):
    path = worker_path(tmp_path, tiny_musicgen_id)
    path.parent.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: like a worker killed with SIGKILL
    request(tmp_path, tiny_musicgen_id, "a.wav", settings={**SETTINGS, "idle_timeout": 1})
    assert (tmp_path / "a.wav").exists()
    deadline = time.monotonic() + 30
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not path.exists()
    assert "idle for 1.0 s after 1 requests: exiting" in next((tmp_path / "logs" / "workers").glob("*.log")).read_text()


def fake_dying_worker(path: Path, deaths: int) -> threading.Thread:
    """A worker that takes `deaths` requests and closes each without an answer, then disappears."""
    listener = socket.socket(socket.AF_UNIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    listener.bind(str(path))
    listener.listen(8)

    def serve():
        for death in range(1, deaths + 1):
            connection, _ = listener.accept()
            connection.recv(65536)
            if death == deaths:
                # gone before the client sees the death, as a crashed process is
                listener.close()
                path.unlink()
            connection.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return thread


def test_a_worker_dying_mid_request_is_replaced_and_the_request_retried(tmp_path, tiny_musicgen_id, capfd):
    fake_dying_worker(worker_path(tmp_path, tiny_musicgen_id), deaths=1)
    request(tmp_path, tiny_musicgen_id, "a.wav")
    assert len(read_wav(tmp_path / "a.wav")[0]) == 32000
    assert "worker died while making" in capfd.readouterr().err
    stop_workers(tmp_path / ".workers")


def test_a_worker_dying_twice_fails_the_job_naming_the_log(tmp_path):
    fake_dying_worker(worker_path(tmp_path, "some/model"), deaths=2)
    with pytest.raises(WorkerError, match=r"died twice while making .*a\.wav; see .*logs/workers/music-.*\.log"):
        request(tmp_path, "some/model", "a.wav")


def test_a_worker_that_cannot_load_its_model_fails_the_job_naming_the_log(tmp_path):
    with pytest.raises(WorkerError, match=r"exited while loading its model .*; see .*\.log"):
        request(tmp_path, str(tmp_path / "no-such-model"), "a.wav")


def test_a_starting_worker_asks_the_gpu_holder_to_exit_and_waits_for_it(tmp_path):
    """Exclusive devices: the holder gets a shutdown request, and the device is taken once it lets go."""
    holder_socket = tmp_path / "holder.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(holder_socket))
    listener.listen(1)
    lock_path = tmp_path / f"device-cuda-{socket.gethostname()}.lock"
    holder_lock = open(lock_path, "w")  # noqa: SIM115 - released by the fake holder
    fcntl.flock(holder_lock, fcntl.LOCK_EX)
    holder_lock.write(str(holder_socket))
    holder_lock.flush()
    asked = []

    def holder():
        connection, _ = listener.accept()
        asked.append(workers._receive(connection))
        workers._send(connection, {"ok": True})
        connection.close()
        time.sleep(0.3)  # finishing up before exiting
        holder_lock.close()

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    started = time.monotonic()
    lock = workers._hold_device(tmp_path, "cuda")
    assert asked == [{"op": "shutdown"}]
    assert time.monotonic() - started >= 0.3
    lock.close()


def test_a_worker_inside_a_slurm_job_exits_when_the_job_has_ended(tmp_path, tiny_musicgen_id, monkeypatch):
    """Bundled jobs run without Snakemake's hooks: the worker itself notices that its allocation is over."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    squeue = bin_dir / "squeue"
    squeue.write_text('#!/bin/sh\n[ -e "$(dirname "$0")/ended" ] && echo COMPLETED || echo RUNNING\n')
    squeue.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    # an idle timeout of 8 s: the worker asks squeue every 2 s whether its job still runs
    request(tmp_path, tiny_musicgen_id, "a.wav", settings={**SETTINGS, "idle_timeout": 8})
    (bin_dir / "ended").touch()
    path = worker_path(tmp_path, tiny_musicgen_id)
    deadline = time.monotonic() + 30
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not path.exists()
    log = next((tmp_path / "logs" / "workers").glob("*.log")).read_text()
    assert "SLURM job 4242 has ended after 1 requests: exiting" in log
