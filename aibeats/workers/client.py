"""The client side of the workers, in a job: it connects to the worker of its model on a free slot, starting
one when none runs (only one client starts it; the others wait for it), and has it make the job's item."""

import fcntl
import json
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path

from aibeats.devices import device_slots
from aibeats.errors import MediaError
from aibeats.model_errors import ModelError
from aibeats.workers.identity import (
    NO_WORKER,
    Worker,
    WorkerError,
    Workflow,
    ask_to_stop,
    connect,
    failure_path,
    socket_path,
)
from aibeats.workers.locks import hold_slot


def _start_worker(worker: Worker, settings: dict, workflow: Workflow) -> subprocess.Popen:
    worker.log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "aibeats.workers", "--family", worker.family, "--model-id", worker.model_id,
               "--device", worker.device, "--replica", str(worker.replica), "--precision", worker.precision,
               "--offload", worker.offload,
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
    with suppress(*NO_WORKER):
        return connect(worker.address)
    worker.workers_dir.mkdir(parents=True, exist_ok=True)
    with open(worker.workers_dir / f"{worker.name}.start.lock", "w") as start_lock:
        fcntl.flock(start_lock, fcntl.LOCK_EX)
        with suppress(*NO_WORKER):
            return connect(worker.address)
        _raise_earlier_failure(worker.address, workflow)
        _raise_if_ended(workflow, worker)
        process = _start_worker(worker, settings, workflow)
        deadline = time.monotonic() + settings["start_timeout"]
        while True:
            with suppress(*NO_WORKER):
                return connect(worker.address)
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


def request_item(family: str, model_id: str, device: str | list[str], request: dict, workers_dir: Path,  # noqa: PLR0913
                 settings: dict, *, precision: str = "auto", offload: str = "none") -> str:
    """Have a worker for a model make one item, on a free slot of the config's device; returns the worker's log
    path (for the job's log)."""
    slots = device_slots(device)
    workers = [Worker(family, model_id, slot.device, Path(workers_dir), precision, offload, slot.replica)
               for slot in slots]
    warm = [index for index, worker in enumerate(workers) if worker.address.exists()]
    with hold_slot(Path(workers_dir), slots, warm) as index:
        return _request_of(workers[index], request, settings)


def _request_of(worker: Worker, request: dict, settings: dict) -> str:
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
                print(f"the {worker.family} worker died while making {request['output']}; retrying once with a new "
                      f"worker (its log: {worker.log})", file=sys.stderr, flush=True)
                continue
            raise WorkerError(f"the {worker.family} worker died twice while making {request['output']}; "
                              f"see {worker.log}")
        if "ok" in reply:
            return str(worker.log)
        if reply["media"]:
            raise MediaError(reply["error"])
        raise WorkerError(f"the {worker.family} worker failed to make {request['output']}: {reply['error']}; "
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
        if ask_to_stop(path):
            answered.append(path)

    askers = [threading.Thread(target=ask, args=(socket_path(workers_dir, lock.name.removesuffix(".start.lock")),),
                               daemon=True) for lock in locks]
    for asker in askers:
        asker.start()
    deadline = time.monotonic() + timeout
    for asker in askers:
        asker.join(max(0.0, deadline - time.monotonic()))
    return len(answered)
