"""Images: `snakemake image` for 20 demo images with warm model workers against one process per image.

Without workers every image job imports torch and diffusers and loads the model before a generation that
takes a fraction of a second on the demo's tiny model; with them the first job starts a worker that keeps
the model loaded. Each run starts from no images, with the tiny models already built. A third run, with the
worker already loaded before snakemake starts, measures what a job still costs around the generation
itself: Snakemake's job handling, the thin client's start-up and the request, read as (wall time - the
worker's own generation seconds) / images.
"""

import io
import os
import re
import shutil
import tempfile
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

import yaml

from aibeats.config import validate_config
from aibeats.generate import generate
from aibeats.plan import Project
from aibeats.workers import stop_workers
from bench.harness import DEMO_CONFIG, Measurement, copy_workflow, ensure_tiny_models, timed_snakemake, write_config

N_IMAGES = 20
# A line of a worker's log per request, "<stage> <output>: <seconds> s ok", here for one of the project's images.
_IMAGE_REQUEST_LINE = re.compile(r"^image \S*\bimg_\d+\.png: (?P<seconds>[\d.]+) s ok$", re.MULTILINE)


def _merged(base: dict, override: dict) -> dict:
    """override deep-merged over base, as snakemake merges its --configfile files."""
    merged = dict(base)
    for key, value in override.items():
        both_mappings = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = _merged(merged[key], value) if both_mappings else value
    return merged


@contextmanager
def _working_directory(path: Path):
    previous = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


def _start_worker_outside_snakemake(workdir: Path, config_files: list[Path], scratch: Path) -> None:
    """Load the image worker of the workdir's project by having it make one throwaway image, outside the project.

    The workflow stops its workers when it ends, so a worker that is warm when a run starts has to be started
    by someone else: here, the very call an image job makes, from the workdir like a job.
    """
    config = {}
    for config_file in [workdir / "config.yaml", *config_files]:
        config = _merged(config, yaml.safe_load(config_file.read_text()))
    # The call prints where the worker's log is, as a job does into its log; that is not for the table.
    with _working_directory(workdir), redirect_stdout(io.StringIO()):
        config = validate_config(config, Path("schemas/config.schema.yaml"))
        project = Project(config)
        generate("image", project.recipe("image", 1, 0), {}, scratch / "warm-up.png", scratch / "warm-up-history",
                 device=config["image"]["device"], workers=config["workers"], workers_dir=project.workers_dir)


def _generation_seconds(project_dir: Path) -> tuple[float, int]:
    """The seconds the workers spent making the project's images, and how many they made, from their logs."""
    seconds = [float(request["seconds"]) for log in (project_dir / "logs" / "workers").glob("*.log")
               for request in _IMAGE_REQUEST_LINE.finditer(log.read_text())]
    return sum(seconds), len(seconds)


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="aibeats-bench-images-") as scratch_name:
        scratch = Path(scratch_name)
        workdir = copy_workflow(scratch / "workflow")
        ensure_tiny_models(workdir, "sdxl")
        demo = yaml.safe_load((workdir / DEMO_CONFIG).read_text())
        n_modifiers = len(demo["image"]["prompt_modifiers"])
        if N_IMAGES % n_modifiers:
            raise RuntimeError(f"{N_IMAGES} images cannot be split evenly over the demo's {n_modifiers} modifiers")
        images = {"image": {"n_images": N_IMAGES // n_modifiers}}
        with_workers = write_config(scratch / "workers-on.yaml", images)
        without_workers = write_config(scratch / "workers-off.yaml", {**images, "workers": {"enabled": False}})
        project_dir = workdir / demo["project_dir"] / demo["project_name"]

        def image_run(overrides: Path) -> float:
            seconds = timed_snakemake(workdir, "image", "--profile", "profiles/demo", "--configfile", DEMO_CONFIG,
                                      str(overrides))
            made = len(list((project_dir / "images").glob("img_*.png")))
            if made != N_IMAGES:
                raise RuntimeError(f"the run made {made} images, not {N_IMAGES}")
            return seconds

        try:
            # Workers first: if the disk cache is cold, the first run pays for it, and that is this side.
            cold_with_workers = image_run(with_workers)
            cold_generation, _ = _generation_seconds(project_dir)
            shutil.rmtree(project_dir)
            without = image_run(without_workers)
            shutil.rmtree(project_dir)
            _start_worker_outside_snakemake(workdir, [workdir / DEMO_CONFIG, with_workers], scratch)
            warm = image_run(with_workers)
            generation, requests = _generation_seconds(project_dir)
        finally:
            stop_workers((project_dir / ".workers").absolute())
    if requests != N_IMAGES:
        raise RuntimeError(f"the worker's log shows {requests} image requests, not {N_IMAGES}")
    per_image_overhead = (warm - generation) / N_IMAGES
    return [
        Measurement(f"{N_IMAGES} images, one process per image", without, "s",
                    note=f"{without / N_IMAGES:.2f} s per image"),
        Measurement(f"{N_IMAGES} images, workers (worker started by the run)", cold_with_workers, "s",
                    note=f"generation in the worker {cold_generation:.2f} s"),
        Measurement("speed-up of workers", without / cold_with_workers, "x", ">= 5"),
        Measurement(f"{N_IMAGES} images, worker already loaded", warm, "s",
                    note=f"generation in the worker {generation:.2f} s ({generation / N_IMAGES:.2f} s per image)"),
        Measurement("per-image overhead with a warm worker", per_image_overhead, "s", "< 0.5",
                    note="(wall - generation) / images; snakemake start-up included"),
    ]
