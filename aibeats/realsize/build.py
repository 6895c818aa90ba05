"""Save the full-size models, with random weights, in the layout of their hub repositories.

The diffusers pipelines get fp32 weight files and fp16 variant files (`*.fp16.safetensors`) side by side, as
sdxl-turbo and stable-video-diffusion publish them: the workflow loads fp32 on a CPU and asks for the fp16 variant
on a GPU (aibeats/pretrained.py). facebook/musicgen-small publishes fp32 weights only, and the workflow loads them
in either precision (aibeats/music.py), so its folder has no variant either.

Only one model is in memory at a time: each component is built, saved in fp32, halved in place, saved as the fp16
variant and dropped before the next one is built (the SDXL UNet alone is 10.3 GB in fp32).
"""

import json
from pathlib import Path

from aibeats.realsize.configs import SDXL_TURBO, SVD_FEATURE_EXTRACTOR, SVD_IMG2VID, Component, PipelineLayout
from aibeats.realsize.models import component_model, musicgen_model
from aibeats.tiny import seeded

# Fixed so that two builds give the same weights.
INIT_SEED = 0
# The hub repositories keep each model in one file; diffusers would split the SDXL UNet's 10.3 GB fp32 weights in
# two shards at its default of 10 GB.
MAX_SHARD_SIZE = "50GB"


def _random_musicgen():
    from aibeats.tiny.musicgen import randomise_codebooks

    return randomise_codebooks(musicgen_model())


def build_musicgen(folder: Path) -> None:
    """facebook/musicgen-small with random weights: the model, its generation defaults, an offline processor."""
    from aibeats.tiny.musicgen import generation_config, offline_processor

    model = seeded(_random_musicgen, INIT_SEED)
    # musicgen-small's generation_config.json: sampled top-k 250 with classifier-free guidance 3.0
    model.generation_config = generation_config()
    model.save_pretrained(folder, max_shard_size=MAX_SHARD_SIZE)
    del model
    # T5's tokenizer without its sentencepiece file (no downloads): the token ids are not t5-base's, which random
    # weights cannot tell apart anyway.
    offline_processor().save_pretrained(folder)


def _save_component(component: Component, folder: Path) -> None:
    model = seeded(lambda: component_model(component), INIT_SEED)
    model.save_pretrained(folder, max_shard_size=MAX_SHARD_SIZE)
    # In place, tensor by tensor: each fp32 tensor is freed as its half is made, so the model is never held twice.
    model.half()
    model.save_pretrained(folder, variant="fp16", max_shard_size=MAX_SHARD_SIZE)


def _write_model_index(layout: PipelineLayout, folder: Path) -> None:
    import diffusers

    index = {"_class_name": layout.pipeline_class, "_diffusers_version": diffusers.__version__,
             "scheduler": ["diffusers", layout.scheduler_class]}
    index |= {component.subfolder: [component.library, component.class_name] for component in layout.components}
    index |= layout.other_entries
    (folder / "model_index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def save_pipeline_models(layout: PipelineLayout, folder: Path) -> None:
    """Everything of a diffusers pipeline's repository but its tokenizers or image processor: the weights of each
    component (fp32 and fp16), the scheduler and model_index.json."""
    import diffusers

    folder.mkdir(parents=True, exist_ok=True)
    for component in layout.components:
        _save_component(component, folder / component.subfolder)
    scheduler_class = getattr(diffusers, layout.scheduler_class)
    scheduler_class.from_config(layout.scheduler_config).save_pretrained(folder / "scheduler")
    _write_model_index(layout, folder)


def build_sdxl(folder: Path, layout: PipelineLayout = SDXL_TURBO) -> None:
    """stabilityai/sdxl-turbo with random weights, and byte-level CLIP tokenizers made offline."""
    from aibeats.tiny.sdxl import _byte_level_clip_tokenizer

    save_pipeline_models(layout, folder)
    # The second tokenizer pads with "!", as sdxl-turbo's tokenizer_2 does.
    for subfolder, pad_token in (("tokenizer", "<|endoftext|>"), ("tokenizer_2", "!")):
        _byte_level_clip_tokenizer(folder / subfolder, pad_token).save_pretrained(folder / subfolder)


def build_svd(folder: Path, layout: PipelineLayout = SVD_IMG2VID) -> None:
    """stabilityai/stable-video-diffusion-img2vid with random weights and its CLIP image processor."""
    from transformers import CLIPImageProcessor

    save_pipeline_models(layout, folder)
    CLIPImageProcessor(**SVD_FEATURE_EXTRACTOR).save_pretrained(folder / "feature_extractor")


BUILDERS = {"musicgen": build_musicgen, "sdxl": build_sdxl, "svd": build_svd}
