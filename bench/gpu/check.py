"""Measure each model stage on one device: seconds per item, peak memory, whether the outputs are finite, and
whether a batch of images equals the same images made one at a time. bench/gpu/README.md says how to run it.

Per model (SDXL-Turbo first, then SVD, then MusicGen, the workflow against the loop, then the newer picture
models: the order of what the GPU table needs most) and per precision: build it, make one short warm-up item, then
the items measured. A model that would end past the time budget is skipped, and says so, so that one call always
returns its results.
"""

import gc
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from bench.gpu.models import DRY_RUN_WORK, REAL_WORK, WARM_UP, Work, full_size_model, tiny_model
from bench.gpu.pictures import (
    PICTURE_MODELS,
    full_size_picture_pipeline,
    measure_picture_image,
    measure_picture_video,
    tiny_picture_pipeline,
)

ORDER = ("sdxl", "svd", "musicgen", "workflow", *PICTURE_MODELS)
# What a part is expected to take on one H200 in one precision, to decide whether it still fits the budget: guesses
# from the models' sizes until a call measures them. For the others, the longest model so far is the guess.
EXPECTED_SECONDS = {"workflow": 150, "flux": 30, "sd3": 40, "ltx": 50, "wan": 90}
GPU_PRECISIONS = ("fp16", "bf16")
# A CPU computes fp16 slowly or not at all: the dry run checks the two precisions it runs well.
DRY_RUN_PRECISIONS = ("fp32", "bf16")
# Items measured per model after its warm-up: images are quick, so a few give a median.
ITEMS = {"sdxl": 3, "svd": 1, "musicgen": 1}
PROMPTS = ("lo-fi beats, mystical landscape, digital art", "lo-fi beats, mystical landscape, watercolor")
SEED = 42


@dataclass
class Result:
    """One model in one precision."""

    model: str
    precision: str
    build_seconds: float = 0.0
    weights_gib: float | None = None  # on the device after the build
    seconds_per_item: dict[str, float] = field(default_factory=dict)  # by what the item is
    peak_gib: float | None = None  # torch.cuda.max_memory_allocated over the items
    finite: bool | None = None  # every output (and every VAE decode) free of NaN and Inf
    batch_equals_single: bool | None = None  # images: a batch of two against each alone, byte for byte
    batch_max_difference: float | None = None
    skipped: str | None = None


class Device:
    """The device measured: a CUDA GPU, or the CPU for a dry run (no memory figures there)."""

    def __init__(self, dry_run: bool):
        import torch

        self.torch = torch
        self.dry_run = dry_run
        if not dry_run and not torch.cuda.is_available():
            raise SystemExit("no CUDA GPU visible to torch: run with --dry-run on a machine without one")
        self.name = "cpu" if dry_run else "cuda:0"

    def describe(self) -> dict:
        import diffusers
        import transformers

        torch = self.torch
        gpu = {} if self.dry_run else {"gpu": torch.cuda.get_device_name(0), "cuda": torch.version.cuda,
                                      "gpu_memory_gib": round(torch.cuda.get_device_properties(0).total_memory
                                                              / 2**30, 1)}
        return {"device": self.name, "torch": torch.__version__, "diffusers": diffusers.__version__,
                "transformers": transformers.__version__, "threads": torch.get_num_threads(), **gpu}

    def sync(self) -> None:
        if not self.dry_run:
            self.torch.cuda.synchronize()

    def allocated_gib(self) -> float | None:
        return None if self.dry_run else round(self.torch.cuda.memory_allocated() / 2**30, 2)

    def reset_peak(self) -> None:
        if not self.dry_run:
            self.torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float | None:
        return None if self.dry_run else round(self.torch.cuda.max_memory_allocated() / 2**30, 2)

    def release(self) -> None:
        gc.collect()
        if not self.dry_run:
            self.torch.cuda.empty_cache()

    def dtype(self, precision: str):
        from aibeats.devices import dtype_for

        return dtype_for(self.name, precision)


def timed(device: Device, make):
    device.sync()
    started = time.perf_counter()
    output = make()
    device.sync()
    return output, time.perf_counter() - started


class FiniteWatch:
    """Whether every VAE decode of a pipeline gave finite numbers (the images themselves are bytes by then)."""

    def __init__(self, pipe):
        import torch

        self.finite = True

        def check(_module, _inputs, output):
            sample = getattr(output, "sample", output)
            self.finite &= bool(torch.isfinite(sample).all())

        self.handle = pipe.vae.decoder.register_forward_hook(check)


def measure_music(device: Device, model, work: Work, result: Result) -> None:
    from aibeats import music

    def track(tokens: int):
        return music.generate_track(model, PROMPTS[0], tokens, SEED)

    warm = track(WARM_UP["music_tokens"])
    music.extend_track(model, PROMPTS[0], warm, len(warm) / model.sampling_rate + 0.5, 1.0, 0.2, SEED)
    device.reset_peak()
    first, seconds = timed(device, lambda: track(work.music_tokens))
    result.seconds_per_item[f"track, {work.music_tokens} tokens"] = seconds
    target = len(first) / model.sampling_rate + work.music_window_seconds
    extended, seconds = timed(device, lambda: music.extend_track(
        model, PROMPTS[0], first, target, 2 * work.music_window_seconds, work.music_window_seconds, SEED))
    result.seconds_per_item[f"continuation, one {work.music_window_seconds:g} s window"] = seconds
    result.finite = bool(np.isfinite(first).all() and np.isfinite(extended).all())


def measure_image(device: Device, pipe, work: Work, n_items: int, result: Result) -> None:
    from aibeats import images
    from aibeats.pretrained import execution_device, generator_for

    watch = FiniteWatch(pipe)
    images.generate_image(pipe, PROMPTS[0], WARM_UP["image_steps"], work.image_height, work.image_width, SEED)
    device.reset_peak()
    seconds = [timed(device, lambda n=n: images.generate_image(pipe, PROMPTS[n % 2], work.image_steps,
                                                               work.image_height, work.image_width, SEED + n))[1]
               for n in range(n_items)]
    result.seconds_per_item[f"image {work.image_width}x{work.image_height}, {work.image_steps} steps"] = \
        statistics.median(seconds)

    def made(prompts: list[str], seeds: list[int]):
        generators = [generator_for(execution_device(pipe), seed) for seed in seeds]
        return pipe(prompt=prompts, num_inference_steps=work.image_steps, guidance_scale=0.0,
                    height=work.image_height, width=work.image_width, generator=generators, output_type="np").images

    batch = made(list(PROMPTS), [SEED, SEED + 1])
    single = np.concatenate([made([prompt], [seed]) for prompt, seed in zip(PROMPTS, (SEED, SEED + 1), strict=True)])
    result.batch_equals_single = bool(np.array_equal(batch, single))
    result.batch_max_difference = float(np.abs(batch - single).max())
    result.finite = watch.finite and bool(np.isfinite(batch).all())
    watch.handle.remove()


def measure_video(device: Device, pipe, work: Work, result: Result) -> None:
    from PIL import Image

    from aibeats import animation

    rng = np.random.default_rng(SEED)
    start = Image.fromarray(rng.integers(0, 256, (work.image_height, work.image_width, 3), dtype=np.uint8))
    watch = FiniteWatch(pipe)

    def animate(steps: int):
        return animation.animate_image(
            pipe, start, max_side=work.video_max_side, num_frames=work.video_frames, n_continuations=1,
            loop_video=False, fps=6, decode_chunk_size=work.video_decode_chunk, motion_bucket_id=127,
            noise_aug_strength=0.1, inference_steps=steps, seed=SEED)

    animate(WARM_UP["video_steps"])
    device.reset_peak()
    frames, seconds = timed(device, lambda: animate(work.video_steps))
    width, height = frames[0].size
    result.seconds_per_item[f"animation {width}x{height}, {len(frames)} frames, {work.video_steps} steps"] = seconds
    result.finite = watch.finite
    watch.handle.remove()


def _built(device: Device, model_name: str, precision: str, scratch: Path):
    if model_name in PICTURE_MODELS:
        if device.dry_run:
            return tiny_picture_pipeline(model_name, precision, scratch)
        return full_size_picture_pipeline(model_name, device.name, device.dtype(precision), scratch)
    if device.dry_run:
        return tiny_model(model_name, precision, scratch)
    return full_size_model(model_name, device.name, device.dtype(precision), scratch)


def _measure_picture_model(device: Device, model_name: str, pipe, result: Result) -> None:
    picture_model = PICTURE_MODELS[model_name]
    settings = picture_model.dry_run_settings if device.dry_run else picture_model.settings
    watch = FiniteWatch(pipe)
    measure = measure_picture_image if picture_model.stage == "image" else measure_picture_video
    measure(device, pipe, settings, result, timed)
    result.finite = watch.finite
    watch.handle.remove()


def measure(device: Device, model_name: str, precision: str, work: Work, scratch: Path) -> Result:
    result = Result(model_name, precision)
    started = time.perf_counter()
    model = _built(device, model_name, precision, scratch)
    device.sync()
    result.build_seconds = time.perf_counter() - started
    result.weights_gib = device.allocated_gib()
    if model_name in PICTURE_MODELS:
        _measure_picture_model(device, model_name, model, result)
    elif model_name == "musicgen":
        measure_music(device, model, work, result)
    elif model_name == "sdxl":
        measure_image(device, model, work, 1 if device.dry_run else ITEMS["sdxl"], result)
    else:
        measure_video(device, model, work, result)
    result.peak_gib = device.peak_gib()
    del model
    device.release()
    return result


def measurement_plan(models: tuple[str, ...], dry_run: bool) -> list[tuple[str, str | None]]:
    """(model, precision) in the order measured, the workflow's part with no precision. The 2023 models one at a
    time in both precisions; the newer picture models each in bf16, the precision they are published in, before any
    of them in fp16, so that a call the budget cuts short has each in the precision users run."""
    precisions = DRY_RUN_PRECISIONS if dry_run else GPU_PRECISIONS
    plan = []
    for model_name in models:
        if model_name == "workflow":
            plan.append((model_name, None))
        elif model_name not in PICTURE_MODELS:
            plan += [(model_name, precision) for precision in precisions]
    newer = [model_name for model_name in models if model_name in PICTURE_MODELS]
    plan += [(model_name, precision) for precision in sorted(precisions, key=lambda p: p != "bf16")
             for model_name in newer]
    return plan


def run_check(out: Path, dry_run: bool, budget_seconds: float, models: tuple[str, ...] = ORDER) -> dict:
    """Measure every model in every precision within budget_seconds; write results.json and results.md into out
    after each one, so that a call cut short still leaves what it measured."""
    import tempfile

    device = Device(dry_run)
    work = DRY_RUN_WORK if dry_run else REAL_WORK
    started = time.perf_counter()
    report = {"environment": device.describe(), "work": asdict(work), "results": []}
    out.mkdir(parents=True, exist_ok=True)
    # The longest one model in one precision took so far
    longest = 0.0
    with tempfile.TemporaryDirectory(prefix="aibeats-gpu-check-") as scratch:
        for model_name, precision in measurement_plan(models, dry_run):
            elapsed = time.perf_counter() - started
            expected = longest if dry_run else EXPECTED_SECONDS.get(model_name, longest)
            if elapsed + expected > budget_seconds:
                why = (f"not started at {elapsed:.0f} s: it would take about {expected:.0f} s of the "
                       f"{budget_seconds:.0f} s budget")
                if precision is None:
                    report["workflow"] = {"skipped": why, "measurements": []}
                else:
                    report["results"].append(asdict(Result(model_name, precision, skipped=why)))
                continue
            if precision is None:
                report["workflow"] = run_workflow_part(Path(scratch), dry_run)
            else:
                model_started = time.perf_counter()
                result = measure(device, model_name, precision, work, Path(scratch))
                longest = max(longest, time.perf_counter() - model_started)
                report["results"].append(asdict(result))
                print(f"{model_name} {precision}: {json.dumps(asdict(result))}", flush=True)
            write_report(out, report, time.perf_counter() - started)
    write_report(out, report, time.perf_counter() - started)
    return report


def run_workflow_part(scratch: Path, dry_run: bool) -> dict:
    """The workflow against the loop (bench/gpu/workflow.py)."""
    from bench.gpu.workflow import compare_workflow_and_loop

    measurements = compare_workflow_and_loop(scratch, dry_run)
    print(f"workflow: {json.dumps(measurements)}", flush=True)
    return {"skipped": None, "measurements": measurements}


def write_report(out: Path, report: dict, seconds: float) -> None:
    report["seconds"] = round(seconds, 1)
    (out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "results.md").write_text(markdown_table(report))


def _figure(value, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.{digits}f}"


def markdown_table(report: dict) -> str:
    environment = report["environment"]
    lines = [f"GPU check on {environment.get('gpu', environment['device'])} (torch {environment['torch']}, "
             f"diffusers {environment['diffusers']}, transformers {environment['transformers']}), "
             f"{report.get('seconds', 0):.0f} s in all.", "",
             "| model | precision | item | s per item | weights GiB | peak GiB | finite | batch = single |",
             "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for result in report["results"]:
        if result["skipped"]:
            lines.append(f"| {result['model']} | {result['precision']} | skipped: {result['skipped']} "
                         "| | | | | |")
            continue
        for item, seconds in result["seconds_per_item"].items():
            batch = _figure(result["batch_equals_single"])
            if result["batch_max_difference"]:
                batch += f" (max difference {result['batch_max_difference']:.3g})"
            lines.append(f"| {result['model']} | {result['precision']} | {item} | {seconds:.2f} | "
                         f"{_figure(result['weights_gib'])} | {_figure(result['peak_gib'])} | "
                         f"{_figure(result['finite'])} | {batch} |")
    workflow = report.get("workflow")
    if workflow:
        lines += ["", "The workflow (Snakemake, a worker, look-ahead) against one process's loop (bench/images.py):",
                  ""]
        if workflow["skipped"]:
            lines.append(f"skipped: {workflow['skipped']}")
        lines += ["| measurement | value | note |", "| --- | --- | --- |"]
        lines += [f"| {m['name']} | {m['value']:.3g} {m['unit']} | {m['note']} |" for m in workflow["measurements"]]
    return "\n".join(lines) + "\n"
