"""The server side of a warm worker: it loads one model on one device slot, listens on its socket, and makes
item after item for the jobs (`python -m aibeats.workers`, started by aibeats.workers.client)."""

import argparse
import json
import os
import queue
import secrets
import subprocess
import threading
import time
import traceback
from contextlib import suppress
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import NoReturn

from aibeats.atomic import atomic_path
from aibeats.devices import Slot, use_threads
from aibeats.errors import AiBeatsError, MediaError
from aibeats.look_ahead import LookAhead
from aibeats.model_errors import load_model_or_explain
from aibeats.workers.identity import NO_WORKER, Worker, Workflow, failure_path, key_path
from aibeats.workers.locks import hold_device

# How often a worker inside a SLURM job asks whether its job is still running.
SLURM_POLL_SECONDS = 30
# How often a worker looks whether its workflow's process still runs (and whether it has been idle too long).
WATCH_SECONDS = 1


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
        self.look_ahead = LookAhead(worker.family, worker.model_id, worker.precision,
                                    Slot(worker.device, worker.replica), worker.workers_dir)

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
            except NO_WORKER as error:
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
    print(f"worker pid {os.getpid()}: {worker.family} model {worker.model_id} on "
          f"{Slot(worker.device, worker.replica)}{offloaded}, for the "
          f"workflow's {workflow}; torch threads: {use_threads(threads)}", flush=True)
    server.watch()
    device_lock = None
    if exclusive_device and worker.device != "cpu":
        device_lock = hold_device(worker.workers_dir, worker.device)
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="a warm model worker (started by the jobs themselves)")
    parser.add_argument("--family", required=True)
    parser.add_argument("--model-id", required=True)
    parser.add_argument("--device", required=True, help="a resolved device: cpu, mps or cuda:N")
    parser.add_argument("--precision", default="auto", help="auto, fp16, bf16 or fp32")
    parser.add_argument("--offload", default="none", help="none, model or sequential")
    parser.add_argument("--replica", type=int, default=0, help="which of the config's slots on this device")
    parser.add_argument("--workers-dir", required=True, type=Path)
    parser.add_argument("--idle-timeout", required=True, type=float)
    parser.add_argument("--exclusive-device", action="store_true")
    parser.add_argument("--threads", type=int, help="torch's threads: those the starting job's rule declares")
    parser.add_argument("--workflow-pid", required=True, type=int)
    parser.add_argument("--workflow-start", default="", help="its start time in /proc/PID/stat, if known")
    args = parser.parse_args(argv)
    serve(Worker(args.family, args.model_id, args.device, args.workers_dir, args.precision, args.offload,
                 args.replica),
          args.idle_timeout, args.exclusive_device, Workflow(args.workflow_pid, args.workflow_start or None),
          args.threads)

