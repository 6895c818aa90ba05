"""Stereo MusicGen (musicgen-stereo-*): its decoder predicts left and right codes through a mono EnCodec. The tiny
stereo model through the real classes. Stereo tracks through the whole workflow, clips and mix, are tested with
ACE-Step's (tests/test_ace_step.py): what comes after the track is the same code."""

import json

import numpy as np
import pytest

from aibeats.errors import ConfigError
from aibeats.music import extend_track, generate_track, load_music_model

PROMPT = "lo-fi music with a soothing melody"
RATE = 32000


@pytest.fixture(scope="module")
def stereo_model(tiny_musicgen_stereo_dir):
    return load_music_model(str(tiny_musicgen_stereo_dir), "cpu")


def test_the_tiny_stereo_model_is_laid_out_like_musicgen_stereo(stereo_model):
    config = stereo_model.model.config
    # 4 EnCodec codebooks per channel, interleaved left and right; EnCodec itself stays mono
    layout = (config.decoder.audio_channels, config.decoder.num_codebooks, config.audio_encoder.audio_channels)
    assert layout == (2, 8, 1)
    assert stereo_model.channels == 2 and stereo_model.codebook_delay == 3
    assert stereo_model.processor.feature_extractor.feature_size == 2


def test_a_stereo_track_has_two_channels_that_differ(stereo_model):
    track = generate_track(stereo_model, PROMPT, 53, seed=7)
    # 53 tokens less the delay of 3: 50 frames, one second
    assert track.shape == (RATE, 2) and track.dtype == np.float32
    assert np.abs(track[:, 0] - track[:, 1]).mean() > 1e-3
    assert generate_track(stereo_model, PROMPT, 53, seed=7).tobytes() == track.tobytes()


def test_a_stereo_extension_lasts_exactly_the_target_stays_stereo_and_keeps_the_track(stereo_model):
    track = generate_track(stereo_model, PROMPT, 53, seed=7)
    extended = extend_track(stereo_model, PROMPT, track, 2.5, max_continuation_seconds=1.0, prompt_seconds=0.5,
                            seed=7)
    assert extended.shape == (round(2.5 * RATE), 2)
    # the track itself is kept up to the first window's crossfade
    assert np.array_equal(extended[:RATE - round(0.05 * RATE)], track[:RATE - round(0.05 * RATE)])
    new = extended[RATE:]
    assert np.abs(new[:, 0] - new[:, 1]).mean() > 1e-3


def test_a_decoder_and_processor_of_different_channels_are_refused_in_one_line(tiny_musicgen_stereo_dir, tmp_path):
    odd = tmp_path / "odd"
    odd.mkdir()
    for path in tiny_musicgen_stereo_dir.iterdir():
        (odd / path.name).write_bytes(path.read_bytes())
    settings = json.loads((odd / "processor_config.json").read_text())
    settings["feature_extractor"]["feature_size"] = 1
    (odd / "processor_config.json").write_text(json.dumps(settings))
    with pytest.raises(ConfigError) as raised:
        load_music_model(str(odd), "cpu")
    assert str(raised.value) == (
        f"config key music.model_id = {str(odd)!r} is not allowed: its decoder makes 2-channel audio through a "
        "1-channel EnCodec, and its processor takes 1-channel audio prompts; only MusicGen's mono and stereo layouts "
        "are supported")
