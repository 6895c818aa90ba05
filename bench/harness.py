"""What every benchmark shares: measurements with targets, copies of the workflow, timed snakemake runs."""

import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

import numpy as np
import yaml

from aibeats.checkout import REPO
from aibeats.checkout import copy_workflow as copy_checkout

OUT = REPO / "bench" / "out"
DEMO_CONFIG = "profiles/demo/demo-config.yaml"


@dataclass
class Measurement:
    """One number a benchmark reports; `target` is a comparison such as "< 10" or ">= 5", or None."""

    name: str
    value: float
    unit: str
    target: str | None = None
    note: str = ""

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        operator, bound = self.target.split()
        comparisons = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}
        return comparisons[operator](float(self.value), float(bound))

    def as_dict(self) -> dict:
        return {**asdict(self), "met": self.met}


def _busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy since boot (everything but idle and I/O wait), steal included."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in stat.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _own_cpu_seconds() -> float:
    """CPU time of this process and of the children it (or they) waited for."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


class Stopwatch:
    """`with Stopwatch() as watch: ...` then `watch.seconds`, the wall-clock time of the block.

    Also `watch.foreign_load`: the share of the machine's CPUs that other processes took meanwhile (0 on an
    idle machine, 1 when they kept every core busy). It counts as foreign whatever is not this process or a
    child it waited for, so it is meaningful only for blocks whose work stays in such processes. And
    `watch.cpu_seconds`: the CPU time of this process and of those children.
    """

    def __enter__(self) -> "Stopwatch":
        self.seconds = self.foreign_load = self.cpu_seconds = 0.0
        self._busy, self._own = _busy_cpu_seconds(), _own_cpu_seconds()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info) -> None:
        self.seconds = time.perf_counter() - self._start
        self.cpu_seconds = _own_cpu_seconds() - self._own
        foreign = (_busy_cpu_seconds() - self._busy) - self.cpu_seconds
        self.foreign_load = max(0.0, foreign / (self.seconds * os.cpu_count()))


def peak_rss_bytes(pid: int | str = "self") -> int:
    """VmHWM of a process: the most resident memory it has had."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM")


class WorkerWatch:
    """Peak memory and CPU time of a project's model workers, sampled every half second while they live.

    A Stopwatch counts a worker's CPU time as other processes': a job starts it in a session of its own, so no
    process waits for it. A worker writes `worker pid N: ...` first into its log; a pid counts only while its
    command line is a worker's.
    """

    def __init__(self, worker_logs: Path) -> None:
        self.worker_logs = worker_logs
        self.peak_bytes: dict[int, int] = {}
        self.cpu_seconds: dict[int, float] = {}
        self.threads: dict[int, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "WorkerWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(0.5)
        self.sample()

    def sample(self) -> None:
        logs = [log.read_text(errors="replace") for log in self.worker_logs.glob("*.log")]
        pids = {int(pid) for log in logs for pid in re.findall(r"^worker pid (\d+):", log, re.MULTILINE)}
        for pid in pids:
            try:
                if b"aibeats.workers" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                    continue
                if pid not in self.threads:
                    self.threads[pid] = _worker_threads(pid, logs)
                peak = peak_rss_bytes(pid)
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, RuntimeError):  # gone between the listing and the reads
                continue
            self.peak_bytes[pid] = max(peak, self.peak_bytes.get(pid, 0))
            # utime and stime, fields 14 and 15 of stat (the 12th and 13th after the command's name)
            self.cpu_seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker_threads(pid: int, logs: list[str]) -> str:
    """The threads torch computes on in a worker: as its log says, else as the environment it inherited from the
    job that started it says (Snakemake gives a job OMP_NUM_THREADS, its rule's threads), else torch's default."""
    for log in logs:
        if said := re.search(rf"^worker pid {pid}:.*torch threads: (\d+)", log, re.MULTILINE):
            return said[1]
    environment = dict(entry.split(b"=", 1) for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
                       if b"=" in entry)
    return environment.get(b"OMP_NUM_THREADS", b"default").decode()


def copy_workflow(destination: Path, with_tiny_models: bool = True) -> Path:
    """A runnable copy of the workflow; the repository's tiny models come along when it has them.

    Without them the copy's own build_tiny_model jobs make them, as on a fresh checkout.
    """
    copy_checkout(destination)
    tiny_models = REPO / "models" / "tiny"
    if with_tiny_models and tiny_models.is_dir():
        shutil.copytree(tiny_models, destination / "models" / "tiny")
    return destination


def write_config(path: Path, overrides: dict) -> Path:
    path.write_text(yaml.safe_dump(overrides))
    return path


def workflow_config(workdir: Path, *config_files: Path) -> dict:
    """The config a run of the workflow in workdir validates: its config.yaml with each --configfile merged over
    it in order, as Snakemake merges them."""
    from snakemake.utils import update_config

    from aibeats.config import validate_config

    config = yaml.safe_load((workdir / "config.yaml").read_text())
    for config_file in config_files:
        update_config(config, yaml.safe_load(Path(config_file).read_text()))
    return validate_config(config, workdir / "schemas" / "config.schema.yaml")


def _decoded(path: Path) -> np.ndarray:
    """What a file holds, without the recipe inside it: samples, pixels, or each decoded frame's checksum."""
    from imageio_ffmpeg import get_ffmpeg_exe
    from PIL import Image

    from aibeats.audio import read_wav

    if path.suffix == ".wav":
        return read_wav(path)[0]
    if path.suffix == ".png":
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    result = subprocess.run([get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"],
                            capture_output=True, text=True, check=True)
    return np.array([line for line in result.stdout.splitlines() if not line.startswith("#")])


def same_content(a: Path, b: Path) -> bool:
    """Whether two WAV, PNG or MP4 files hold the same samples, pixels or frames, whatever recipes they carry."""
    first, second = _decoded(a), _decoded(b)
    return first.shape == second.shape and bool(np.array_equal(first, second))


def snakemake(workdir: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run snakemake in workdir with this interpreter's environment; raise with its output if it fails."""
    # Script jobs start `python` from PATH: it must be this venv's, which has the workflow's libraries.
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, env=env, capture_output=True,
                            text=True, timeout=timeout)
    if result.returncode != 0:
        raise RuntimeError(f"snakemake {' '.join(args)} failed in {workdir} (exit status {result.returncode}):\n"
                           f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def timed_snakemake(workdir: Path, *args: str, timeout: float = 1800) -> float:
    """Wall-clock seconds of a whole snakemake run, its start-up and planning included."""
    with Stopwatch() as watch:
        snakemake(workdir, *args, timeout=timeout)
    return watch.seconds


def ensure_tiny_models(workdir: Path, *families: str) -> None:
    """Build the tiny models a benchmark needs in its copy, unless they came from the repository."""
    missing = [f"models/tiny/{family}" for family in families if not (workdir / "models" / "tiny" / family).is_dir()]
    if missing:
        snakemake(workdir, *missing, "--profile", "profiles/demo")


def machine() -> dict:
    """The machine and library versions the numbers were measured with."""
    cpu_model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kib = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    versions = {}
    for package in ("torch", "transformers", "diffusers", "snakemake", "numpy", "imageio-ffmpeg"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    has_gpu = shutil.which("nvidia-smi") is not None or Path("/dev/nvidia0").exists()
    return {"nproc": len(os.sched_getaffinity(0)), "cpu_model": cpu_model, "ram_gib": round(total_kib / 2**20, 1),
            "python": platform.python_version(), "platform": platform.platform(),
            "gpu": "present (not used by these benchmarks)" if has_gpu else "none", **versions}
