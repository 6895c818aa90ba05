"""Full-size models through the workflow: every model stage with warm workers, against one process per stage.

The models are the published architectures of musicgen-small, sdxl-turbo and stable-video-diffusion-img2vid with
random weights (aibeats.realsize), built on first use into bench/out/realsize-models/ (about 37 GB on disk, a few
minutes). A forward pass costs the same whatever the weights' values, so time and memory are those of the real
models; only the work per item is cut (WORK below: short tracks, small images, few frames and one step) so that a
2-core CPU finishes. Only one full-size model is in memory at a time: each side's process exits before the next
starts, and a run waits for enough free memory before it loads its model.

Each model stage (music, music_continuation, image, video) runs in rounds of a workflow run then an original run,
so the sides alternate (workflow, original, workflow, original), and each side makes the same items with the same
recipes (prompt, seed, settings); their files are compared afterwards (samples, pixels, decoded frames):

- workflow: `snakemake <target>` in a copy of the workflow with a config that points each model_id at its full-size
  folder, device cpu. The first job starts a worker that loads the model and makes every item; it exits when the
  run ends. The repeat forces the stage's rule (`--forcerun`), which keeps each item's attempt and so its seed,
  with the project's store of earlier variants emptied first, so that the jobs make the items again.
- original: the original tool's way, one Python process that loads the model once with the workflow's loader
  (aibeats.music.load_music_model, aibeats.images.load_image_pipeline, aibeats.animation.load_video_pipeline), then
  loops over the items with the same generate functions and writes each file; it extends the workflow's tracks and
  animates the workflow's images.

Time per item is a side's whole wall time over its items: on both sides Python's start, the imports and the model
load are included (once per run, as the workflow's worker lives for one run); on the workflow's side also
Snakemake's start-up and planning, its job handling, the thin clients, the store of variants and the provenance
the files carry. Before a stage's first round its weight files are read once, so that round does not alone pay for
reading them from disk. Peak memory is VmHWM (the resident high-water mark) of the worker process, sampled while it
lives, and of the original process; on a GPU torch.cuda.max_memory_allocated would be the number to add, and no GPU
is used here.

The machine is shared, and torch computing on every core slows down far more than in proportion when another
process takes a core (ten times over was seen). A round in which other processes took QUIET_LOAD of the CPUs or more
counts as disturbed; ROUNDS[stage] undisturbed rounds are wanted, and disturbed ones are repeated up to MAX_ROUNDS
while the time budget allows. The ratio is the median of the undisturbed rounds' ratios, of all rounds if none was.
"""

import compileall
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aibeats.pipeline import STAGES
from aibeats.plan import Project
from aibeats.workers import stop_workers
from bench.harness import (
    OUT,
    REPO,
    Measurement,
    Stopwatch,
    WorkerWatch,
    copy_workflow,
    peak_rss_bytes,
    same_content,
    snakemake,
    workflow_config,
    write_config,
)

MODELS = OUT / "realsize-models"
# The folder of each family's full-size model, named like its hub repository.
MODEL_FOLDERS = {"musicgen": "musicgen-small", "sdxl": "sdxl-turbo", "svd": "stable-video-diffusion-img2vid"}
N_ITEMS = 2
# Full-size models, a CPU's share of work: 1 s tracks extended to 2 s by one window (1 s prompt + 1 s new),
# 256x448 images in one step, 4-frame animations of one segment in one step at 448x256, not looped.
WORK = {
    "project_name": "realsize",
    "music": {"device": "cpu", "n_music": N_ITEMS, "initial_music_tokens": 53, "music_duration": 2,
              "max_continuation_duration": 2, "prompt_music_duration": 1},
    "image": {"device": "cpu", "prompt_modifiers": ["digital art"], "n_images": N_ITEMS, "inference_steps": 1,
              "height": 256, "width": 448},
    "video": {"device": "cpu", "num_frames": 4, "n_continuations": 1, "inference_steps": 1, "max_side": 448,
              "loop_video": False, "decode_chunk_size": 2},
    # The config must allow the 2 s tracks' clips and mix, which are not run here.
    "mix": {"crossfade_duration": 1},
}
# The memory a run needs free before it loads its model (GB, 10^9 bytes): the peaks measured on this machine
# (SDXL in fp32 14.8 GB, SVD 11.5 GB, MusicGen 2.9 GB) with a margin for the rest of the process.
MEMORY_NEEDED_GB = {"musicgen": 5, "sdxl": 16, "svd": 13}
MEMORY_WAIT_SECONDS = 120
# Undisturbed rounds (a workflow run, then an original run) wanted of each stage: three where a round takes a
# minute, so that one odd run does not decide the median; two of the animations, whose rounds take four minutes.
# Disturbed rounds are repeated, up to MAX_ROUNDS in all, while the time budget allows.
ROUNDS = {"music": 3, "music_continuation": 3, "image": 3, "video": 2}
MAX_ROUNDS = 4
# The target: the workflow within 10 % of the single-process script, per item.
RATIO_TARGET = "< 1.1"
# A round counts as undisturbed when other processes took less than this share of the CPUs in both of its runs.
QUIET_LOAD = 0.10
# The issue asks for the whole benchmark in under 30 min with the models cached: repeats stop short of that.
TIME_BUDGET_SECONDS = 26 * 60
# The time kept for each stage not yet started: its rounds on this machine when quiet, with a margin.
RESERVED_SECONDS = {"music": 200, "music_continuation": 210, "image": 250, "video": 560}
# Before each run, wait up to QUIET_WAIT_SECONDS for other processes to take less than QUIET_START_LOAD of the CPUs:
# the machine is shared, and torch on every core slows down far more than in proportion when others compete.
QUIET_START_LOAD, QUIET_WAIT_SECONDS = 0.25, 30


# The model stages in the workflow's order; their targets, rules, config sections and models are aibeats.pipeline's.
STAGE_NAMES = ("music", "music_continuation", "image", "video")
# The full-size model of each of the workflow's model families.
REALSIZE_FAMILIES = {"music": "musicgen", "image": "sdxl", "video": "svd"}


def realsize_family(stage: str) -> str:
    return REALSIZE_FAMILIES[STAGES[stage].family]


def model_folder(stage: str) -> Path:
    return MODELS / MODEL_FOLDERS[realsize_family(stage)]


@dataclass
class SideRun:
    """One run of one side: wall time, the model process's peak memory and its generation time per item."""

    seconds: float
    peak_bytes: int
    generation_seconds: list[float]
    foreign_load: float  # share of the CPUs other processes took meanwhile
    threads: str  # the threads torch computed on in the model's process

    @property
    def per_item(self) -> float:
        return self.seconds / len(self.generation_seconds)


# ---------------------------------------------------------------------------------------------- the original side

def _make_track(model, recipe, inputs: dict, output: Path) -> None:
    from aibeats import audio, music

    samples = music.generate_track(model, recipe.prompt, recipe.initial_music_tokens, recipe.seed)
    audio.write_wav(output, samples, model.sampling_rate)


def _make_track_ext(model, recipe, inputs: dict, output: Path) -> None:
    from aibeats import audio, music

    samples, sampling_rate = audio.read_wav(Path(inputs["track"]))
    extended = music.extend_track(model, recipe.prompt, samples, recipe.music_duration,
                                  recipe.max_continuation_duration, recipe.prompt_music_duration, recipe.seed)
    audio.write_wav(output, extended, sampling_rate)


def _make_image(model, recipe, inputs: dict, output: Path) -> None:
    from aibeats import images

    images.generate_image(model, recipe.prompt, recipe.inference_steps, recipe.height, recipe.width,
                          recipe.seed).save(output)


def _make_animation(model, recipe, inputs: dict, output: Path) -> None:
    from PIL import Image

    from aibeats import animation, video_io

    with Image.open(inputs["image"]) as image:
        start = image.convert("RGB")
    frames = animation.animate_image(
        model, start, max_side=recipe.max_side, num_frames=recipe.num_frames, n_continuations=recipe.n_continuations,
        loop_video=recipe.loop_video, fps=recipe.video_fps, decode_chunk_size=recipe.decode_chunk_size,
        motion_bucket_id=recipe.motion_bucket_id, noise_aug_strength=recipe.noise_aug_strength,
        inference_steps=recipe.inference_steps, seed=recipe.seed)
    video_io.write_animation(frames, output, recipe.video_fps, {})


ORIGINAL_MAKERS = {"music": _make_track, "music_continuation": _make_track_ext, "image": _make_image,
                   "video": _make_animation}


def make_items_in_one_process(request: dict) -> dict:
    """The original tool's way: load the model once, then make every item in a loop. Runs in its own process.

    The loader is the workflow's for the stage's family (aibeats.stages.LOADERS: aibeats.music.load_music_model,
    aibeats.images.load_image_pipeline, aibeats.animation.load_video_pipeline), at its default precision.
    """
    import importlib

    import torch

    from aibeats.stages import LOADERS

    stage = request["stage"]
    module, function = LOADERS[STAGES[stage].family].split(":")
    started = time.perf_counter()
    model = getattr(importlib.import_module(module), function)(request["model_id"], "cpu")
    loaded = time.perf_counter()
    item_seconds = []
    for item in request["items"]:
        item_started = time.perf_counter()
        ORIGINAL_MAKERS[stage](model, STAGES[stage].recipe.from_params(item["recipe"]), item["inputs"],
                               Path(item["output"]))
        item_seconds.append(time.perf_counter() - item_started)
    return {"load_seconds": loaded - started, "item_seconds": item_seconds, "peak_bytes": peak_rss_bytes(),
            "threads": torch.get_num_threads()}


# ---------------------------------------------------------------------------------------------- measuring helpers

def _wait_for_quiet() -> float:
    """Wait until other processes leave the CPUs mostly idle, for at most QUIET_WAIT_SECONDS; returns their share.

    Called between runs, when none of this benchmark's processes computes, so all the machine's work is others'.
    """
    deadline = time.monotonic() + QUIET_WAIT_SECONDS
    while True:
        with Stopwatch() as watch:
            time.sleep(2)
        if watch.foreign_load < QUIET_START_LOAD or time.monotonic() > deadline:
            return watch.foreign_load


def read_weights(folder: Path) -> None:
    """Read the weight files a CPU loads (fp32: not the fp16 variants) once, so that the first timed run of a stage
    finds them in the page cache as much as the later ones do, rather than paying alone for reading them from disk."""
    for path in sorted(folder.rglob("*.safetensors")):
        if ".fp16." not in path.name:
            with open(path, "rb") as weights:
                while weights.read(1 << 24):
                    pass


def _available_gb() -> float:
    with open("/proc/meminfo") as meminfo:
        kib = int(next(line for line in meminfo if line.startswith("MemAvailable")).split()[1])
    return kib * 1024 / 1e9


def _wait_for_memory(family: str) -> None:
    """Wait until the machine has the memory the family's model needs free; give up after a while."""
    needed, deadline = MEMORY_NEEDED_GB[family], time.monotonic() + MEMORY_WAIT_SECONDS
    while (available := _available_gb()) < needed:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {available:.1f} GB of memory available, and the full-size {family} model needs "
                               f"about {needed} GB: stop other work on the machine and run again")
        time.sleep(5)


def _gb(n_bytes: float) -> str:
    return f"{n_bytes / 1e9:.2f} GB"


# ---------------------------------------------------------------------------------------------- the benchmark

class RealsizeBench:
    """A copy of the workflow configured for the full-size models, and the two sides' runs in it."""

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.workdir = copy_workflow(scratch / "workflow", with_tiny_models=False)
        # The copy's package is what the workers import: compiled now, so that the first worker does not compile it.
        compileall.compile_dir(self.workdir / "aibeats", quiet=1)
        settings = {section: dict(values) for section, values in WORK.items() if isinstance(values, dict)}
        for stage in STAGE_NAMES:
            settings[STAGES[stage].config_section]["model_id"] = str(model_folder(stage))
        self.config_file = write_config(scratch / "realsize.yaml", {"project_name": WORK["project_name"], **settings})
        self.project = Project(workflow_config(self.workdir, self.config_file))
        self.root = self.workdir / self.project.root

    def workflow_run(self, stage: str, repeat: bool) -> SideRun:
        """`snakemake <stage>`; a repeat forces the stage's rule, which keeps each item's attempt and seed."""
        _wait_for_memory(realsize_family(stage))
        _wait_for_quiet()
        worker_logs = self.root / "logs" / "workers"
        for log in worker_logs.glob("*.log"):
            log.unlink()  # each run's worker writes a log of its own
        forced = ["--forcerun", STAGES[stage].rule] if repeat else []
        # Otherwise the forced jobs would restore the same items from the project's store instead of making them.
        shutil.rmtree(self.root / ".store", ignore_errors=True)
        with WorkerWatch(worker_logs) as watch, Stopwatch() as stopwatch:
            snakemake(self.workdir, stage, "--configfile", str(self.config_file), *forced)
        # An item made for its job's request, or ahead of its job (aibeats.look_ahead), not one claimed.
        request_line = re.compile(rf"^{stage} \S+: (?P<seconds>[\d.]+) s ok(, ahead into \S+)?$", re.MULTILINE)
        generation = [float(match["seconds"]) for log in worker_logs.glob("*.log")
                      for match in request_line.finditer(log.read_text())]
        if len(generation) != N_ITEMS or len(watch.peak_bytes) != 1:
            raise RuntimeError(f"snakemake {stage}: expected one worker making {N_ITEMS} items, found "
                               f"{len(watch.peak_bytes)} worker(s) and {len(generation)} items in {worker_logs}")
        # The worker is no child that Snakemake waits for, so the stopwatch counts its CPU time as other processes'.
        capacity = stopwatch.seconds * os.cpu_count()
        foreign = max(0.0, stopwatch.foreign_load - sum(watch.cpu_seconds.values()) / capacity)
        return SideRun(stopwatch.seconds, max(watch.peak_bytes.values()), generation, foreign,
                       watch.threads.get(next(iter(watch.peak_bytes)), "?"))

    def original_run(self, stage: str) -> SideRun:
        """The same items by make_items_in_one_process, in a Python process of its own."""
        _wait_for_memory(realsize_family(stage))
        _wait_for_quiet()
        folder = self.scratch / "original" / stage
        folder.mkdir(parents=True, exist_ok=True)
        items = [{"recipe": self.project.recipe(stage, index, 0).as_params(),
                  "inputs": {name: str(self.workdir / path) for name, path in self._inputs(stage, index).items()},
                  "output": str(folder / self.project.output(stage, index).name)}
                 for index in self.project.indices(stage)]
        request = {"stage": stage, "model_id": str(model_folder(stage)), "items": items}
        request_file, result_file = folder / "request.json", folder / "result.json"
        request_file.write_text(json.dumps(request))
        with Stopwatch() as stopwatch:
            completed = subprocess.run([sys.executable, "-m", "bench.realsize", str(request_file), str(result_file)],
                                       cwd=REPO, capture_output=True, text=True, timeout=1800)
        if completed.returncode != 0:
            raise RuntimeError(f"the single-process {stage} script failed (exit status {completed.returncode}):\n"
                               f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}")
        result = json.loads(result_file.read_text())
        return SideRun(stopwatch.seconds, result["peak_bytes"], result["item_seconds"], stopwatch.foreign_load,
                       str(result["threads"]))

    def _inputs(self, stage: str, index: int) -> dict[str, Path]:
        if stage == "music_continuation":
            return {"track": self.project.track(index)}
        if stage == "video":
            return {"image": self.project.image(index)}
        return {}

    def outputs_match(self, stage: str) -> bool:
        """Whether the two sides made the same items: same samples, pixels or decoded frames."""
        return all(same_content(self.workdir / self.project.output(stage, index),
                                 self.scratch / "original" / stage / self.project.output(stage, index).name)
                   for index in self.project.indices(stage))

    def stop(self) -> None:
        stop_workers(self.root / ".workers")


def build_models() -> dict[str, float]:
    """Build each family's full-size model unless it is built already; the seconds each build took."""
    from aibeats.realsize import build_realsize_model

    built = {}
    for family, folder in MODEL_FOLDERS.items():
        _wait_for_memory(family)
        with Stopwatch() as watch:
            was_built = build_realsize_model(family, MODELS / folder)
        if was_built:
            built[family] = watch.seconds
            print(f"   built the full-size {family} model in {MODELS / folder} in {watch.seconds:.0f} s", flush=True)
    return built


@dataclass
class Round:
    """A workflow run, then an original run, of one stage."""

    workflow: SideRun
    original: SideRun

    @property
    def seconds(self) -> float:
        return self.workflow.seconds + self.original.seconds

    @property
    def quiet(self) -> bool:
        return max(self.workflow.foreign_load, self.original.foreign_load) < QUIET_LOAD

    @property
    def ratio(self) -> float:
        return self.workflow.per_item / self.original.per_item

    def describe(self) -> str:
        return "; ".join(f"{side} {run.seconds:.1f} s, {_gb(run.peak_bytes)}, {run.threads} threads, other processes "
                         f"{100 * run.foreign_load:.0f} %" for side, run in (("workflow", self.workflow),
                                                                           ("original", self.original)))


def run_stage(bench: RealsizeBench, stage: str, seconds_left: float) -> list[Round]:
    """Rounds of a stage until ROUNDS[stage] of them were undisturbed, repeating disturbed ones while time is left."""
    rounds: list[Round] = []
    started = time.monotonic()
    read_weights(model_folder(stage))
    while True:
        rounds.append(Round(bench.workflow_run(stage, repeat=bool(rounds)), bench.original_run(stage)))
        print(f"   {stage} round {len(rounds)}: {rounds[-1].describe()}", flush=True)
        wanted = ROUNDS[stage]
        one_more = min(r.seconds for r in rounds)
        if sum(r.quiet for r in rounds) >= wanted or len(rounds) >= MAX_ROUNDS or (
                len(rounds) >= wanted and time.monotonic() - started + one_more > seconds_left):
            return rounds


def _runs_note(runs: list[SideRun]) -> str:
    return ", ".join(f"{run.seconds:.1f} s" + (f" ({100 * run.foreign_load:.0f} % other load)"
                                              if run.foreign_load >= QUIET_LOAD else "") for run in runs)


def stage_measurements(stage: str, rounds: list[Round], same: bool) -> list[Measurement]:
    """Per item, from the undisturbed rounds (all rounds if none was)."""
    quiet = [r for r in rounds if r.quiet]
    counted = quiet or rounds
    which = f"{len(quiet)} undisturbed rounds of {len(rounds)}" if quiet else f"all {len(rounds)} rounds, all disturbed"
    ratios = ", ".join(f"{r.ratio:.3f}" + ("" if r.quiet else " (disturbed)") for r in rounds)
    workflow, original = [r.workflow for r in counted], [r.original for r in counted]
    workflow_generation = statistics.mean(s for side in workflow for s in side.generation_seconds)
    original_generation = statistics.mean(s for side in original for s in side.generation_seconds)
    threads = {name: "/".join(sorted({r.threads for r in side})) for name, side in (("workflow", workflow),
                                                                                 ("original", original))}
    return [
        Measurement(f"{stage}: workflow, time per item", statistics.median(r.per_item for r in workflow), "s",
                    note=f"runs of {N_ITEMS} items: {_runs_note([r.workflow for r in rounds])}; in the worker "
                         f"{workflow_generation:.1f} s per item"),
        Measurement(f"{stage}: original script, time per item", statistics.median(r.per_item for r in original), "s",
                    note=f"runs of {N_ITEMS} items: {_runs_note([r.original for r in rounds])}; in the loop "
                         f"{original_generation:.1f} s per item"),
        Measurement(f"{stage}: workflow / original, per item", statistics.median(r.ratio for r in counted), "x",
                    RATIO_TARGET,
                    note=f"median of the paired ratios of {which}: {ratios}; "
                         f"torch threads: workflow {threads['workflow']}, original {threads['original']}; same output "
                         f"on both sides: {'yes' if same else 'NO'}"),
        Measurement(f"{stage}: workflow - original, per run", statistics.median(r.workflow.seconds - r.original.seconds
                                                                                for r in counted), "s",
                    note=f"what the workflow adds to a run of {N_ITEMS} items: Snakemake, the jobs, the store"),
        Measurement(f"{stage}: peak memory, worker", max(r.peak_bytes for r in workflow) / 1e9, "GB",
                    note="VmHWM of the worker process"),
        Measurement(f"{stage}: peak memory, original script", max(r.peak_bytes for r in original) / 1e9, "GB",
                    note="VmHWM of the script's process"),
    ]


def parameter_measurements() -> list[Measurement]:
    from aibeats.realsize import count_parameters

    measurements = []
    for family, folder in MODEL_FOLDERS.items():
        counts = count_parameters(family)
        total = counts.pop("total", None) or sum(counts.values())
        parts = ", ".join(f"{name} {count / 1e6:.1f} M" for name, count in counts.items())
        measurements.append(Measurement(f"{folder}: parameters", total / 1e6, "M", note=parts))
    return measurements


def run() -> list[Measurement]:
    build_seconds = build_models()
    with Stopwatch() as whole:
        measurements = parameter_measurements()
        with tempfile.TemporaryDirectory(prefix="aibeats-bench-realsize-") as scratch_name:
            bench = RealsizeBench(Path(scratch_name))
            started = time.monotonic()
            try:
                for number, stage in enumerate(STAGE_NAMES):
                    later = sum(RESERVED_SECONDS[later] for later in STAGE_NAMES[number + 1:])
                    seconds_left = TIME_BUDGET_SECONDS - (time.monotonic() - started) - later
                    rounds = run_stage(bench, stage, seconds_left)
                    measurements += stage_measurements(stage, rounds, bench.outputs_match(stage))
            finally:
                bench.stop()
    built = "; ".join(f"{family} built in {seconds:.0f} s" for family, seconds in build_seconds.items())
    measurements.append(Measurement("whole benchmark, models cached", whole.seconds, "s", "< 1800",
                                    note=f"{built} before (not counted)" if built else "every model was cached"))
    return measurements


def main(argv: list[str]) -> None:
    """`python -m bench.realsize REQUEST RESULT`: the original side of one stage, in a process of its own."""
    request_file, result_file = (Path(arg) for arg in argv)
    result = make_items_in_one_process(json.loads(request_file.read_text()))
    result_file.write_text(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
