"""Config `offload` of image and video: a pipeline kept in CPU memory between uses makes the same files, its
worker is its own, and switching it regenerates nothing. On the CPU, the device of these tests, a pipeline is used
whole whatever `offload` says; diffusers' model offload hooks still run there when put on by hand, which shows
that the noise is drawn where an offloaded pipeline computes."""

import hashlib
import shutil
from pathlib import Path

import pytest
import yaml
from PIL import Image

from aibeats.animation import animate_image_with_prompt, load_video_pipeline
from aibeats.config import validate_config
from aibeats.errors import ConfigError
from aibeats.images import generate_image, load_image_pipeline
from aibeats.pretrained import place_pipeline
from aibeats.tiny import build_tiny_model
from aibeats.workers import Worker

from workflow import REPO, planned_jobs, run_ok

SCHEMA = REPO / "schemas" / "config.schema.yaml"


def offload_hooks(pipe) -> set[str]:
    """The pipeline's models that accelerate's offload hooks move to the device when they run."""
    return {name for name, part in pipe.components.items() if hasattr(part, "_hf_hook")}


def test_a_pipeline_with_model_offload_makes_the_same_image(tiny_sdxl_dir):
    whole = load_image_pipeline(str(tiny_sdxl_dir), "cpu")
    offloaded = load_image_pipeline(str(tiny_sdxl_dir), "cpu")
    offloaded.enable_model_cpu_offload(device="cpu")

    assert offload_hooks(whole) == set()
    assert offload_hooks(offloaded) == {"text_encoder", "text_encoder_2", "unet", "vae"}
    made = [generate_image(pipe, "a rainy window", inference_steps=2, height=64, width=128, seed=3)
            for pipe in (whole, offloaded)]
    assert made[0].tobytes() == made[1].tobytes()


def test_a_video_pipeline_with_model_offload_makes_the_same_frames(tmp_path):
    build_tiny_model("wan", tmp_path / "wan")
    image = Image.new("RGB", (256, 128), (180, 90, 40))
    frames = []
    for offloaded in (False, True):
        pipe = load_video_pipeline(str(tmp_path / "wan"), "cpu")
        if offloaded:
            pipe.enable_model_cpu_offload(device="cpu")
        made = animate_image_with_prompt(pipe, image, "a city, rain falling", max_side=128, num_frames=5,
                                         n_continuations=2, loop_video=False, fps=16, guidance_scale=5.0,
                                         negative_prompt=None, inference_steps=2, seed=7)
        frames.append(b"".join(frame.tobytes() for frame in made))
    assert "transformer" in offload_hooks(pipe)
    assert frames[0] == frames[1]


@pytest.mark.parametrize("offload", ["none", "model", "sequential"])
def test_on_the_cpu_a_pipeline_is_used_whole_whatever_offload_says(tiny_sdxl_dir, offload):
    pipe = load_image_pipeline(str(tiny_sdxl_dir), "cpu", offload=offload)
    assert offload_hooks(pipe) == set() and str(pipe.device) == "cpu"
    with pytest.raises(ValueError, match="offload 'layers': expected one of none, model, sequential"):
        place_pipeline(pipe, "cuda:0", "layers")


def test_a_worker_without_offload_keeps_the_name_it_had_before_the_setting():
    # the name's digest as the workers before `offload` made it: their running workers are found again
    before = hashlib.sha256(b"image\0models/tiny/sdxl\0cpu\0auto").hexdigest()[:12]
    plain = Worker("image", "models/tiny/sdxl", "cpu", Path(".workers"))

    assert before in plain.name
    assert plain.name != Worker("image", "models/tiny/sdxl", "cpu", Path(".workers"), offload="model").name


def test_an_unknown_offload_is_refused_in_one_line():
    with pytest.raises(ConfigError) as raised:
        validate_config({"video": {"offload": "cpu"}}, SCHEMA)
    assert str(raised.value).splitlines() == [
        "config key video.offload = 'cpu' is not allowed: it must be one of 'none', 'model', 'sequential'"]


@pytest.mark.slow
def test_switching_offload_regenerates_nothing_and_reaches_the_worker(demo_copy):
    edit = demo_copy / "offload.yaml"
    edit.write_text(yaml.safe_dump({"image": {"offload": "model"}, "video": {"offload": "sequential"}}))
    configs = ("--configfile", "profiles/demo/demo-config.yaml", edit.name)
    assert planned_jobs(demo_copy, *configs) == set()

    # attempt 0 again: the very image the first run made, now by a worker of its own, told to offload (made,
    # not restored: the store that keeps every variant goes first)
    image = demo_copy / "results/demo/images/img_2.png"
    made = image.read_bytes()
    image.unlink()
    shutil.rmtree(demo_copy / "results/demo/.store")
    edit.write_text(yaml.safe_dump({"image": {"offload": "model"}, "attempts": {"img_2": 0}}))
    run_ok(demo_copy, "image", *configs)

    assert image.read_bytes() == made
    logs = [path.read_text() for path in (demo_copy / "results/demo/logs/workers").glob("image-*.log")]
    assert len(logs) == 2 and sum("on cpu (offload: model)" in log for log in logs) == 1
