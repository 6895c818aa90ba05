import dataclasses
import json
import os

import numpy as np
import pytest
import torch

from aibeats import realsize
from aibeats.images import generate_image, load_image_pipeline
from aibeats.music import generate_track, load_music_model
from aibeats.pretrained import pretrained_options
from aibeats.realsize import build as realsize_build
from aibeats.realsize.build import build_sdxl, build_svd
from aibeats.realsize.configs import (
    SDXL_TEXT_ENCODER,
    SDXL_TURBO,
    SDXL_UNET,
    SDXL_VAE,
    SVD_IMAGE_ENCODER,
    SVD_IMG2VID,
    SVD_UNET,
    SVD_VAE,
)


@pytest.mark.parametrize("family", realsize.FAMILIES)
def test_each_component_has_its_published_parameter_count(family):
    # Exactly, not only within the tolerance: the configs are the published ones, in the installed libraries.
    assert realsize.check_parameter_counts(family) == realsize.published_parameters(family)


def test_the_published_figures_add_up():
    musicgen = realsize.published_parameters("musicgen")
    text_to_decoder_projection = 768 * 1024 + 1024
    assert musicgen["total"] == (musicgen["text_encoder"] + musicgen["audio_encoder"] + musicgen["decoder"]
                                 + text_to_decoder_projection)


def test_a_config_that_strays_from_the_published_size_fails_naming_the_component(monkeypatch):
    monkeypatch.setitem(SDXL_TEXT_ENCODER, "num_hidden_layers", 11)

    with pytest.raises(realsize.ParameterCountMismatch,
                       match=r"sdxl text_encoder: expected 123,060,480 parameters \(published\), built 115,972,608"):
        realsize.check_parameter_counts("sdxl")


def test_unknown_family_is_refused(tmp_path):
    with pytest.raises(ValueError, match="unknown full-size model family 'flux'"):
        realsize.build_realsize_model("flux", tmp_path / "flux")


# -- the cache -----------------------------------------------------------------------------------------------------

@pytest.fixture
def fake_builder(monkeypatch):
    """Replace the SVD builder by one that writes a single file and counts its calls."""
    calls = []

    def build(folder):
        calls.append(folder)
        folder.mkdir()
        (folder / "weights.safetensors").write_text("random")
        # as safetensors leaves its files
        (folder / "weights.safetensors").chmod(0o600)

    monkeypatch.setitem(realsize_build.BUILDERS, "svd", build)
    return calls


def test_a_built_folder_is_not_built_again(tmp_path, fake_builder):
    folder = tmp_path / "svd"

    assert realsize.build_realsize_model("svd", folder)
    assert not realsize.build_realsize_model("svd", folder)

    assert len(fake_builder) == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["svd"]
    marker = json.loads((folder / realsize.MARKER_NAME).read_text())
    assert marker["family"] == "svd"
    assert marker["parameters"] == realsize.published_parameters("svd")


def test_the_weights_are_shared_like_the_other_files(tmp_path, fake_builder):
    realsize.build_realsize_model("svd", tmp_path / "svd")

    modes = {path.name: path.stat().st_mode & 0o777 for path in (tmp_path / "svd").iterdir()}
    umask = os.umask(0o022)
    os.umask(umask)
    assert modes == {"weights.safetensors": 0o666 & ~umask, realsize.MARKER_NAME: 0o666 & ~umask}


def test_a_folder_without_the_marker_is_built_anew(tmp_path, fake_builder):
    folder = tmp_path / "svd"
    folder.mkdir()
    (folder / "half-written.safetensors").write_text("interrupted")

    assert realsize.build_realsize_model("svd", folder)

    assert sorted(path.name for path in folder.iterdir()) == [realsize.MARKER_NAME, "weights.safetensors"]


def test_a_changed_config_rebuilds(tmp_path, fake_builder, monkeypatch):
    folder = tmp_path / "svd"
    realsize.build_realsize_model("svd", folder)
    # Still the published size (within 1 %), but another model all the same.
    monkeypatch.setitem(SVD_VAE, "scaling_factor", 0.2)

    assert realsize.build_realsize_model("svd", folder)
    assert len(fake_builder) == 2


def test_a_failed_build_leaves_no_folder(tmp_path, monkeypatch):
    def fail(folder):
        folder.mkdir()
        raise RuntimeError("out of disk")

    monkeypatch.setitem(realsize_build.BUILDERS, "svd", fail)
    with pytest.raises(RuntimeError, match="out of disk"):
        realsize.build_realsize_model("svd", tmp_path / "svd")
    assert list(tmp_path.iterdir()) == []


def test_a_config_off_the_published_size_stops_before_building(tmp_path, fake_builder, monkeypatch):
    monkeypatch.setitem(SVD_IMAGE_ENCODER, "num_hidden_layers", 24)

    with pytest.raises(realsize.ParameterCountMismatch, match="svd image_encoder"):
        realsize.build_realsize_model("svd", tmp_path / "svd")
    assert fake_builder == []


# -- the hub layout, with the published layouts shrunk to a few thousand parameters ----------------------------------

def shrunk(layout, **configs):
    """The layout with each component's published config updated by configs[subfolder]."""
    return dataclasses.replace(layout, components=tuple(
        dataclasses.replace(component, config=component.config | configs[component.subfolder])
        for component in layout.components))


SMALL_CLIP_TEXT = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2,
                   "projection_dim": 32, "vocab_size": 1000}
SMALL_SDXL = shrunk(
    SDXL_TURBO,
    unet={"block_out_channels": [32, 64], "layers_per_block": 1, "sample_size": 8,
          "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D"],
          "up_block_types": ["CrossAttnUpBlock2D", "UpBlock2D"], "transformer_layers_per_block": [1, 1],
          "attention_head_dim": [2, 4], "cross_attention_dim": 64, "addition_time_embed_dim": 8,
          "projection_class_embeddings_input_dim": 6 * 8 + 32},
    vae={"block_out_channels": [32] * 4},
    text_encoder=SMALL_CLIP_TEXT,
    text_encoder_2=SMALL_CLIP_TEXT,
)
SMALL_SVD = shrunk(
    SVD_IMG2VID,
    unet={"block_out_channels": [32, 64], "layers_per_block": 1, "sample_size": 8,
          "down_block_types": ["CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"],
          "up_block_types": ["UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"], "cross_attention_dim": 32,
          "num_attention_heads": [2, 4], "addition_time_embed_dim": 8, "projection_class_embeddings_input_dim": 24},
    vae={"block_out_channels": [32] * 4},
    image_encoder={"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2,
                   "projection_dim": 32, "patch_size": 32},
)


def weight_files(folder) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*.safetensors"))


def model_index_entries(folder) -> dict:
    index = json.loads((folder / "model_index.json").read_text())
    return {key: value for key, value in index.items() if not key.startswith("_")}


def assert_fp16_variant_holds_the_same_weights(fp32_model, fp16_model):
    assert fp32_model.dtype == torch.float32
    assert fp16_model.dtype == torch.float16
    for (name, full), (half_name, half) in zip(fp32_model.state_dict().items(), fp16_model.state_dict().items(),
                                               strict=True):
        assert name == half_name
        torch.testing.assert_close(half, full.to(half.dtype), rtol=0, atol=0, msg=name)


@pytest.fixture(scope="module")
def small_sdxl_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("realsize") / "sdxl"
    build_sdxl(folder, layout=SMALL_SDXL)
    return folder


@pytest.fixture(scope="module")
def small_svd_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("realsize") / "svd"
    build_svd(folder, layout=SMALL_SVD)
    return folder


def test_sdxl_is_laid_out_like_sdxl_turbo(small_sdxl_dir):
    assert weight_files(small_sdxl_dir) == [
        "text_encoder/model.fp16.safetensors", "text_encoder/model.safetensors",
        "text_encoder_2/model.fp16.safetensors", "text_encoder_2/model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors"]
    assert model_index_entries(small_sdxl_dir) == {
        "feature_extractor": [None, None], "force_zeros_for_empty_prompt": True, "image_encoder": [None, None],
        "scheduler": ["diffusers", "EulerAncestralDiscreteScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "text_encoder_2": ["transformers", "CLIPTextModelWithProjection"],
        "tokenizer": ["transformers", "CLIPTokenizer"], "tokenizer_2": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"]}


def test_sdxl_loads_in_fp32_on_the_cpu_and_as_the_fp16_variant_for_a_gpu(small_sdxl_dir):
    from diffusers import AutoPipelineForText2Image

    full = load_image_pipeline(str(small_sdxl_dir), "cpu")
    options = pretrained_options(str(small_sdxl_dir), "cuda:0")
    assert options == {"dtype": torch.float16, "variant": "fp16"}
    half = AutoPipelineForText2Image.from_pretrained(str(small_sdxl_dir), **options)

    assert type(full).__name__ == "StableDiffusionXLPipeline"
    assert full.scheduler.config.timestep_spacing == "trailing"
    assert full.vae.config.scaling_factor == SDXL_VAE["scaling_factor"]
    assert full.unet.config.addition_embed_type == SDXL_UNET["addition_embed_type"]
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        assert_fp16_variant_holds_the_same_weights(getattr(full, name), getattr(half, name))
    # The published special token ids (eos 2: pool at the highest id) work with the offline tokenizers.
    assert generate_image(full, "lo-fi rain", 1, 64, 64, seed=1).size == (64, 64)


def test_svd_is_laid_out_like_stable_video_diffusion(small_svd_dir):
    assert weight_files(small_svd_dir) == [
        "image_encoder/model.fp16.safetensors", "image_encoder/model.safetensors",
        "unet/diffusion_pytorch_model.fp16.safetensors", "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.fp16.safetensors", "vae/diffusion_pytorch_model.safetensors"]
    assert model_index_entries(small_svd_dir) == {
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
        "scheduler": ["diffusers", "EulerDiscreteScheduler"], "unet": ["diffusers", "UNetSpatioTemporalConditionModel"],
        "vae": ["diffusers", "AutoencoderKLTemporalDecoder"]}


def test_svd_loads_in_fp32_on_the_cpu_and_as_the_fp16_variant_for_a_gpu(small_svd_dir):
    from diffusers import StableVideoDiffusionPipeline

    from aibeats.animation import load_video_pipeline

    full = load_video_pipeline(str(small_svd_dir), "cpu")
    half = StableVideoDiffusionPipeline.from_pretrained(str(small_svd_dir),
                                                        **pretrained_options(str(small_svd_dir), "cuda:0"))

    scheduler = full.scheduler.config
    assert (scheduler.prediction_type, scheduler.use_karras_sigmas, scheduler.timestep_type) == (
        "v_prediction", True, "continuous")
    assert (scheduler.sigma_min, scheduler.sigma_max) == (0.002, 700.0)
    assert full.unet.config.num_frames == SVD_UNET["num_frames"]
    assert full.feature_extractor.crop_size == {"height": 224, "width": 224}
    for name in ("unet", "vae", "image_encoder"):
        assert_fp16_variant_holds_the_same_weights(getattr(full, name), getattr(half, name))


# -- full size -----------------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_full_size_musicgen_builds_loads_with_the_workflow_and_generates(tmp_path):
    # About 20-30 s to build and 2.4 GB on disk (one fp32 model.safetensors of 2,356,039,960 bytes).
    folder = tmp_path / "musicgen-small"
    assert realsize.build_realsize_model("musicgen", folder)
    assert (folder / "model.safetensors").stat().st_size > 2_300_000_000

    model = load_music_model(str(folder), "cpu")
    assert sum(p.numel() for p in model.model.parameters()) == realsize.published_parameters("musicgen")["total"]
    audio = generate_track(model, "lo-fi piano beat", n_tokens=8, seed=1)

    # 8 tokens, 3 of them spent on the codebook delay: 5 EnCodec frames of 640 samples at 32 kHz
    assert (model.sampling_rate, model.frame_rate) == (32000, 50)
    assert audio.shape == (5 * 640,)
    assert audio.dtype == np.float32
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert not realsize.build_realsize_model("musicgen", folder)
