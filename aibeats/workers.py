"""Warm model workers: load a model once, then make item after item for thin client jobs.

One file per job means one process per job; without workers each job pays for `import torch, diffusers` and
a model load, which dwarfs the generation itself. The first job that needs a model starts a worker for
(family, model id, device); the worker loads the model, listens on a Unix socket in the project folder and
serves requests one at a time through the same `aibeats.stages` makers a job uses in-process, so the files
are identical either way. Clients import neither torch nor the model libraries.

- A worker exits after `idle_timeout` seconds without a request, and when the workflow ends (the Snakefile's
  onsuccess/onerror handlers call stop_workers).
- A socket nobody answers on is stale (its worker died): the next client replaces the worker. A worker that
  dies in the middle of a request is replaced once and the request retried; a second death fails the job
  with a message naming the worker's log.
- On a GPU, only one worker holds the device at a time unless the config says the models fit together: a
  starting worker asks the holder to finish and waits for it to exit before loading its own model.
- Sockets and locks carry the host name, and the SLURM job id inside an allocation: on a cluster's shared
  filesystem each node, and each allocation on it, has its own workers. The jobs of a bundle share one
  worker, which exits once SLURM reports the job ended (Snakemake runs bundled jobs without its hooks).
"""

import argparse
import fcntl
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from contextlib import suppress
from pathlib import Path

from aibeats.errors import AiBeatsError, MediaError

# AF_UNIX paths are limited to 108 bytes on Linux (104 on macOS).
_MAX_SOCKET_PATH = 100
# How often a worker inside a SLURM job asks whether its job is still running.
SLURM_POLL_SECONDS = 30


class WorkerError(AiBeatsError):
    """A model worker could not start or died; the message names its log."""


def _worker_name(family: str, model_id: str, device: str) -> str:
    digest = hashlib.sha256(f"{family}\0{model_id}\0{device}".encode()).hexdigest()[:12]
    # Per SLURM job too: a worker uses the GPUs of the allocation it was started in, so two allocations on
    # one node must not share it.
    slurm_job = os.environ.get("SLURM_JOB_ID")
    return f"{family}-{digest}-{socket.gethostname()}" + (f"-slurm{slurm_job}" if slurm_job else "")


def socket_path(workers_dir: Path, name: str) -> Path:
    path = Path(workers_dir).absolute() / f"{name}.sock"
    if len(str(path).encode()) <= _MAX_SOCKET_PATH:
        return path
    # A deep project folder: keep the socket in the temp folder under a name derived from the long path.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"aibeats-{digest}.sock"


def _send(connection: socket.socket, message: dict) -> None:
    connection.sendall(json.dumps(message).encode() + b"\n")


def _receive(connection: socket.socket) -> dict | None:
    """One JSON line, or None when the peer closed the connection first (it died)."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = connection.recv(65536)
        if not chunk:
            return None
        data += chunk
    return json.loads(data)


def _connect(path: Path) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
    except OSError:
        connection.close()
        raise
    return connection


# ---------------------------------------------------------------------------------------------- worker side


def _hold_device(workers_dir: Path, device: str):
    """Take this host's lock on a GPU, first asking the worker that holds it to finish and exit."""
    lock_path = Path(workers_dir) / f"device-{device}-{socket.gethostname()}.lock"
    lock = open(lock_path, "a+")  # noqa: SIM115 - held for the worker's whole life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip()
        if holder:
            with suppress(OSError), _connect(Path(holder)) as connection:
                _send(connection, {"op": "shutdown"})
                _receive(connection)
        fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def serve(family: str, model_id: str, device: str, path: Path, workers_dir: Path, idle_timeout: float,
          exclusive_device: bool) -> None:
    from aibeats.devices import resolve_device
    from aibeats.stages import MAKERS, load_model

    resolved = resolve_device(device)
    device_lock = None
    if exclusive_device and resolved != "cpu":
        device_lock = _hold_device(workers_dir, resolved)
    model = load_model(family, model_id, resolved)
    print(f"worker {family} {model_id} on {resolved}: model loaded, listening on {path}", flush=True)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with suppress(FileNotFoundError):
        path.unlink()
    listener.bind(str(path))
    bound_inode = path.stat().st_ino
    listener.listen(64)
    # Inside a SLURM job the worker also watches the job: Snakemake runs a bundle's jobs without its
    # onsuccess/onerror hooks, and a cluster that does not track processes by cgroup would let the worker
    # outlive the allocation, holding the GPU.
    slurm_job = os.environ.get("SLURM_JOB_ID")
    listener.settimeout(min(idle_timeout / 4, SLURM_POLL_SECONDS) if slurm_job else idle_timeout)
    if device_lock is not None:
        device_lock.seek(0)
        device_lock.truncate()
        device_lock.write(str(path))
        device_lock.flush()
    served = 0
    idle_since = time.monotonic()
    try:
        while True:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                if slurm_job and slurm_job_ended(slurm_job):
                    print(f"SLURM job {slurm_job} has ended after {served} requests: exiting", flush=True)
                    return
                if time.monotonic() - idle_since >= idle_timeout:
                    print(f"idle for {idle_timeout} s after {served} requests: exiting", flush=True)
                    return
                continue
            with connection:
                connection.settimeout(None)
                request = _receive(connection)
                if request is None:
                    continue
                if request["op"] == "shutdown":
                    # Gone from the socket before answering: whoever asked may start a replacement at once.
                    _close_listener(listener, path, bound_inode)
                    _send(connection, {"ok": True})
                    print(f"asked to stop after {served} requests", flush=True)
                    return
                started = time.perf_counter()
                try:
                    os.chdir(request["workdir"])
                    MAKERS[request["stage"]](model, request["recipe"], request["inputs"], Path(request["output"]),
                                             Path(request["history"]))
                    reply = {"ok": True}
                except AiBeatsError as error:
                    reply = {"error": str(error), "media": isinstance(error, MediaError)}
                except Exception as error:  # noqa: BLE001 - reported to the client, the worker goes on
                    traceback.print_exc()
                    reply = {"error": f"{type(error).__name__}: {error}", "media": False}
                served += 1
                print(f"{request['stage']} {request['output']}: {time.perf_counter() - started:.2f} s "
                      f"{'ok' if 'ok' in reply else 'failed: ' + reply['error']}", flush=True)
                with suppress(OSError):
                    _send(connection, reply)
                idle_since = time.monotonic()
    finally:
        _close_listener(listener, path, bound_inode)


def slurm_job_ended(job_id: str) -> bool:
    """Whether SLURM says the job is over; when squeue cannot tell, the idle timeout still ends the worker."""
    try:
        result = subprocess.run(["squeue", "--noheader", "--jobs", job_id, "--format", "%T"], capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    if result.returncode != 0:
        # A job that ended long enough ago is unknown to squeue.
        return "Invalid job id" in result.stderr
    return result.stdout.strip() not in ("RUNNING", "COMPLETING", "SUSPENDED")


def _close_listener(listener: socket.socket, path: Path, bound_inode: int) -> None:
    if listener.fileno() == -1:
        return
    # Remove the socket file only if it is still ours (a replacement worker may have bound the path).
    with suppress(OSError):
        if path.stat().st_ino == bound_inode:
            path.unlink()
    listener.close()


# ---------------------------------------------------------------------------------------------- client side


def _start_worker(family: str, model_id: str, device: str, path: Path, workers_dir: Path, log: Path,
                  settings: dict) -> subprocess.Popen:
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "aibeats.workers", "--family", family, "--model-id", model_id,
               "--device", device, "--socket", str(path), "--workers-dir", str(workers_dir),
               "--idle-timeout", str(settings["idle_timeout"])]
    if not settings["models_fit_together"]:
        command.append("--exclusive-device")
    with open(log, "a") as log_file:
        # A session of its own: the worker outlives the job that started it and Snakemake's signals to it.
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=os.getcwd(), env=os.environ.copy())


def _connection_to_worker(family: str, model_id: str, device: str, workers_dir: Path, log: Path,
                          settings: dict) -> socket.socket:
    """Connect to the running worker, or start one (only one client starts it; the others wait for it)."""
    workers_dir.mkdir(parents=True, exist_ok=True)
    name = _worker_name(family, model_id, device)
    path = socket_path(workers_dir, name)
    with suppress(OSError):
        return _connect(path)
    with open(workers_dir / f"{name}.start.lock", "w") as start_lock:
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        with suppress(OSError):
            return _connect(path)
        worker = _start_worker(family, model_id, device, path, workers_dir, log, settings)
        deadline = time.monotonic() + settings["start_timeout"]
        while True:
            with suppress(OSError):
                return _connect(path)
            if worker.poll() is not None:
                raise WorkerError(f"the {family} worker for {model_id} exited while loading its model "
                                  f"(exit code {worker.returncode}); see {log}")
            if time.monotonic() > deadline:
                worker.kill()
                raise WorkerError(f"the {family} worker for {model_id} did not load its model within "
                                  f"{settings['start_timeout']} s (workers.start_timeout); see {log}")
            time.sleep(0.05)


def request_item(family: str, model_id: str, device: str, request: dict, workers_dir: Path, settings: dict) -> str:
    """Have the worker for a model make one item; returns the worker's log path (for the job's log)."""
    workers_dir = Path(workers_dir)
    log = workers_dir.parent / "logs" / "workers" / f"{_worker_name(family, model_id, device)}.log"
    for attempt in (1, 2):
        with _connection_to_worker(family, model_id, device, workers_dir, log, settings) as connection:
            _send(connection, {"op": "make", **request})
            reply = _receive(connection)
        if reply is None:
            if attempt == 1:
                print(f"the {family} worker died while making {request['output']}; retrying once with a new "
                      f"worker (its log: {log})", file=sys.stderr, flush=True)
                continue
            raise WorkerError(f"the {family} worker died twice while making {request['output']}; see {log}")
        if "ok" in reply:
            return str(log)
        if reply["media"]:
            raise MediaError(reply["error"])
        raise WorkerError(f"the {family} worker failed to make {request['output']}: {reply['error']}; see {log}")
    raise AssertionError("unreachable")


def stop_workers(workers_dir: Path) -> int:
    """Ask every worker of this host in a project to exit; returns how many answered."""
    stopped = 0
    host = socket.gethostname()
    locks = [*Path(workers_dir).glob(f"*-{host}.start.lock"), *Path(workers_dir).glob(f"*-{host}-slurm*.start.lock")]
    for lock in locks:
        path = socket_path(workers_dir, lock.name.removesuffix(".start.lock"))
        with suppress(OSError), _connect(path) as connection:
            connection.settimeout(5)
            _send(connection, {"op": "shutdown"})
            if _receive(connection) is not None:
                stopped += 1
    return stopped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a warm model worker (started by the jobs themselves)")
    parser.add_argument("--family", required=True)
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--device", required=True)
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--workers-dir", required=True, type=Path)
    parser.add_argument("--idle-timeout", required=True, type=float)
    parser.add_argument("--exclusive-device", action="store_true")
    args = parser.parse_args(argv)
    serve(args.family, args.model_id, args.device, args.socket, args.workers_dir, args.idle_timeout,
          args.exclusive_device)


if __name__ == "__main__":
    main()
