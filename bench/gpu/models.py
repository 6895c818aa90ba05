"""The models the GPU check measures, and the settings it makes their items with.

On the GPU: the published architectures (aibeats.realsize) with random weights, built straight on the device in
fp32 from a fixed seed, then cast to the precision measured. Nothing is read from or written to disk but the CLIP
tokenizers' few kilobytes, and nothing comes from the hub. In a dry run: the project's tiny models, built into a
scratch folder and loaded on the CPU by the workflow's own loaders.

Either way the items are made by the workflow's own functions (aibeats.music, aibeats.images, aibeats.animation),
so the check measures the code the jobs run, minus the writing of files.
"""

from dataclasses import dataclass
from pathlib import Path

from aibeats.realsize.build import INIT_SEED
from aibeats.tiny import seeded


@dataclass(frozen=True)
class Work:
    """What one item of each stage is: the config's defaults on a GPU, the demo's sizes in a dry run."""

    music_tokens: int  # music.initial_music_tokens
    music_window_seconds: float  # one continuation window: max_continuation_duration - prompt_music_duration
    image_steps: int
    image_height: int
    image_width: int
    video_frames: int
    video_steps: int
    video_max_side: int
    video_decode_chunk: int


# The workflow's defaults (config.yaml): MusicGen-small 1050 tokens and one 20 s window over a 10 s prompt,
# SDXL-Turbo 1024x576 in 3 steps, SVD 14 frames at up to 1024x576 in 25 steps, decoded 8 frames at a time.
REAL_WORK = Work(1050, 10.0, 3, 576, 1024, 14, 25, 1024, 8)
# profiles/demo/demo-config.yaml
DRY_RUN_WORK = Work(103, 1.0, 2, 64, 128, 4, 2, 128, 4)
# The first item of each model warms the device up (kernel selection, allocator): a short one, not measured.
WARM_UP = {"music_tokens": 20, "image_steps": 1, "video_steps": 1}
# Each model, and the workflow's model family (aibeats.stages) that loads it.
STAGE_FAMILY = {"musicgen": "music", "sdxl": "image", "svd": "video"}


def full_size_model(family: str, device: str, dtype, scratch: Path):
    """A family's full-size model built on the device with random weights, in dtype (MusicGen's EnCodec stays
    fp32, as aibeats.music loads it)."""
    if family == "musicgen":
        return _full_size_musicgen(device, dtype)
    return _full_size_pipeline(family, device, dtype, scratch)


def on_device(device: str, build):
    """What build() makes, with its tensors created on the device (only the models: a scheduler built there
    would hold its tables on the GPU, where its numpy steps cannot read them)."""
    import torch

    with torch.device(device):
        return seeded(build, INIT_SEED)


def _full_size_musicgen(device: str, dtype):
    import torch

    from aibeats.music import MusicModel
    from aibeats.realsize.build import _random_musicgen
    from aibeats.tiny.musicgen import generation_config, offline_processor

    model = on_device(device, _random_musicgen).to(dtype)
    model.audio_encoder.to(torch.float32)
    model.generation_config = generation_config()
    encoder = model.config.audio_encoder
    return MusicModel(processor=offline_processor(), model=model.eval(), device=device,
                      sampling_rate=encoder.sampling_rate, frame_rate=encoder.frame_rate)


def _full_size_pipeline(family: str, device: str, dtype, scratch: Path):
    import diffusers
    from transformers import CLIPImageProcessor

    from aibeats.realsize.configs import PIPELINE_LAYOUTS, SVD_FEATURE_EXTRACTOR
    from aibeats.realsize.models import component_model
    from aibeats.tiny.sdxl import _byte_level_clip_tokenizer

    layout = PIPELINE_LAYOUTS[family]
    parts = {component.subfolder: on_device(device, lambda component=component: component_model(component))
             .to(dtype).eval() for component in layout.components}
    parts["scheduler"] = getattr(diffusers, layout.scheduler_class).from_config(layout.scheduler_config)
    if family == "sdxl":
        parts["tokenizer"] = _byte_level_clip_tokenizer(scratch / "tokenizer", "<|endoftext|>")
        parts["tokenizer_2"] = _byte_level_clip_tokenizer(scratch / "tokenizer_2", "!")
    else:
        parts["feature_extractor"] = CLIPImageProcessor(**SVD_FEATURE_EXTRACTOR)
    pipe = getattr(diffusers, layout.pipeline_class)(**parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_folder(family: str, scratch: Path) -> Path:
    """The folder of an aibeats.tiny family's model, built into scratch the first time it is asked for."""
    from aibeats.tiny import build_tiny_model

    folder = scratch / "tiny" / family
    if not folder.is_dir():
        build_tiny_model(family, folder)
    return folder


def tiny_model(family: str, precision: str, scratch: Path):
    """A family's tiny model, built once into scratch and loaded on the CPU as a job would load it."""
    from aibeats.stages import load_model

    return load_model(STAGE_FAMILY[family], str(tiny_folder(family, scratch)), "cpu", precision)
