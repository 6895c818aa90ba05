"""The text-to-image families the image stage runs through AutoPipelineForText2Image, and what differs between them.

A family is known by the pipeline class a model's `model_index.json` names. This module reads no model: the
config check (aibeats.config) knows a family from a local folder's index, a tiny model's folder name, or a hub id
of a known family; the image maker (aibeats.images) from the loaded pipeline.
"""

import json
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageFamily:
    name: str
    # Both sides of an image must be multiples of this: the VAE's 8, times the transformer's 2x2 patches.
    size_multiple: int
    takes_negative_prompt: bool
    # The T5 text encoder's sequence length (`max_sequence_length`), where the family has one.
    takes_max_sequence_length: bool
    # The guidance of a model that was not distilled to work without it, from its published model card.
    guidance_scale: float


FAMILIES = {
    "StableDiffusionXLPipeline": ImageFamily("sdxl", 8, True, False, 5.0),
    "StableDiffusionPipeline": ImageFamily("sd", 8, True, False, 7.5),
    # FLUX.1-dev's card: 3.5, read by its guidance embedding (FLUX has no negative prompt without true CFG)
    "FluxPipeline": ImageFamily("flux", 16, False, True, 3.5),
    # SD3.5 Large's card: 3.5
    "StableDiffusion3Pipeline": ImageFamily("sd3", 16, True, True, 3.5),
}
_BY_NAME = {family.name: family for family in FAMILIES.values()}
# Hub ids of the known families, for a config check that loads nothing: (pattern, family).
_KNOWN_HUB_IDS = [(r"(?i)flux\.1", "flux"), (r"(?i)stable-diffusion-3", "sd3"),
                  (r"(?i)sdxl|stable-diffusion-xl", "sdxl")]


@dataclass(frozen=True)
class Guidance:
    """How closely an image follows its prompt: the image recipe's guidance settings, None where the family's
    default holds."""

    scale: float | None = None
    negative_prompt: str | None = None
    max_sequence_length: int | None = None


def family_of_class(class_name: str) -> ImageFamily | None:
    return FAMILIES.get(class_name)


def family_of_model(model_id: str, tiny_models_dir: str) -> ImageFamily | None:
    """The family of a model id without loading it, or None where that takes the hub (checked before the jobs
    run, by aibeats.model_errors, and by the pipeline as it loads)."""
    if model_id.startswith(tiny_models_dir):
        return _BY_NAME.get(Path(model_id).name)
    index = Path(model_id).expanduser() / "model_index.json"
    if index.is_file():
        try:
            return family_of_class(json.loads(index.read_text()).get("_class_name", ""))
        except (OSError, ValueError, AttributeError):
            return None  # not readable: the model check names it
    for pattern, name in _KNOWN_HUB_IDS:
        if re.search(pattern, model_id):
            return _BY_NAME[name]
    return None


def default_guidance(family: ImageFamily, distilled: bool) -> float:
    """image.guidance_scale null: 0 for a model distilled to work without guidance (SDXL-Turbo, FLUX.1-schnell,
    SD3.5 Large Turbo), else its family's published default."""
    return 0.0 if distilled else family.guidance_scale
