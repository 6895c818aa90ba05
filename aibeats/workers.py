"""Warm model workers: load a model once, then make item after item for thin client jobs.

One file per job means one process per job; without workers each job pays for `import torch, diffusers` and
a model load, which dwarfs the generation itself. The first job that needs a model starts a worker for
(family, model id, device); the worker loads the model, listens on a Unix socket and serves requests one at a
time through the same `aibeats.stages` makers a job uses in-process, so the files are identical either way.
Clients import neither torch nor the model libraries; they resolve the device themselves (aibeats.devices),
so that `auto`, `cuda` and `cuda:0` name the same worker.

Requests travel over multiprocessing.connection. Each worker draws a random key and writes it, readable by
its user only, beside its socket; a connection that cannot prove it knows the key is refused before any
request on it is read. Per worker `<name>`, the workers folder holds (the socket and the files beside it go to the
temp folder when the project's path is too long for a socket address):

- `<name>.sock` and `<name>.key`: the socket and its key, removed by the worker when it exits;
- `<name>.failed`: left by a worker that could not load its model: the one-line cause, and the workflow run
  it was started for. The other jobs of that run fail with that line at once instead of each starting a
  worker that fails the same way; the next run tries again;
- `<name>.start.lock`: held by the client that starts the worker, so that only one does;
- `device-<device>-<host>.lock`: on a GPU, held by the worker that uses it (see below).

A worker runs in the workdir of the client that started it, and refuses requests from another workdir: their
paths are relative to the workdir, and stay so, since they end up in the files' recipes.

- A worker exits after `idle_timeout` seconds without a request; when the workflow ends (the Snakefile's
  onsuccess/onerror handlers call stop_workers); and within seconds, even in the middle of a request, once
  the workflow's Snakemake process is gone (killed, say). Each request names that process (the job's
  AIBEATS_WORKFLOW_PID, set by the Snakefile, else the job's parent) with its start time, so that a later
  process given the same pid does not pass for it.
- A socket nobody answers on is stale (its worker died): the next client replaces the worker. A worker that
  dies in the middle of a request is replaced once and the request retried; a second death fails the job
  with a message naming the worker's log. Nothing is started for a workflow that is gone.
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
import queue
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import AuthenticationError, Client, Connection, Listener
from pathlib import Path
from typing import NoReturn

from aibeats.atomic import atomic_path
from aibeats.devices import resolve_device, use_threads
from aibeats.errors import AiBeatsError, MediaError
from aibeats.look_ahead import LookAhead
from aibeats.model_errors import ModelError, load_model_or_explain

# AF_UNIX paths are limited to 108 bytes on Linux (104 on macOS).
_MAX_SOCKET_PATH = 100
# How often a worker inside a SLURM job asks whether its job is still running.
SLURM_POLL_SECONDS = 30
# How often a worker looks whether its workflow's process still runs (and whether it has been idle too long).
WATCH_SECONDS = 1
# What connecting meets when no worker with the key on disk listens: no socket or key file, a socket nobody
# listens on, a worker that died during the handshake, or one that replaced its key in the meantime.
_NO_WORKER = (OSError, EOFError, AuthenticationError)
# The Snakemake process of a run, as its Snakefile announces it (Workflow.announce).
_WORKFLOW_PID_VARIABLE = "AIBEATS_WORKFLOW_PID"


class WorkerError(AiBeatsError):
    """A model worker could not start or died; the message names its log."""


@dataclass(frozen=True)
class Workflow:
    """The Snakemake process of a workflow run; its start time tells it apart from a later process with its pid."""

    pid: int
    start: str | None

    @staticmethod
    def announce() -> None:
        """Called by the Snakefile in each Snakemake process: its jobs, and the workers they start, inherit it."""
        os.environ[_WORKFLOW_PID_VARIABLE] = str(os.getpid())

    @classmethod
    def of_this_job(cls) -> "Workflow":
        # A job run some other way than by Snakemake counts its parent as its workflow.
        pid = int(os.environ.get(_WORKFLOW_PID_VARIABLE) or os.getppid())
        stat = _process_stat(pid)
        return cls(pid, stat[1] if stat else None)

    def alive(self) -> bool:
        stat = _process_stat(self.pid)
        if stat is not None:
            state, start = stat
            # A zombie has ended: only its parent has not collected its exit status yet.
            return state not in ("Z", "X") and self.start in (None, start)
        if Path("/proc/self/stat").exists():
            return False
        # No /proc (macOS): whether the pid exists, reused or not.
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def __str__(self) -> str:
        return f"process {self.pid}"


def _process_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks after boot) of a process, from /proc; None when it has no entry there."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields 3 onwards follow the command name, which is in parentheses and may hold spaces and parentheses.
    fields = stat.rpartition(")")[2].split()
    return fields[0], fields[19]


@dataclass(frozen=True)
class Worker:
    """Which worker: the model of a family on a device (resolved: one name per device), for a project's
    workers folder; where its socket and log are."""

    family: str
    model_id: str
    device: str
    workers_dir: Path
    # The model's precision (config `precision`): one loaded in fp16 cannot make an item asked for in bf16.
    precision: str = "auto"
    # How its pipeline is offloaded (config `offload`): the same files, but another worker's memory and speed.
    offload: str = "none"

    @property
    def name(self) -> str:
        # Named as before offload existed when there is none, so a worker of an older checkout is reused
        offloaded = f"\0{self.offload}" if self.offload != "none" else ""
        digest = hashlib.sha256(f"{self.family}\0{self.model_id}\0{self.device}\0{self.precision}{offloaded}"
                                .encode()).hexdigest()[:12]
        # Per SLURM job too: a worker uses the GPUs of the allocation it was started in, so two allocations on
        # one node must not share it.
        slurm_job = os.environ.get("SLURM_JOB_ID")
        return f"{self.family}-{digest}-{socket.gethostname()}" + (f"-slurm{slurm_job}" if slurm_job else "")

    @property
    def address(self) -> Path:
        """Its socket's path."""
        return _socket_path(self.workers_dir, self.name)

    @property
    def log(self) -> Path:
        return self.workers_dir.parent / "logs" / "workers" / f"{self.name}.log"


def _socket_path(workers_dir: Path, name: str) -> Path:
    path = Path(workers_dir).absolute() / f"{name}.sock"
    if len(str(path).encode()) <= _MAX_SOCKET_PATH:
        return path
    # A deep project folder: keep the socket in the temp folder under a name derived from the long path.
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"aibeats-{digest}.sock"


def key_path(path: Path) -> Path:
    return path.with_suffix(".key")


def failure_path(path: Path) -> Path:
    return path.with_suffix(".failed")


def _connect(path: Path) -> Connection:
    return Client(str(path), family="AF_UNIX", authkey=key_path(path).read_bytes())


def _ask_to_stop(path: Path) -> bool:
    """Ask the worker at path to exit; whether it answered (by then it no longer listens)."""
    try:
        with _connect(path) as connection:
            connection.send({"op": "shutdown"})
            connection.recv()
    except _NO_WORKER:
        return False
    return True


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
            _ask_to_stop(Path(holder))
        fcntl.flock(lock, fcntl.LOCK_EX)
    return lock


def _write_key(path: Path) -> bytes:
    """A new random key in the key file of the socket at path: created readable by this user only, then
    renamed into place, so that a client never reads a partial key."""
    key = secrets.token_bytes(32)
    final = key_path(path)
    temporary = final.with_name(f".{final.name}.tmp-{secrets.token_hex(6)}")
    descriptor = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
    os.replace(temporary, final)
    return key


def _same_folder(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _make(model, request: dict) -> dict:
    from aibeats.pipeline import STAGES
    from aibeats.stages import MAKERS
    from aibeats.store import Store, restore_item

    if not _same_folder(request["workdir"], os.getcwd()):
        return {"error": f"this worker serves the workflow in {os.getcwd()}, and this job runs in "
                         f"{request['workdir']}: workflows in two folders cannot share a project's workers at once; "
                         "run them one after the other", "media": False}
    try:
        stage, output, history = request["stage"], request["output"], request["history"]
        recipe = STAGES[stage].recipe.from_params(request["recipe"])
        # The job looked in the store before asking; this worker may have made the item ahead meanwhile.
        if (store := request.get("store")) and restore_item(Store(Path(store["folder"]), store["limit_bytes"]),
                                                            store["key"], output, recipe, history):
            return {"ok": True, "made_ahead": True}
        MAKERS[stage](model, recipe, request["inputs"], Path(output), Path(history))
    except AiBeatsError as error:
        return {"error": str(error), "media": isinstance(error, MediaError)}
    except Exception as error:  # noqa: BLE001 - reported to the client, the worker goes on
        traceback.print_exc()
        return {"error": f"{type(error).__name__}: {error}", "media": False}
    return {"ok": True}


def _outcome(reply: dict) -> str:
    """How a request ended, for the worker's log: one made for the job ("ok") or made ahead and only placed."""
    if "error" in reply:
        return f"failed: {reply['error']}"
    return "ok (made ahead)" if reply.get("made_ahead") else "ok"


class _Server:
    """A worker's model behind its socket. A watch thread ends the process when the workflow's process is gone, when the
    SLURM job has ended, and after idle_timeout seconds without a request. Requests are received by a thread of their
    own, so that the model makes items ahead (aibeats.look_ahead) whenever no job waits."""

    def __init__(self, worker: Worker, idle_timeout: float, workflow: Workflow):
        self.worker = worker
        self.path = worker.address
        self.idle_timeout = idle_timeout
        self.workflow = workflow
        self.served = 0
        self.waiting = 0  # requests received and not yet answered
        self.idle_since: float | None = None  # set once it listens
        self.key: bytes | None = None
        self.inode: int | None = None
        # Held to take a request in and to exit: an exit never cuts a request short, only a look-ahead.
        self.state = threading.RLock()
        self.requests: queue.Queue = queue.Queue()
        self.look_ahead = LookAhead(worker.family, worker.model_id, worker.precision, worker.device,
                                    worker.workers_dir)

    def watch(self) -> None:
        threading.Thread(target=self._watch_workflow_and_idleness, daemon=True).start()
        # Inside a SLURM job the worker also watches the job: Snakemake runs a bundle's jobs without its
        # onsuccess/onerror hooks, and a cluster that does not track processes by cgroup would let the worker
        # outlive the allocation, holding the GPU.
        slurm_job = os.environ.get("SLURM_JOB_ID")
        if slurm_job:
            threading.Thread(target=self._watch_slurm_job, args=(slurm_job,), daemon=True).start()

    def _watch_workflow_and_idleness(self) -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            with self.state:
                if not self.workflow.alive():
                    self.exit(f"the workflow ({self.workflow}) has ended after {self.served} requests: exiting")
                if (self.idle_since is not None and not self.waiting
                        and time.monotonic() - self.idle_since >= self.idle_timeout):
                    self.exit(f"idle for {self.idle_timeout} s after {self.served} requests: exiting")

    def _watch_slurm_job(self, job_id: str) -> None:
        while True:
            time.sleep(min(self.idle_timeout / 4, SLURM_POLL_SECONDS))
            if slurm_job_ended(job_id):
                self.exit(f"SLURM job {job_id} has ended after {self.served} requests: exiting")

    def load(self):
        try:
            return load_model_or_explain(self.worker.family, self.worker.model_id, self.worker.device,
                                         self.worker.precision, self.worker.offload)
        except AiBeatsError as error:
            # Every job of this run would meet the same cause: they read it here rather than each starting a
            # worker that fails the same way.
            with atomic_path(failure_path(self.path)) as temporary:
                temporary.write_text(json.dumps({"workflow": [self.workflow.pid, self.workflow.start],
                                                 "message": str(error)}))
            self.exit(str(error), code=1)

    def listen(self) -> Listener:
        self.key = _write_key(self.path)
        # A socket file left here is stale: a client that could connect to it would not have started us.
        self.path.unlink(missing_ok=True)
        listener = Listener(str(self.path), family="AF_UNIX", backlog=64, authkey=self.key)
        # Other users cannot even connect, let alone hold the handshake up.
        os.chmod(self.path, 0o600)
        self.inode = self.path.stat().st_ino
        with self.state:
            self.idle_since = time.monotonic()
        return listener

    def serve(self, listener: Listener, model) -> NoReturn:
        threading.Thread(target=self._receive, args=(listener,), daemon=True).start()
        while True:
            candidate = self._next_ahead() if self.requests.empty() else None
            if candidate is None:
                connection, request = self.requests.get()
                with connection:
                    self.serve_one(connection, request, model)
            else:
                self.make_ahead(model, candidate)

    def _next_ahead(self):
        try:
            return self.look_ahead.next_item()
        except Exception as error:  # noqa: BLE001 - look-ahead only saves time: a plan it cannot follow must not end the worker
            print(f"look-ahead stopped for this run: {type(error).__name__}: {error}", flush=True)
            self.look_ahead.stop()
            return None

    def _receive(self, listener: Listener) -> NoReturn:
        while True:
            try:
                connection = listener.accept()
            except _NO_WORKER as error:
                print(f"refused a connection: {type(error).__name__}: {error}", flush=True)
                continue
            try:
                request = connection.recv()
            except (EOFError, OSError):
                connection.close()
                continue
            with self.state:
                if request["op"] == "shutdown" and not self.waiting:
                    self.stop(connection)
                # A stop asked for while jobs wait comes after them.
                self.waiting += 1
            self.requests.put((connection, request))

    def stop(self, connection: Connection) -> NoReturn:
        """Exit as asked on connection, even in the middle of a look-ahead."""
        # Gone from the socket before answering: whoever asked may start a replacement at once.
        self.remove_files()
        with suppress(OSError):
            connection.send({"ok": True})
        self.exit(f"asked to stop after {self.served} requests")

    def serve_one(self, connection: Connection, request: dict, model) -> None:
        if request["op"] == "shutdown":
            self.stop(connection)
        with self.state:
            self.workflow = Workflow(*request["workflow"])
        self.look_ahead.follow(request)
        started = time.perf_counter()
        reply = _make(model, request)
        print(f"{request['stage']} {request['output']}: {time.perf_counter() - started:.2f} s {_outcome(reply)}",
              flush=True)
        with suppress(OSError):
            connection.send(reply)
        with self.state:
            self.served += 1
            self.waiting -= 1
            self.idle_since = time.monotonic()

    def make_ahead(self, model, candidate) -> None:
        """Make a planned item into the store; a failure is its job's to report, when it makes the item itself."""
        started = time.perf_counter()
        try:
            self.look_ahead.make(model, candidate)
            outcome = f"ok, ahead into {candidate.entry}"
        except Exception as error:  # noqa: BLE001 - the job meets it again, and reports it
            outcome = f"not made ahead: {type(error).__name__}: {error}"
        print(f"{candidate.item.stage} {candidate.item.output}: {time.perf_counter() - started:.2f} s {outcome}",
              flush=True)

    def remove_files(self) -> None:
        # Only while they are still this worker's: a replacement may have taken the paths over.
        with suppress(OSError):
            if self.path.stat().st_ino == self.inode:
                self.path.unlink()
        with suppress(OSError):
            if key_path(self.path).read_bytes() == self.key:
                key_path(self.path).unlink()

    def exit(self, reason: str, code: int = 0) -> NoReturn:
        """End the process now, from either thread, even in the middle of a request."""
        with self.state:
            print(reason, flush=True)
            self.remove_files()
            # From the watch thread, sys.exit would end only that thread; the model's memory goes with the process.
            os._exit(code)


def serve(worker: Worker, idle_timeout: float, exclusive_device: bool, workflow: Workflow,  # noqa: PLR0913
          threads: int | None = None) -> NoReturn:
    """Load the model, then make items until asked to stop, idle, or left behind by the workflow."""
    server = _Server(worker, idle_timeout, workflow)
    offloaded = f" (offload: {worker.offload})" if worker.offload != "none" else ""
    print(f"worker pid {os.getpid()}: {worker.family} model {worker.model_id} on {worker.device}{offloaded}, for the "
          f"workflow's {workflow}; torch threads: {use_threads(threads)}", flush=True)
    server.watch()
    device_lock = None
    if exclusive_device and worker.device != "cpu":
        device_lock = _hold_device(worker.workers_dir, worker.device)
    model = server.load()
    listener = server.listen()
    if device_lock is not None:
        device_lock.seek(0)
        device_lock.truncate()
        device_lock.write(str(worker.address))
        device_lock.flush()
    print(f"model loaded, listening on {worker.address}", flush=True)
    server.serve(listener, model)


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


# ---------------------------------------------------------------------------------------------- client side


def _start_worker(worker: Worker, settings: dict, workflow: Workflow) -> subprocess.Popen:
    worker.log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "aibeats.workers", "--family", worker.family, "--model-id", worker.model_id,
               "--device", worker.device, "--precision", worker.precision, "--offload", worker.offload,
               "--workers-dir", str(worker.workers_dir),
               "--idle-timeout", str(settings["idle_timeout"]), "--workflow-pid", str(workflow.pid),
               "--workflow-start", workflow.start or ""]
    if settings.get("threads"):
        command += ["--threads", str(settings["threads"])]
    if not settings["models_fit_together"]:
        command.append("--exclusive-device")
    with open(worker.log, "a") as log_file:
        # A session of its own: the worker outlives the job that started it and Snakemake's signals to it.
        return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=os.getcwd(), env=os.environ.copy())


def _raise_earlier_failure(path: Path, workflow: Workflow) -> None:
    """Fail with the cause a worker left when it could not load its model for this workflow run."""
    failure = failure_path(path)
    try:
        record = json.loads(failure.read_text())
    except FileNotFoundError:
        return
    if Workflow(*record["workflow"]) == workflow:
        raise ModelError(record["message"])
    # Another run's: what caused it (the network, a login, a missing folder) may be fixed by now.
    failure.unlink(missing_ok=True)


def _raise_if_ended(workflow: Workflow, worker: Worker) -> None:
    if not workflow.alive():
        # A job left running by a killed Snakemake: a worker started now would only exit again.
        raise WorkerError(f"the workflow ({workflow}) has ended: its {worker.family} worker for {worker.model_id} "
                          "is gone, and no new one is started")


def _connection_to_worker(worker: Worker, settings: dict, workflow: Workflow) -> Connection:
    """Connect to the running worker, or start one (only one client starts it; the others wait for it)."""
    with suppress(*_NO_WORKER):
        return _connect(worker.address)
    worker.workers_dir.mkdir(parents=True, exist_ok=True)
    with open(worker.workers_dir / f"{worker.name}.start.lock", "w") as start_lock:
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        with suppress(*_NO_WORKER):
            return _connect(worker.address)
        _raise_earlier_failure(worker.address, workflow)
        _raise_if_ended(workflow, worker)
        process = _start_worker(worker, settings, workflow)
        deadline = time.monotonic() + settings["start_timeout"]
        while True:
            with suppress(*_NO_WORKER):
                return _connect(worker.address)
            if process.poll() is not None:
                _raise_earlier_failure(worker.address, workflow)
                _raise_if_ended(workflow, worker)
                raise WorkerError(f"the {worker.family} worker for {worker.model_id} exited while loading its model "
                                  f"(exit code {process.returncode}); see {worker.log}")
            if time.monotonic() > deadline:
                process.kill()
                raise WorkerError(f"the {worker.family} worker for {worker.model_id} did not load its model within "
                                  f"{settings['start_timeout']} s (workers.start_timeout); see {worker.log}")
            time.sleep(0.05)


def request_item(family: str, model_id: str, device: str, request: dict, workers_dir: Path,  # noqa: PLR0913
                 settings: dict, *, precision: str = "auto", offload: str = "none") -> str:
    """Have the worker for a model make one item; returns the worker's log path (for the job's log)."""
    worker = Worker(family, model_id, resolve_device(device), Path(workers_dir), precision, offload)
    workflow = Workflow.of_this_job()
    message = {"op": "make", "workflow": [workflow.pid, workflow.start], **request}
    for attempt in (1, 2):
        with _connection_to_worker(worker, settings, workflow) as connection:
            try:
                connection.send(message)
                reply = connection.recv()
            except (EOFError, OSError):
                reply = None
        if reply is None:
            if attempt == 1:
                print(f"the {family} worker died while making {request['output']}; retrying once with a new "
                      f"worker (its log: {worker.log})", file=sys.stderr, flush=True)
                continue
            raise WorkerError(f"the {family} worker died twice while making {request['output']}; see {worker.log}")
        if "ok" in reply:
            return str(worker.log)
        if reply["media"]:
            raise MediaError(reply["error"])
        raise WorkerError(f"the {family} worker failed to make {request['output']}: {reply['error']}; "
                          f"see {worker.log}")
    raise AssertionError("unreachable")


def stop_workers(workers_dir: Path, timeout: float = 5) -> int:
    """Ask every worker of this host in a project to exit; returns how many answered within timeout seconds.

    A worker in the middle of a request answers when it is done; one that takes longer than the timeout exits
    anyway once the workflow's process has ended.
    """
    host = socket.gethostname()
    locks = [*Path(workers_dir).glob(f"*-{host}.start.lock"), *Path(workers_dir).glob(f"*-{host}-slurm*.start.lock")]
    answered = []

    def ask(path: Path) -> None:
        if _ask_to_stop(path):
            answered.append(path)

    askers = [threading.Thread(target=ask, args=(_socket_path(workers_dir, lock.name.removesuffix(".start.lock")),),
                               daemon=True) for lock in locks]
    for asker in askers:
        asker.start()
    deadline = time.monotonic() + timeout
    for asker in askers:
        asker.join(max(0.0, deadline - time.monotonic()))
    return len(answered)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a warm model worker (started by the jobs themselves)")
    parser.add_argument("--family", required=True)
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--device", required=True, help="a resolved device: cpu, mps or cuda:N")
    parser.add_argument("--precision", default="auto", help="auto, fp16, bf16 or fp32")
    parser.add_argument("--offload", default="none", help="none, model or sequential")
    parser.add_argument("--workers-dir", required=True, type=Path)
    parser.add_argument("--idle-timeout", required=True, type=float)
    parser.add_argument("--exclusive-device", action="store_true")
    parser.add_argument("--threads", type=int, help="torch's threads: those the starting job's rule declares")
    parser.add_argument("--workflow-pid", required=True, type=int)
    parser.add_argument("--workflow-start", default="", help="its start time in /proc/PID/stat, if known")
    args = parser.parse_args(argv)
    serve(Worker(args.family, args.model_id, args.device, args.workers_dir, args.precision, args.offload),
          args.idle_timeout,
          args.exclusive_device, Workflow(args.workflow_pid, args.workflow_start or None), args.threads)


if __name__ == "__main__":
    main()
