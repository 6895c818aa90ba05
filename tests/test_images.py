import numpy as np
import pytest
import torch

from aibeats.images import generate_image, load_image_pipeline
from aibeats.pretrained import generator_for, pretrained_options
from aibeats.tiny import sdxl
from aibeats.tiny.sdxl import build_tiny_sdxl

PROMPT = "lo-fi anime girl studying by a rainy window"


@pytest.fixture(scope="session")
def image_pipe(tiny_sdxl_dir):
    return load_image_pipeline(str(tiny_sdxl_dir), "cpu")


def files_in(folder) -> dict:
    """Every file under folder, by relative path, with its bytes."""
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def pixels(image) -> np.ndarray:
    return np.asarray(image)


def test_tiny_build_is_deterministic_and_leaves_only_the_finished_folder(tiny_sdxl_dir, tmp_path):
    build_tiny_sdxl(tmp_path / "again")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]
    assert files_in(tmp_path / "again") == files_in(tiny_sdxl_dir)


def test_a_build_that_fails_halfway_leaves_no_folder(tmp_path, monkeypatch):
    def fail(*args):
        raise RuntimeError("killed while building")

    # The tokenizers are already written into the temporary folder when the models are built.
    monkeypatch.setattr(sdxl, "_random_pipeline", fail)
    with pytest.raises(RuntimeError, match="killed while building"):
        build_tiny_sdxl(tmp_path / "sdxl")

    assert list(tmp_path.iterdir()) == []


def test_tiny_model_loads_as_sdxl_turbo_does(image_pipe):
    assert type(image_pipe).__name__ == "StableDiffusionXLPipeline"
    assert image_pipe.vae_scale_factor == 8
    assert image_pipe.tokenizer.model_max_length == image_pipe.tokenizer_2.model_max_length == 77
    assert type(image_pipe.scheduler).__name__ == "EulerAncestralDiscreteScheduler"
    assert image_pipe.scheduler.config.timestep_spacing == "trailing"
    assert image_pipe.unet.config.addition_embed_type == "text_time"
    assert image_pipe.unet.dtype == torch.float32
    assert str(image_pipe.device) == "cpu"


def test_image_has_the_requested_size(image_pipe):
    image = generate_image(image_pipe, PROMPT, inference_steps=2, height=64, width=128, seed=1)

    assert image.size == (128, 64)
    assert image.mode == "RGB"


def test_same_seed_gives_identical_pixels_and_another_seed_or_prompt_changes_them(image_pipe):
    first = pixels(generate_image(image_pipe, PROMPT, 2, 64, 128, seed=1))

    assert np.array_equal(pixels(generate_image(image_pipe, PROMPT, 2, 64, 128, seed=1)), first)
    assert not np.array_equal(pixels(generate_image(image_pipe, PROMPT, 2, 64, 128, seed=2)), first)
    # The pooled text embedding must follow the prompt: it is taken at the tokenizer's end-of-text token.
    assert not np.array_equal(pixels(generate_image(image_pipe, "city pop at sunset", 2, 64, 128, seed=1)), first)


@pytest.mark.parametrize(("height", "width"), [(100, 128), (64, 100)])
def test_size_not_a_multiple_of_8_is_refused(image_pipe, height, width):
    with pytest.raises(ValueError, match=f"image size {width}x{height} must be a multiple of 8 on both sides"):
        generate_image(image_pipe, PROMPT, 2, height, width, seed=1)


def test_cpu_loads_fp32_without_asking_for_a_weight_variant(tiny_sdxl_dir):
    assert pretrained_options(str(tiny_sdxl_dir), "cpu") == {"dtype": torch.float32}
    assert pretrained_options("stabilityai/sdxl-turbo", "cpu") == {"dtype": torch.float32}


def test_half_precision_asks_for_fp16_files_only_where_they_exist(tiny_sdxl_dir, tmp_path):
    with_fp16 = tmp_path / "with_fp16" / "unet"
    with_fp16.mkdir(parents=True)
    (with_fp16 / "diffusion_pytorch_model.fp16.safetensors").write_bytes(b"")

    assert pretrained_options(str(tiny_sdxl_dir), "cuda") == {"dtype": torch.float16}
    assert pretrained_options(str(tmp_path / "with_fp16"), "cuda:1") == {"dtype": torch.float16, "variant": "fp16"}
    assert pretrained_options("stabilityai/sdxl-turbo", "mps") == {"dtype": torch.float16, "variant": "fp16"}


def test_generator_is_seeded_and_on_the_cpu_for_mps():
    assert generator_for("cpu", 5).initial_seed() == 5
    assert generator_for("mps", 5).device == torch.device("cpu")
