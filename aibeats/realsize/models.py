"""The full-size models built from their published configs, and their parameter counts checked on the meta device."""

import importlib

from aibeats.realsize.configs import (
    MUSICGEN_AUDIO_ENCODER,
    MUSICGEN_DECODER,
    MUSICGEN_PUBLISHED_PARAMETERS,
    MUSICGEN_TEXT_ENCODER,
    PIPELINE_LAYOUTS,
    Component,
)

FAMILIES = ("musicgen", "sdxl", "svd")
# How far a count may stray from the published one: a wrong layer count or width moves it by far more, while a
# library that adds or drops a bias somewhere stays within it.
PARAMETER_TOLERANCE = 0.01


class ParameterCountMismatch(RuntimeError):
    """A model built from its published config does not have the published number of parameters."""


def check_family(family: str) -> None:
    if family not in FAMILIES:
        raise ValueError(f"unknown full-size model family {family!r}: expected one of {', '.join(FAMILIES)}")


def musicgen_model():
    """facebook/musicgen-small's MusicgenForConditionalGeneration, freshly initialised (on the default device)."""
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        T5Config,
    )

    config = MusicgenConfig(text_encoder=T5Config(**MUSICGEN_TEXT_ENCODER),
                            audio_encoder=EncodecConfig(**MUSICGEN_AUDIO_ENCODER),
                            decoder=MusicgenDecoderConfig(**MUSICGEN_DECODER))
    return MusicgenForConditionalGeneration(config)


def component_model(component: Component):
    """One model of a diffusers pipeline, freshly initialised from its config (on the default device)."""
    model_class = getattr(importlib.import_module(component.library), component.class_name)
    if component.library == "diffusers":
        return model_class.from_config(component.config)
    return model_class(model_class.config_class(**component.config))


def _parameters(module) -> int:
    return sum(parameter.numel() for parameter in module.parameters())


def count_parameters(family: str) -> dict[str, int]:
    """Parameters of each component of a family's full-size model, counted on the meta device (no weights)."""
    import torch

    check_family(family)
    with torch.device("meta"):
        if family == "musicgen":
            model = musicgen_model()
            return {"text_encoder": _parameters(model.text_encoder), "audio_encoder": _parameters(model.audio_encoder),
                    "decoder": _parameters(model.decoder), "total": _parameters(model)}
        return {component.subfolder: _parameters(component_model(component))
                for component in PIPELINE_LAYOUTS[family].components}


def published_parameters(family: str) -> dict[str, int]:
    check_family(family)
    if family == "musicgen":
        return dict(MUSICGEN_PUBLISHED_PARAMETERS)
    return {component.subfolder: component.published_parameters for component in PIPELINE_LAYOUTS[family].components}


def check_parameter_counts(family: str) -> dict[str, int]:
    """Count a family's parameters on the meta device; raise ParameterCountMismatch where a component's count
    differs from the published one by more than PARAMETER_TOLERANCE. Returns the counts."""
    counts = count_parameters(family)
    published = published_parameters(family)
    mismatches = [f"{family} {name}: expected {expected:,} parameters (published), built {counts.get(name, 0):,}"
                  for name, expected in published.items()
                  if abs(counts.get(name, 0) - expected) > PARAMETER_TOLERANCE * expected]
    if mismatches:
        raise ParameterCountMismatch(f"the full-size {family} model does not match its published size "
                                     f"(tolerance {PARAMETER_TOLERANCE:.0%}): " + "; ".join(mismatches))
    return counts
