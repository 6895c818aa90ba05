"""Warm model workers on the tiny MusicGen: one load for many items, the same files as in-process, recovery
from dead, stale and stuck workers, refusal of what they must not serve, exit with their workflow, and a model
that cannot load failing the jobs of a run at once."""

import fcntl
import importlib.machinery
import importlib.util
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from multiprocessing.connection import AuthenticationError, Client, Listener
from pathlib import Path

import numpy as np
import pytest

from aibeats import devices
from aibeats.audio import read_wav
from aibeats.devices import resolve_device
from aibeats.errors import MediaError
from aibeats.generate import generate
from aibeats.model_errors import ModelError
from aibeats.recipes import TrackExtRecipe, TrackRecipe
from aibeats.workers import Worker, WorkerError, request_item, stop_workers
from aibeats.workers.identity import key_path
from aibeats.workers.locks import hold_device
from aibeats.workers.server import _write_key

REPO = Path(__file__).resolve().parent.parent
SETTINGS = {"enabled": True, "idle_timeout": 60, "start_timeout": 120, "models_fit_together": False}


@pytest.fixture(autouse=True)
def job_environment(tmp_path, monkeypatch):
    """Clients run in the project's workdir, as jobs do; the workers they start serve pytest's process, so
    they exit within seconds of the session's end."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AIBEATS_WORKFLOW_PID", str(os.getpid()))


@pytest.fixture
def tiny_musicgen_id(tiny_musicgen_dir) -> str:
    return str(tiny_musicgen_dir)


def track_recipe(model_id: str, seed: int) -> TrackRecipe:
    return TrackRecipe("lo-fi", model_id, initial_music_tokens=53, seed=seed, attempt=0)


def job_request(project: Path, output: str, recipe: TrackRecipe | TrackExtRecipe, inputs: dict) -> dict:
    """What a job in the project's workdir sends for an output."""
    stage = "music" if isinstance(recipe, TrackRecipe) else "music_continuation"
    return {"stage": stage, "recipe": recipe.as_params(), "inputs": inputs, "output": str(project / output),
            "history": str(project / "history"), "workdir": str(project)}


def request(project: Path, model_id: str, output: str, seed: int = 1, settings: dict = SETTINGS) -> str:
    """Have the project's worker make a track."""
    body = job_request(project, output, track_recipe(model_id, seed), {})
    return request_item("music", model_id, "cpu", body, project / ".workers", settings)


def request_extension(project: Path, model_id: str, output: str, track: str, music_duration: float = 2) -> str:
    """Have the project's worker extend a track to music_duration seconds."""
    recipe = TrackExtRecipe("lo-fi", model_id, music_duration, max_continuation_duration=1, prompt_music_duration=0.5,
                            seed=1, attempt=0)
    body = job_request(project, output, recipe, {"track": track})
    return request_item("music", model_id, "cpu", body, project / ".workers", SETTINGS)


def worker_path(project: Path, model_id: str) -> Path:
    return Worker("music", model_id, "cpu", project / ".workers").address


def worker_log(project: Path) -> str:
    return next((project / "logs" / "workers").glob("*.log")).read_text()


def started_workers(project: Path) -> list[int]:
    """The pids of the workers a project's log shows starting."""
    return [int(line.split()[2].rstrip(":")) for line in worker_log(project).splitlines()
            if line.startswith("worker pid ")]


def process_gone(pid: int) -> bool:
    """No such process, or one that has exited and waits only for its parent to collect it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] == "Z"


def wait_until(condition, timeout: float) -> float:
    """Seconds until condition() held; fails the test after timeout seconds."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"still waiting after {timeout} s"
        time.sleep(0.1)
    return time.monotonic() - started


def test_one_worker_makes_many_items_identical_to_in_process(tmp_path, tiny_musicgen_id):
    log = Path(request(tmp_path, tiny_musicgen_id, "a.wav", seed=1))
    request(tmp_path, tiny_musicgen_id, "b.wav", seed=2)
    lines = log.read_text().splitlines()
    assert len([line for line in lines if "model loaded" in line]) == 1
    assert len([line for line in lines if line.endswith(" s ok")]) == 2

    in_process = tmp_path / "in_process"
    generate("music", track_recipe(tiny_musicgen_id, 1), {}, in_process / "a.wav", in_process / "history",
             device="cpu", workers={**SETTINGS, "enabled": False}, workers_dir=in_process / ".workers")
    assert (tmp_path / "a.wav").read_bytes() == (in_process / "a.wav").read_bytes()
    assert not np.array_equal(read_wav(tmp_path / "a.wav")[0], read_wav(tmp_path / "b.wav")[0])

    # a bad input file is reported as such, naming it, and the worker goes on serving
    (tmp_path / "bad.wav").write_bytes(b"not a wav file at all")
    with pytest.raises(MediaError, match="bad.wav"):
        request_extension(tmp_path, tiny_musicgen_id, "c.wav", "bad.wav")
    request_extension(tmp_path, tiny_musicgen_id, "c.wav", "a.wav")
    assert len(read_wav(tmp_path / "c.wav")[0]) == 2 * 32000

    assert stop_workers(tmp_path / ".workers") == 1
    assert not worker_path(tmp_path, tiny_musicgen_id).exists()
    assert not key_path(worker_path(tmp_path, tiny_musicgen_id)).exists()


def test_a_thin_client_job_on_auto_uses_the_cpu_worker_without_importing_torch(tmp_path, tiny_musicgen_id):
    request(tmp_path, tiny_musicgen_id, "a.wav")
    job = (f"import sys; from aibeats.generate import generate; from aibeats.recipes import TrackRecipe; "
           f"recipe = TrackRecipe('lo-fi', {tiny_musicgen_id!r}, 53, seed=2, attempt=0); "
           f"generate('music', recipe, {{}}, 'b.wav', 'history', "
           f"device='auto', workers={SETTINGS!r}, workers_dir='.workers'); "
           # what else a job does: its key in the store of variants
           "from aibeats.store import store_key; from aibeats.versions import library_versions; "
           "store_key('music', recipe.as_params(), {}, library_versions()); "
           "print([m for m in ('torch', 'transformers', 'diffusers', 'huggingface_hub', 'numpy', 'scipy', 'PIL') "
           "if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", job], cwd=tmp_path, capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.splitlines()[-1] == "[]"
    assert (tmp_path / "b.wav").exists()
    # auto resolves to the CPU here: the same worker served both jobs
    assert len(started_workers(tmp_path)) == 1
    assert worker_log(tmp_path).count(" s ok") == 2
    stop_workers(tmp_path / ".workers")


def test_a_worker_refuses_strangers_and_other_workdirs_and_goes_on_serving(tmp_path, tiny_musicgen_id):
    request(tmp_path, tiny_musicgen_id, "a.wav")
    path = worker_path(tmp_path, tiny_musicgen_id)
    assert (path.stat().st_mode & 0o777, key_path(path).stat().st_mode & 0o777) == (0o600, 0o600)

    with pytest.raises(AuthenticationError):
        Client(str(path), family="AF_UNIX", authkey=b"not the key")

    # the old protocol's request: a JSON line on the bare socket
    body = {"op": "make", **job_request(tmp_path, "stranger.wav", track_recipe(tiny_musicgen_id, 1), {})}
    with socket.socket(socket.AF_UNIX) as stranger, suppress(ConnectionResetError):
        stranger.settimeout(10)
        stranger.connect(str(path))
        stranger.sendall(json.dumps(body).encode() + b"\n")
        while stranger.recv(65536):
            pass  # the key's challenge, then the worker hangs up (on the rest of the request, unread)

    other = tmp_path / "other"
    other.mkdir()
    body = job_request(tmp_path, "elsewhere.wav", track_recipe(tiny_musicgen_id, 1), {})
    refusal = f"serves the workflow in {tmp_path}, and this job runs in {other}"
    with pytest.raises(WorkerError, match=re.escape(refusal)):
        request_item("music", tiny_musicgen_id, "cpu", {**body, "workdir": str(other)}, tmp_path / ".workers",
                     SETTINGS)

    request(tmp_path, tiny_musicgen_id, "b.wav")
    assert (tmp_path / "b.wav").exists()
    assert not (tmp_path / "stranger.wav").exists() and not (tmp_path / "elsewhere.wav").exists()
    assert worker_log(tmp_path).count("refused a connection") == 2
    assert len(started_workers(tmp_path)) == 1
    stop_workers(tmp_path / ".workers")


def test_a_stale_socket_is_replaced_and_an_idle_worker_exits(tmp_path, tiny_musicgen_id):
    path = worker_path(tmp_path, tiny_musicgen_id)
    path.parent.mkdir(parents=True)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: like a worker killed with SIGKILL
    key_path(path).write_bytes(b"the dead worker's key")
    request(tmp_path, tiny_musicgen_id, "a.wav", settings={**SETTINGS, "idle_timeout": 1})
    assert (tmp_path / "a.wav").exists()
    wait_until(lambda: not path.exists(), timeout=30)
    assert not key_path(path).exists()
    assert "idle for 1.0 s after 1 requests: exiting" in worker_log(tmp_path)


def fake_dying_worker(path: Path, deaths: int) -> threading.Thread:
    """A worker that takes `deaths` requests and closes each without an answer, then disappears."""
    path.parent.mkdir(parents=True, exist_ok=True)
    listener = Listener(str(path), family="AF_UNIX", authkey=_write_key(path))

    def serve():
        for death in range(1, deaths + 1):
            connection = listener.accept()
            connection.recv()
            if death == deaths:
                listener.close()  # gone (its socket removed) before the client sees the death, as a crashed process is
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


def test_a_worker_exits_within_seconds_of_its_workflow_being_killed_even_mid_request(tmp_path, tiny_musicgen_id,
                                                                                       monkeypatch):
    snakemake = subprocess.Popen(["sleep", "600"])  # stands in for the workflow's Snakemake process
    monkeypatch.setenv("AIBEATS_WORKFLOW_PID", str(snakemake.pid))
    try:
        request(tmp_path, tiny_musicgen_id, "a.wav")
        [worker] = started_workers(tmp_path)
        errors = []

        def long_request():
            try:  # some 30 s of continuation windows on 2 cores
                request_extension(tmp_path, tiny_musicgen_id, "long.wav", "a.wav", music_duration=300)
            except WorkerError as error:
                errors.append(error)

        client = threading.Thread(target=long_request)
        client.start()
        time.sleep(1.5)
        snakemake.kill()  # SIGKILL: no hooks run; and not yet collected, so a zombie for now
        assert wait_until(lambda: process_gone(worker), timeout=10) < 10
        path = worker_path(tmp_path, tiny_musicgen_id)
        assert not path.exists() and not key_path(path).exists()
        # the job's client does not start a worker for a workflow that is gone
        client.join(timeout=10)
        assert [str(error) for error in errors] == [
            f"the workflow (process {snakemake.pid}) has ended: its music worker for {tiny_musicgen_id} is gone, "
            "and no new one is started"]
        assert not (tmp_path / "long.wav").exists()
        started = time.monotonic()
        with pytest.raises(WorkerError, match="has ended"):
            request(tmp_path, tiny_musicgen_id, "b.wav")
        assert time.monotonic() - started < 1
        assert started_workers(tmp_path) == [worker]
        assert f"the workflow (process {snakemake.pid}) has ended after 1 requests: exiting" in worker_log(tmp_path)
    finally:
        snakemake.kill()
        snakemake.wait()


def test_a_model_that_cannot_load_fails_every_job_of_the_run_at_once(tmp_path, monkeypatch):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    # a hub that refuses connections: offline, whatever the network of the machine running the tests
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{closed.getsockname()[1]}")
    closed.close()
    started = time.monotonic()
    messages = []
    for output in ("a.wav", "b.wav", "c.wav"):
        with pytest.raises(ModelError) as failure:
            request(tmp_path, "nobody-here/no-such-model", output)
        messages.append(str(failure.value))
    assert time.monotonic() - started < 20
    assert len(set(messages)) == 1
    [message] = set(messages)
    assert "\n" not in message
    assert message.startswith("cannot load the music model 'nobody-here/no-such-model' (config key music.model_id): "
                              "the Hugging Face hub cannot be reached")
    assert len(started_workers(tmp_path)) == 1
    assert not worker_path(tmp_path, "nobody-here/no-such-model").exists()

    # a later run tries again: whatever failed (the network, a login) may be fixed by now
    later_run = subprocess.Popen(["sleep", "600"])
    try:
        monkeypatch.setenv("AIBEATS_WORKFLOW_PID", str(later_run.pid))
        with pytest.raises(ModelError, match="cannot be reached"):
            request(tmp_path, "nobody-here/no-such-model", "a.wav")
        assert len(started_workers(tmp_path)) == 2
    finally:
        later_run.kill()
        later_run.wait()


def test_a_missing_model_folder_fails_the_job_in_one_line(tmp_path):
    model_id = str(tmp_path / "no-such-model")
    cause = f"'{model_id}' (config key music.model_id): there is no such folder"
    with pytest.raises(ModelError, match=re.escape(cause)):
        request(tmp_path, model_id, "a.wav")


def test_a_starting_worker_asks_the_gpu_holder_to_exit_and_waits_for_it(tmp_path):
    """Exclusive devices: the holder gets a shutdown request, and the device is taken once it lets go."""
    holder_socket = tmp_path / "holder.sock"
    listener = Listener(str(holder_socket), family="AF_UNIX", authkey=_write_key(holder_socket))
    lock_path = tmp_path / f"device-cuda:0-{socket.gethostname()}.lock"
    holder_lock = open(lock_path, "w")  # noqa: SIM115 - released by the fake holder
    fcntl.flock(holder_lock, fcntl.LOCK_EX)
    holder_lock.write(str(holder_socket))
    holder_lock.flush()
    asked = []

    def holder():
        with listener.accept() as connection:
            asked.append(connection.recv())
            connection.send({"ok": True})
        time.sleep(0.3)  # finishing up before exiting
        holder_lock.close()

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    started = time.monotonic()
    lock = hold_device(tmp_path, "cuda:0")
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
    wait_until(lambda: not worker_path(tmp_path, tiny_musicgen_id).exists(), timeout=30)
    assert "SLURM job 4242 has ended after 1 requests: exiting" in worker_log(tmp_path)


# ------------------------------------------------------------------------------------------- device names


@pytest.fixture
def one_nvidia_gpu(tmp_path, monkeypatch):
    """A machine with a CUDA build of torch and one NVIDIA GPU, as /proc/driver/nvidia shows it."""
    (tmp_path / "gpus" / "0000:01:00.0").mkdir(parents=True)
    monkeypatch.setattr(devices, "NVIDIA_GPUS", tmp_path / "gpus")
    monkeypatch.setattr(devices, "NVIDIA_DEVICE", tmp_path / "nvidia0")
    monkeypatch.setattr(devices, "_torch_gpu_platform", lambda: "cuda")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)


def test_auto_cuda_and_cuda0_name_one_worker_on_a_one_gpu_machine(one_nvidia_gpu, tmp_path):
    def name(device: str) -> str:
        return Worker("music", "m", resolve_device(device), tmp_path).name

    assert name("auto") == name("cuda") == name("cuda:0")
    assert len({name("cuda:0"), name("cuda:1"), name("cpu")}) == 3


def test_auto_takes_a_visible_gpu_only(one_nvidia_gpu, monkeypatch):
    assert resolve_device("auto") == "cuda:0"
    for hidden in ("", "-1"):
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", hidden)
        assert resolve_device("auto") == "cpu"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")
    assert resolve_device("auto") == "cuda:0"
    (devices.NVIDIA_GPUS / "0000:01:00.0").rmdir()  # a driver without GPUs
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(devices, "_torch_gpu_platform", lambda: "hip")  # ROCm torch, which also says cuda
    monkeypatch.setattr(devices, "ROCM_DEVICE", devices.NVIDIA_GPUS)
    assert resolve_device("auto") == "cuda:0"
    monkeypatch.setattr(devices, "_torch_gpu_platform", lambda: None)  # a CPU-only torch
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    assert resolve_device("auto") == "mps"
    assert [resolve_device(device) for device in ("cpu", "mps", "cuda", "cuda:1")] == ["cpu", "mps", "cuda:0", "cuda:1"]


@pytest.mark.parametrize(("version_py", "gpu_platform"), [
    ("cuda: Optional[str] = None\nhip: Optional[str] = None\n", None),
    ("cuda: Optional[str] = '12.8'\nhip: Optional[str] = None\n", "cuda"),
    ("cuda = None\nhip = '6.4.43482'\n", "hip"),
])
def test_the_gpu_platform_of_torch_is_read_from_its_version_file(tmp_path, monkeypatch, version_py, gpu_platform):
    package = tmp_path / "torch"
    package.mkdir()
    (package / "version.py").write_text(f"from typing import Optional\n__version__ = '2.13.0'\n{version_py}")
    find_spec = importlib.util.find_spec
    fake = importlib.machinery.ModuleSpec("torch", None, is_package=True)
    fake.submodule_search_locations = [str(package)]
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: fake if name == "torch" else
                        find_spec(name, *args))
    assert devices._torch_gpu_platform() == gpu_platform


def test_resolving_the_device_does_not_import_torch():
    code = ("import sys; from aibeats.devices import resolve_device; resolve_device('auto'); "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert result.stdout.strip() == "False"


def test_concurrent_jobs_in_a_deep_project_folder_start_one_worker(tmp_path, tiny_musicgen_id, monkeypatch):
    project = tmp_path / ("deep" * 25)
    project.mkdir()
    monkeypatch.chdir(project)
    path = worker_path(project, tiny_musicgen_id)
    assert path.parent == Path(tempfile.gettempdir())  # the socket's path would be too long for AF_UNIX
    jobs = [threading.Thread(target=request, args=(project, tiny_musicgen_id, f"{n}.wav", n)) for n in range(3)]
    for job in jobs:
        job.start()
    for job in jobs:
        job.join()
    assert all((project / f"{n}.wav").exists() for n in range(3))
    assert len(started_workers(project)) == 1
    assert key_path(path).exists()
    assert stop_workers(project / ".workers") == 1
    assert not path.exists() and not key_path(path).exists()
