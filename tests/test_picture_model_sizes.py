"""The newer picture models' published architectures (aibeats.realsize.picture_models), counted on the meta device
against the figures their publishers give."""

from dataclasses import replace

import pytest

from aibeats.realsize.picture_models import MODELS, stored_values


def part(model: str, name: str):
    return next(p for p in MODELS[model] if p.name.startswith(name))


def test_sd35_large_without_t5_stores_exactly_what_keras_hub_counts():
    # keras-team/keras-hub stable_diffusion_3_presets.py: "stable_diffusion_3.5_large", CLIP-L + CLIP-G + MMDiT
    # + VAE (its T5 is optional and counted apart)
    assert sum(stored_values(p) for p in MODELS["SD3.5 Large"] if "T5" not in p.name) == 9_048_410_595


@pytest.mark.parametrize(("model", "billions"), [
    # "12 billion parameter rectified flow transformer": black-forest-labs/flux model_cards/FLUX.1-{schnell,dev}.md
    ("FLUX.1-schnell", 12), ("FLUX.1-dev", 12),
    # the model's name, Wan-Video/Wan2.2 README
    ("Wan2.2-TI2V-5B", 5),
    # ltxv-2b-0.9.1, Lightricks/LTX-Video README and configs/ltxv-2b-0.9.1.yaml
    ("LTX-Video 0.9.1", 2),
])
def test_each_transformer_has_the_size_its_name_or_card_gives(model, billions):
    assert round(stored_values(part(model, "transformer")) / 1e9) == billions


def test_wan21_is_14b_as_text_to_video_and_its_image_input_adds_the_rest():
    """Wan 2.1's "14B" is the text-to-video transformer (Wan-Video/Wan2.1 wan/configs/wan_t2v_14B.py); the I2V
    model adds image channels and the image tokens' key/value projections in every layer."""
    i2v = part("Wan2.1-I2V-14B", "transformer")
    t2v = replace(i2v, config={key: value for key, value in i2v.config.items()
                               if key not in ("image_dim", "added_kv_proj_dim")} | {"in_channels": 16})
    assert round(stored_values(t2v) / 1e9) == 14
    assert stored_values(i2v) > stored_values(t2v)
