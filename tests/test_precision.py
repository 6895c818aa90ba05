"""The models' precision (config `precision` of music, image and video): dtypes, weight files, recipes, workers
and what changing it remakes."""

from pathlib import Path

import pytest
import torch

from aibeats.config import validate_config
from aibeats.devices import dtype_for
from aibeats.images import generate_image, load_image_pipeline
from aibeats.plan import Project
from aibeats.pretrained import pretrained_options
from aibeats.workers import Worker

from workflow import and_review_page, demo_config, planned_jobs

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


@pytest.mark.parametrize(("device", "precision", "dtype"), [
    ("cpu", "auto", torch.float32), ("cuda:0", "auto", torch.float16), ("mps", "auto", torch.float16),
    ("cuda:0", "bf16", torch.bfloat16), ("cpu", "fp16", torch.float16), ("cuda:0", "fp32", torch.float32),
])
def test_each_precision_is_its_dtype_and_auto_is_half_on_a_gpu_only(device, precision, dtype):
    assert dtype_for(device, precision) == dtype


def test_only_fp16_loads_the_fp16_weight_files(tmp_path):
    # a folder laid out like the hub's, with fp16 variant files beside the full-precision ones (names only:
    # which files from_pretrained is asked for is decided before any is read)
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "diffusion_pytorch_model.fp16.safetensors").touch()
    assert pretrained_options(str(tmp_path), "cuda:0") == {"dtype": torch.float16, "variant": "fp16"}
    assert pretrained_options(str(tmp_path), "cuda:0", "fp16") == {"dtype": torch.float16, "variant": "fp16"}
    assert pretrained_options(str(tmp_path), "cuda:0", "bf16") == {"dtype": torch.bfloat16}
    assert pretrained_options(str(tmp_path), "cpu", "fp32") == {"dtype": torch.float32}


def test_a_bf16_pipeline_makes_an_image(tiny_sdxl_dir):
    pipe = load_image_pipeline(str(tiny_sdxl_dir), "cpu", "bf16")
    assert pipe.unet.dtype == torch.bfloat16
    image = generate_image(pipe, "a lake", inference_steps=1, height=64, width=64, seed=3)
    assert image.size == (64, 64)


def project(**precisions: str) -> Project:
    config = demo_config()
    for section, precision in precisions.items():
        config[section] = {**config[section], "precision": precision}
    return Project(validate_config(config, SCHEMA))


def test_auto_leaves_the_recipes_as_they_were_and_another_precision_joins_them():
    auto, bf16 = project(), project(music="bf16", image="bf16", video="bf16")
    for stage in ("music", "music_continuation", "image", "video"):
        assert "precision" not in auto.recipe(stage, 1, 0).as_params()
        assert bf16.recipe(stage, 1, 0).as_params()["precision"] == "bf16"


def test_a_worker_is_for_one_precision():
    auto, bf16 = (Worker("image", "models/tiny/sdxl", "cpu", Path(".workers"), precision) for precision in
                  ("auto", "bf16"))
    assert auto.name != bf16.name


@pytest.mark.slow
def test_changing_a_stages_precision_remakes_its_files_and_what_reads_them(demo_copy):
    (demo_copy / "fp32.yaml").write_text("image:\n  precision: fp32\n")
    images = {("generate_image", f"img_{j}.png") for j in range(1, 5)}
    animations = {("animate_image", f"anim_{j}.mp4") for j in range(1, 5)}
    expected = images | animations | {("assemble_clip", "clip_1.mp4"), ("assemble_clip", "clip_2.mp4"),
                                      ("mix_clips", "mix.mp4"), ("make_thumbnail", "thumbnail.png")}
    assert planned_jobs(demo_copy, "--configfile", "profiles/demo/demo-config.yaml", "fp32.yaml") == (
        and_review_page(expected))
