"""Who a worker is and how to reach it: the workflow run it serves, its name, socket, key and log, shared by the
server (aibeats.workers.server) and the jobs' client (aibeats.workers.client)."""

import hashlib
import os
import socket
import tempfile
from dataclasses import dataclass
from multiprocessing.connection import AuthenticationError, Client, Connection
from pathlib import Path

from aibeats.errors import AiBeatsError

# AF_UNIX paths are limited to 108 bytes on Linux (104 on macOS).
_MAX_SOCKET_PATH = 100
# What connecting meets when no worker with the key on disk listens: no socket or key file, a socket nobody
# listens on, a worker that died during the handshake, or one that replaced its key in the meantime.
NO_WORKER = (OSError, EOFError, AuthenticationError)
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


def host_suffix() -> str:
    """What tells this host's workers and locks apart on a shared filesystem: the host name, and inside a SLURM
    allocation its job id (a worker uses the GPUs of the allocation it was started in, so two allocations on one
    node must not share it)."""
    slurm_job = os.environ.get("SLURM_JOB_ID")
    return socket.gethostname() + (f"-slurm{slurm_job}" if slurm_job else "")


@dataclass(frozen=True)
class Worker:
    """Which worker: the model of a family on a device slot (resolved: one name per device), for a project's
    workers folder; where its socket and log are."""

    family: str
    model_id: str
    device: str
    workers_dir: Path
    # The model's precision (config `precision`): one loaded in fp16 cannot make an item asked for in bf16.
    precision: str = "auto"
    # How its pipeline is offloaded (config `offload`): the same files, but another worker's memory and speed.
    offload: str = "none"
    # Which of the config's slots on this device (aibeats.devices.Slot): only the CPU may be listed twice.
    replica: int = 0

    @property
    def name(self) -> str:
        # Named as before offload and replicas existed when there are none, so a worker of an older checkout is
        # reused.
        offloaded = f"\0{self.offload}" if self.offload != "none" else ""
        replica = f"\0#{self.replica}" if self.replica else ""
        digest = hashlib.sha256(f"{self.family}\0{self.model_id}\0{self.device}\0{self.precision}{offloaded}{replica}"
                                .encode()).hexdigest()[:12]
        return f"{self.family}-{digest}-{host_suffix()}"

    @property
    def address(self) -> Path:
        """Its socket's path."""
        return socket_path(self.workers_dir, self.name)

    @property
    def log(self) -> Path:
        return self.workers_dir.parent / "logs" / "workers" / f"{self.name}.log"


def socket_path(workers_dir: Path, name: str) -> Path:
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


def connect(path: Path) -> Connection:
    return Client(str(path), family="AF_UNIX", authkey=key_path(path).read_bytes())


def ask_to_stop(path: Path) -> bool:
    """Ask the worker at path to exit; whether it answered (by then it no longer listens)."""
    try:
        with connect(path) as connection:
            connection.send({"op": "shutdown"})
            connection.recv()
    except NO_WORKER:
        return False
    return True
