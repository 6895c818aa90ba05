"""Images: `snakemake image` with warm model workers against one Python process in the original tool's style.

Both sides make the same images from the same recipes (prompt, seed, steps, size), with torch on CORES threads:

- workflow: `snakemake image --cores CORES` in a copy of the workflow, from no project folder (so every image is
  made, at attempt 0, with no stored variants to restore). The first job starts a worker that loads the tiny SDXL
  pipeline and makes every image; the workflow stops it when the run ends. The model rules declare
  workflow.cores threads, and the worker computes on the threads of the job that started it.
- original: bench/original_images.py, one Python process that loads the pipeline once with the workflow's loader
  (aibeats.images.load_image_pipeline), then loops over the images the workflow's Project plans, making each with
  aibeats.images.generate_image and writing each PNG.

On both sides the wall time includes Python's start, the imports and the model load; on the workflow's side also
Snakemake's start-up and planning, its job handling, the thin clients, the history, the store of variants and the
recipe each PNG carries. The pixels of the two sides' images are compared.

Two sizes of work per image: the demo's (64x128 in 2 steps), where nearly all of a run is fixed cost, and 256x448 in
4 steps. aibeats/tiny builds one size of tiny SDXL only, so the larger work comes from more pixels and steps.

Per size, one warm-up round of each side (page cache, compiled .pyc files), then ROUNDS rounds alternating
(workflow, original, workflow, original, ...); the ratio workflow / original is paired within a round. Other
processes' CPU share is the machine's busy time beyond this process and the children it waits for, less the
worker's own CPU time (a job starts the worker in a session of its own, so no process waits for it).
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from aibeats.devices import resolve_device
from aibeats.plan import Project
from bench.harness import (
    DEMO_CONFIG,
    REPO,
    Measurement,
    Stopwatch,
    WorkerWatch,
    copy_workflow,
    ensure_tiny_models,
    same_content,
    snakemake,
    workflow_config,
    write_config,
)

# torch's threads on both sides: Snakemake's --cores, which the model rules declare as their jobs' threads and so
# the worker's. Fixed rather than every core, so that the two sides match on any machine.
CORES = 2
# Counted rounds per size, after one warm-up round.
ROUNDS = 3
# The target: the workflow no slower per image than the single-process script.
RATIO_TARGET = "<= 1.0"
# A line of a worker's log per image it made: "<stage> <output>: <seconds> s ok" for a job's request, or "... s ok,
# ahead into <store entry>" for one made ahead of its job (look-ahead). A job's request for an item made ahead
# ("... s ok (made ahead)") only places the file, and is not counted.
_IMAGE_MADE_LINE = re.compile(r"^image \S+: (?P<seconds>[\d.]+) s ok(?P<ahead>, ahead into .*)?$", re.MULTILINE)
# How long a worker may take to exit once the run that stopped it has ended.
WORKER_EXIT_SECONDS = 10


@dataclass(frozen=True)
class Size:
    """A size of work per image: the images a run makes, and image settings over profiles/demo's."""

    name: str
    n_images: int
    image: dict
    # Other sections over the demo config's (the GPU check puts every stage on the GPU: one device slot).
    sections: dict = field(default_factory=dict)


SIZES = [Size("demo 64x128, 2 steps", 20, {}),
         Size("256x448, 4 steps", 10, {"height": 256, "width": 448, "inference_steps": 4})]


@dataclass
class SideRun:
    """One run of one side."""

    seconds: float
    foreign_load: float  # share of the CPUs other processes took meanwhile
    cpu_seconds: float  # of every process of the side: Snakemake, its jobs and the worker, or the script
    generation_seconds: list[float]  # per image, in the worker or in the script's loop
    threads: str  # torch's threads in the model's process
    load_seconds: float | None = None  # the model's load, where the side reports it (the script)
    made_ahead: int = 0  # images the worker made ahead of their jobs


@dataclass
class Round:
    workflow: SideRun
    original: SideRun

    @property
    def ratio(self) -> float:
        """Per image, as both sides make the same images."""
        return self.workflow.seconds / self.original.seconds


def _alive(pid: int) -> bool:
    """Whether a process still runs; a zombie does not: it holds no memory and computes nothing."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class ImageRuns:
    """One size's runs of both sides, in a copy of the workflow."""

    def __init__(self, workdir: Path, scratch: Path, size: Size) -> None:
        self.workdir, self.scratch, self.size = workdir, scratch, size
        demo = yaml.safe_load((workdir / DEMO_CONFIG).read_text())
        n_modifiers = len(demo["image"]["prompt_modifiers"])
        if size.n_images % n_modifiers:
            raise RuntimeError(f"{size.n_images} images cannot be split evenly over the demo's {n_modifiers} "
                               "modifiers")
        overrides = {**size.sections, "image": {"n_images": size.n_images // n_modifiers, **size.image}}
        self.config_file = write_config(scratch / "images.yaml", overrides)
        self.project = Project(workflow_config(workdir, workdir / DEMO_CONFIG, self.config_file))
        self.root = workdir / self.project.root
        self.original_folder = scratch / "original"

    def workflow_run(self) -> SideRun:
        """`snakemake image` from no project folder; the worker has exited when it returns."""
        shutil.rmtree(self.root, ignore_errors=True)
        worker_logs = self.root / "logs" / "workers"
        with WorkerWatch(worker_logs) as workers, Stopwatch() as watch:
            snakemake(self.workdir, "image", "--profile", "profiles/demo", "--cores", str(CORES),
                      "--configfile", DEMO_CONFIG, str(self.config_file))
        # Its exit must not overlap the next run, whose CPU share it would count as other processes'.
        deadline = time.monotonic() + WORKER_EXIT_SECONDS
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers.cpu_seconds):
            time.sleep(0.1)
        missing = [path for path in self.project.outputs("image") if not (self.workdir / path).exists()]
        if missing or len(workers.threads) != 1:
            raise RuntimeError(f"snakemake image: expected one worker making {self.size.n_images} images, found "
                               f"{len(workers.threads)} worker(s) and {len(missing)} images missing")
        made = [line for log in worker_logs.glob("*.log") for line in _IMAGE_MADE_LINE.finditer(log.read_text())]
        foreign = watch.foreign_load - sum(workers.cpu_seconds.values()) / (watch.seconds * os.cpu_count())
        return SideRun(watch.seconds, max(0.0, foreign), watch.cpu_seconds + sum(workers.cpu_seconds.values()),
                       [float(line["seconds"]) for line in made],
                       next(iter(workers.threads.values())), made_ahead=sum(bool(line["ahead"]) for line in made))

    def original_run(self) -> SideRun:
        """bench/original_images.py on the same recipes as the workflow's run (attempt 0, as from no project)."""
        shutil.rmtree(self.original_folder, ignore_errors=True)
        self.original_folder.mkdir()
        recipes = [self.project.recipe("image", index, 0) for index in self.project.indices("image")]
        image = self.project.config["image"]
        request = {"model_id": image["model_id"], "device": resolve_device(image["device"]),
                   # None is auto, as for the workflow's jobs (aibeats.generate)
                   "precision": recipes[0].precision or "auto", "threads": CORES,
                   "images": [{"prompt": recipe.prompt, "seed": recipe.seed, "inference_steps": recipe.inference_steps,
                               "height": recipe.height, "width": recipe.width,
                               "output": str(self.original_output(index))}
                              for index, recipe in zip(self.project.indices("image"), recipes, strict=True)]}
        request_file, result_file = self.scratch / "request.json", self.scratch / "result.json"
        request_file.write_text(json.dumps(request))
        # From the copy, with its package first on the path, as the worker runs: both sides run the same aibeats
        # and read the same relative model folder.
        path = os.pathsep.join(filter(None, [str(self.workdir), os.environ.get("PYTHONPATH")]))
        with Stopwatch() as watch:
            completed = subprocess.run(
                [sys.executable, str(REPO / "bench" / "original_images.py"), str(request_file), str(result_file)],
                cwd=self.workdir, env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True, timeout=1800)
        if completed.returncode != 0:
            raise RuntimeError(f"bench/original_images.py failed (exit status {completed.returncode}):\n"
                               f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}")
        result = json.loads(result_file.read_text())
        return SideRun(watch.seconds, watch.foreign_load, watch.cpu_seconds, result["image_seconds"],
                       str(result["threads"]), result["load_seconds"])

    def original_output(self, index: int) -> Path:
        return self.original_folder / self.project.output("image", index).name

    def same_pixels(self) -> bool:
        """Whether the last runs of both sides made the same images, pixel for pixel (only the workflow's PNGs carry
        a recipe)."""
        return all(same_content(self.workdir / self.project.output("image", index), self.original_output(index))
                   for index in self.project.indices("image"))


def run_size(runs: ImageRuns, n_rounds: int = ROUNDS, warm_up: bool = True) -> list[Round]:
    """A warm-up of each side (unless told not to: a dry run checks the machinery, not the numbers), then n_rounds
    rounds alternating workflow and original."""
    if warm_up:
        runs.workflow_run()
        runs.original_run()
    rounds = []
    for number in range(1, n_rounds + 1):
        rounds.append(Round(runs.workflow_run(), runs.original_run()))
        print(f"   {runs.size.name}, round {number}: "
              + "; ".join(f"{side} {run.seconds:.2f} s, other processes {100 * run.foreign_load:.0f} %"
                          for side, run in (("workflow", rounds[-1].workflow), ("original", rounds[-1].original))),
              flush=True)
    return rounds


def _runs_note(runs: list[SideRun], field: str = "seconds") -> str:
    return ", ".join(f"{getattr(run, field):.2f}" for run in runs) + " s"


def size_measurements(runs: ImageRuns, rounds: list[Round]) -> list[Measurement]:
    size, n, n_rounds = runs.size.name, runs.size.n_images, len(rounds)
    workflow, original = [r.workflow for r in rounds], [r.original for r in rounds]
    ratios = [r.ratio for r in rounds]
    cpu_ratios = [r.workflow.cpu_seconds / r.original.cpu_seconds for r in rounds]
    # The workflow's CPU time spread over every core of the machine, against the original's wall time: however
    # well its processes overlapped, the workflow's ratio could not go below this on this machine.
    floors = [r.workflow.cpu_seconds / os.cpu_count() / r.original.seconds for r in rounds]
    shares = [100 * run.foreign_load for run in workflow + original]
    threads = {name: "/".join(sorted({run.threads for run in side}))
               for name, side in (("workflow", workflow), ("original", original))}
    # Look-ahead (a worker making the next planned items in the background) is measured at its default, where the
    # workflow has it.
    look_ahead = runs.project.config["workers"].get("look_ahead")
    return [
        Measurement(f"{size}: workflow, per image", statistics.median(run.seconds for run in workflow) / n, "s",
                    note=f"runs of {n} images: {_runs_note(workflow)}; in the worker "
                         f"{statistics.mean(s for run in workflow for s in run.generation_seconds):.3f} s per image"
                         + ("" if look_ahead is None else f"; workers.look_ahead {look_ahead} (the default): "
                            f"{', '.join(str(run.made_ahead) for run in workflow)} images made ahead")),
        Measurement(f"{size}: original script, per image", statistics.median(run.seconds for run in original) / n,
                    "s", note=f"runs of {n} images: {_runs_note(original)}; model load "
                              f"{statistics.median(run.load_seconds for run in original):.2f} s, in the loop "
                              f"{statistics.mean(s for run in original for s in run.generation_seconds):.3f} s "
                              "per image"),
        Measurement(f"{size}: workflow / original per image, min of {n_rounds} rounds", min(ratios), "x",
                    RATIO_TARGET),
        Measurement(f"{size}: workflow / original per image, median of {n_rounds} rounds", statistics.median(ratios),
                    "x", RATIO_TARGET,
                    note=f"paired ratios {', '.join(f'{ratio:.3f}' for ratio in ratios)}; torch threads: workflow "
                         f"{threads['workflow']}, original {threads['original']}; same pixels on both sides: "
                         f"{'yes' if runs.same_pixels() else 'NO'}"),
        Measurement(f"{size}: CPU time, workflow / original, median of {n_rounds} rounds",
                    statistics.median(cpu_ratios), "x",
                    note=f"CPU time per run: workflow {_runs_note(workflow, 'cpu_seconds')}, original "
                         f"{_runs_note(original, 'cpu_seconds')}; spread over all {os.cpu_count()} cores, the "
                         f"workflow's takes {statistics.median(floors):.2f} x the original's wall time, the "
                         "least ratio this machine allows (a worker's last half second goes uncounted)"),
        Measurement(f"{size}: other processes' CPU share, max of the counted runs", max(shares), "%",
                    note=f"median {statistics.median(shares):.0f} %; workflow runs "
                         f"{', '.join(f'{share:.0f}' for share in shares[:n_rounds])} %, original runs "
                         f"{', '.join(f'{share:.0f}' for share in shares[n_rounds:])} %; the worker's own CPU time is "
                         "not counted as other"),
    ]


def run() -> list[Measurement]:
    measurements = []
    with tempfile.TemporaryDirectory(prefix="aibeats-bench-images-") as scratch_name:
        scratch = Path(scratch_name)
        workdir = copy_workflow(scratch / "workflow")
        ensure_tiny_models(workdir, "sdxl")
        for size in SIZES:
            runs = ImageRuns(workdir, scratch, size)
            measurements += size_measurements(runs, run_size(runs))
    return measurements
