"""The review page of a project of 5 tracks, 25 images and 25 animations: how long writing it takes, and how long
headless Chromium takes to load it from disk.

The project's files are synthetic but real: WAV, PNG and H.264 MP4 at the default sizes (60 s tracks, 1024x576
images, 52-frame animations), each with a recipe inside, since reading those recipes is most of the work.
"""

import shutil
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image

from aibeats.audio import write_wav
from aibeats.config import validate_config
from aibeats.plan import Project
from aibeats.provenance import make_recipe, save_png
from aibeats.review import write_review_page
from aibeats.video_io import write_animation
from bench.harness import OUT, Measurement

RUNS = 5
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


def project_config(folder: Path) -> dict:
    """5 tracks; 5 modifiers of 5 images each: 25 images and 25 animations."""
    return validate_config({"project_dir": str(folder), "project_name": "review-bench",
                            "music": {"n_music": 5, "music_duration": 60},
                            "image": {"n_images": 5, "prompt_modifiers": [f"style {k}" for k in range(5)]}}, SCHEMA)


def make_files(project: Project) -> None:
    """Every planned file, with the recipe its stage would store."""
    rng = np.random.default_rng(0)
    for stage, paths in project.outputs_by_stage().items():
        for index, path in zip(project.indices(stage), paths, strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            recipe = make_recipe(stage, **project.planned_recipe(stage, index).as_params())
            if path.suffix == ".wav":
                write_wav(path, (0.1 * rng.standard_normal(60 * 32000)).astype(np.float32), 32000, recipe)
            elif path.suffix == ".png":
                save_png(Image.fromarray(rng.integers(0, 255, (576, 1024, 3), dtype=np.uint8)), path, recipe)
            elif path.suffix == ".mp4":
                base = rng.integers(0, 255, (576, 1024, 3), dtype=np.uint8)
                frames = [Image.fromarray(np.roll(base, 8 * k, axis=1)) for k in range(52)]
                write_animation(frames, path, 6, recipe)
            else:
                path.write_text("0:00 Track 1 - style 0\n")


def page_load_seconds(page: Path) -> list[float]:
    """From navigation start to the load event, as the browser times it, over RUNS fresh loads."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from selenium.webdriver.support.ui import WebDriverWait

    from chromium import chromium

    times = []
    with chromium() as driver:
        for _ in range(RUNS + 1):  # the first load warms the browser's caches; it is not counted
            driver.get("about:blank")
            driver.get(page.as_uri())
            # loadEventEnd is 0 until the load event's handlers have run, which can be after get() returns
            WebDriverWait(driver, 60).until(lambda d: d.execute_script(
                "return performance.getEntriesByType('navigation')[0].loadEventEnd > 0"))
            timing = driver.execute_script("const t = performance.getEntriesByType('navigation')[0];"
                                           "return [t.startTime, t.loadEventEnd];")
            times.append((timing[1] - timing[0]) / 1000)
    return times[1:]


def run() -> list[Measurement]:
    folder = OUT / "review"
    shutil.rmtree(folder, ignore_errors=True)
    project = Project(project_config(folder))
    make_files(project)
    page = project.root / "review.html"
    writes = []
    for _ in range(RUNS):
        started = time.perf_counter()
        write_review_page(project, page, project.root / "report" / "review")
        writes.append(time.perf_counter() - started)
    loads = page_load_seconds(page)
    size = page.stat().st_size / 1000
    note = f"{len(project.outputs_by_stage()['image'])} images; min of {RUNS}, median {statistics.median(writes):.2f} s"
    return [Measurement("write the page (5 tracks, 25 images, 25 animations)", min(writes), "s", "< 2", note),
            Measurement("load it in headless Chromium", min(loads), "s", "< 2",
                        f"min of {RUNS}, median {statistics.median(loads):.2f} s"),
            Measurement("page size", size, "kB")]
