"""Camera moves in the workflow (video.backend kenburns), on the demo: what switching backends remakes, and a
full run that makes every animation without a model."""

import shutil
from pathlib import Path

import pytest
import yaml

from aibeats.animation import fit_video_size
from aibeats.config import validate_config
from aibeats.items import animation_frame_count
from aibeats.plan import Project
from aibeats.provenance import read_recipe
from aibeats.video_io import probe

from workflow import and_review_page, demo_config, file_hashes, planned_jobs, run_ok

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DEMO = Project(validate_config(demo_config(), SCHEMA))
KENBURNS = ("--configfile", "profiles/demo/demo-config.yaml", "kenburns.yaml")


def switch_to_kenburns(workdir: Path) -> None:
    (workdir / "kenburns.yaml").write_text(yaml.safe_dump({"video": {"backend": "kenburns"}}))


def test_switching_the_backend_plans_the_animations_and_what_reads_them_only(demo_copy):
    switch_to_kenburns(demo_copy)
    expected = ({("animate_image", path.name) for path in DEMO.outputs("video")}
                | {("assemble_clip", path.name) for path in DEMO.outputs("audio_clip")} | {("mix_clips", "mix.mp4")})
    assert planned_jobs(demo_copy, *KENBURNS) == and_review_page(expected)


def test_the_demo_with_camera_moves_runs_end_to_end_without_a_video_model(demo_copy):
    switch_to_kenburns(demo_copy)
    before = file_hashes(demo_copy)
    workers = demo_copy / DEMO.workers_dir
    shutil.rmtree(workers)  # what the demo run's workers left
    run_ok(demo_copy, *KENBURNS)
    video = demo_config()["video"]
    frames = animation_frame_count(video["num_frames"], video["n_continuations"], True)
    size = fit_video_size(demo_config()["image"]["width"], demo_config()["image"]["height"], video["max_side"])
    for path in DEMO.outputs("video"):
        info = probe(demo_copy / path)
        assert (info.n_frames, (info.width, info.height)) == (frames, size)
        assert read_recipe(demo_copy / path)["backend"] == "kenburns"
    after = file_hashes(demo_copy)
    changed = {Path(place).parent.name for place in after if before[place] != after[place]}
    assert changed == {"animations", "clips", "mix"}
    assert probe(demo_copy / DEMO.output("mix", 1)).n_frames > 0
    # no worker was started for the video model (nor any other: nothing else was made)
    assert not workers.exists() or list(workers.iterdir()) == []
    assert planned_jobs(demo_copy, *KENBURNS) == set()
    # and back: the SVD animations are made again, the very same files
    run_ok(demo_copy)
    assert file_hashes(demo_copy) == before
