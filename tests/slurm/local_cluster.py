"""A real one-node SLURM cluster (munged, slurmctld, slurmd) with one fake GPU, private to a temporary folder.

Everything the daemons read or write (slurm.conf, gres.conf, munge key and socket, state, spool, logs, pid files)
lives in the folder given to `LocalSlurmCluster`, and the ports are picked free, so the cluster does not disturb
/run/munge or a system SLURM. Clients find it through `SLURM_CONF` (see `env`), with one exception that forces a
link at /etc/slurm/slurm.conf: inside a job, snakemake's slurm-jobstep plugin (0.6) removes every SLURM_* variable
but the job's identity before it calls `srun`, so that srun only finds the default path. The link is made only
where no other slurm.conf is, and removed by `stop()`; it needs root, as do the daemons here (CI, containers).
"""

from __future__ import annotations

import getpass
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ["munged", "slurmctld", "slurmd"]
CLIENTS = ["sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel"]
# munged and the slurm daemons install into sbin, which is not on a normal user's PATH.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/local/sbin"])

PARTITION = "debug"
DEFAULT_SLURM_CONF = Path("/etc/slurm/slurm.conf")


def find_binary(name: str) -> str | None:
    return shutil.which(name, path=_SEARCH_PATH)


def missing_binaries() -> list[str]:
    """The daemons and client commands of SLURM and munge that this machine lacks."""
    return [name for name in DAEMONS + CLIENTS if find_binary(name) is None]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _memory_mb_for_jobs(slurmd: str) -> int:
    """What the node offers to jobs: a little under the memory slurmd detects, so the daemons keep some."""
    detected = subprocess.run([slurmd, "-C"], capture_output=True, text=True, check=True).stdout
    real_memory = int(re.search(r"RealMemory=(\d+)", detected).group(1))
    return max(real_memory - 1024, real_memory * 9 // 10)


class SlurmStartError(RuntimeError):
    pass


class LocalSlurmCluster:
    """One node, partition `debug`, CPUs = nproc, one GPU as GRES (File=/dev/null: CUDA_VISIBLE_DEVICES only).

    Use as a context manager, or call `start()` and `stop()`.
    """

    def __init__(self, workdir: Path, start_timeout_s: float = 60):
        self.workdir = Path(workdir)
        self.start_timeout_s = start_timeout_s
        self.hostname = socket.gethostname().split(".")[0]
        self.slurm_conf = self.workdir / "slurm.conf"
        self.munge_socket = self.workdir / "munge" / "munge.socket"
        self._processes: dict[str, subprocess.Popen] = {}

    @property
    def env(self) -> dict[str, str]:
        """The environment for clients (sbatch, squeue, snakemake's SLURM plugin) to talk to this cluster."""
        path = os.pathsep.join([os.environ.get("PATH", ""), *{str(Path(find_binary(n)).parent) for n in CLIENTS}])
        return {**os.environ, "SLURM_CONF": str(self.slurm_conf), "PATH": path}

    @property
    def pids(self) -> dict[str, int]:
        return {name: process.pid for name, process in self._processes.items()}

    def log(self, daemon: str) -> Path:
        return self.workdir / "log" / f"{daemon}.log"

    def pid_file(self, daemon: str) -> Path:
        return self.workdir / "run" / f"{daemon}.pid"

    def __enter__(self) -> LocalSlurmCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> LocalSlurmCluster:
        missing = missing_binaries()
        if missing:
            raise SlurmStartError(f"missing {', '.join(missing)}: run `bash tests/slurm/install-slurm.sh` as root")
        try:
            self._write_config()
            self._link_default_config()
            self._start_munged()
            self._start_daemon("slurmctld", "-D", "-c", "-f", str(self.slurm_conf))
            self._wait_until(lambda: self._client("scontrol", "ping").returncode == 0, "slurmctld to answer ping")
            self._start_daemon("slurmd", "-D", "-f", str(self.slurm_conf))
            self._wait_until(lambda: self.node_state() == "idle", "the node to be idle")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout_s: float = 30) -> None:
        """Cancels the cluster's jobs, then ends slurmd, slurmctld and munged by their pids and waits for each."""
        if "slurmctld" in self._processes and self._processes["slurmctld"].poll() is None:
            job_ids = self._client("squeue", "--noheader", "--format=%A").stdout.split()
            if job_ids:
                self._client("scancel", *job_ids)
        for name in reversed(list(self._processes)):
            process = self._processes[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=timeout_s)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        if DEFAULT_SLURM_CONF.is_symlink() and DEFAULT_SLURM_CONF.readlink() == self.slurm_conf:
            DEFAULT_SLURM_CONF.unlink()

    def node_state(self) -> str:
        result = self._client("sinfo", "--noheader", "--Node", "--format=%t")
        return result.stdout.strip() if result.returncode == 0 else ""

    def _client(self, name: str, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([find_binary(name), *args], env=self.env, capture_output=True, text=True, timeout=30)

    def _write_config(self) -> None:
        for folder in ["munge", "log", "run", "state", "spool"]:
            (self.workdir / folder).mkdir(parents=True, exist_ok=True)
        # munged refuses a key folder or socket folder that others may write to.
        for folder in [self.workdir, self.workdir / "munge"]:
            folder.chmod(0o700)
        key = self.workdir / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)

        user = getpass.getuser()
        cpus = os.cpu_count() or 1
        memory_mb = _memory_mb_for_jobs(find_binary("slurmd"))
        self.slurm_conf.write_text(f"""\
ClusterName=localtest
SlurmctldHost={self.hostname}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={self.workdir / "state"}
SlurmdSpoolDir={self.workdir / "spool"}
SlurmctldPidFile={self.pid_file("slurmctld")}
SlurmdPidFile={self.pid_file("slurmd")}
SlurmctldLogFile={self.log("slurmctld")}
SlurmdLogFile={self.log("slurmd")}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# Jobs that ask for no memory get this much per CPU instead of the whole node (which would serialise them).
DefMemPerCPU=1000
# Finished jobs stay visible to squeue and scontrol for an hour (default 5 minutes): tests read their records.
MinJobAge=3600
GresTypes=gpu
NodeName={self.hostname} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName={PARTITION} Nodes={self.hostname} Default=YES MaxTime=INFINITE State=UP
""")
        # slurmd reads gres.conf from the folder of slurm.conf. Without File= the node is marked INVAL.
        (self.workdir / "gres.conf").write_text(f"NodeName={self.hostname} Name=gpu File=/dev/null\n")

    def _link_default_config(self) -> None:
        link = DEFAULT_SLURM_CONF
        if link.exists():
            raise SlurmStartError(f"{link} exists (a system SLURM, or another test cluster): jobs would use it")
        # A dangling link was left by a killed run: its cluster folder is gone.
        if link.is_symlink():
            link.unlink()
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(self.slurm_conf)

    def _start_munged(self) -> None:
        munge = self.workdir / "munge"
        self._start_daemon(
            "munged", "--foreground", "--force", f"--socket={self.munge_socket}",
            f"--key-file={munge / 'munge.key'}", f"--pid-file={self.pid_file('munged')}",
            f"--log-file={self.log('munged')}", f"--seed-file={munge / 'munged.seed'}",
        )
        self._wait_until(self.munge_socket.exists, "munged's socket")

    def _start_daemon(self, name: str, *args: str) -> None:
        # Foreground daemons stay children of this process: their pid is known without races and `wait` reaps them.
        # A session of their own keeps a Ctrl-C in the test runner from reaching them before `stop` does.
        output = (self.workdir / "log" / f"{name}.out").open("w")
        self._processes[name] = subprocess.Popen([find_binary(name), *args], env=self.env, stdout=output,
                                                 stderr=subprocess.STDOUT, start_new_session=True)
        output.close()

    def _wait_until(self, is_ready, what: str) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            for name, process in self._processes.items():
                if process.poll() is not None:
                    raise SlurmStartError(f"{name} exited with {process.returncode} while waiting for {what}:\n"
                                          f"{self._log_tails()}")
            if is_ready():
                return
            time.sleep(0.2)
        raise SlurmStartError(f"timed out after {self.start_timeout_s} s waiting for {what}:\n{self._log_tails()}")

    def _log_tails(self) -> str:
        tails = []
        for log in sorted((self.workdir / "log").glob("*")):
            lines = log.read_text(errors="replace").splitlines()[-15:]
            tails.append(f"--- {log.name}\n" + "\n".join(lines))
        return "\n".join(tails)
