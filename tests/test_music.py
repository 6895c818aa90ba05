import numpy as np
import pytest

from aibeats.continuation import CROSSFADE_SECONDS
from aibeats.music import extend_track, generate_track, load_music_model
from aibeats.tiny.musicgen import build_tiny_musicgen

PROMPT = "lo-fi music with a soothing melody"
RATE = 32000


@pytest.fixture(scope="session")
def music_model(tiny_musicgen_dir):
    return load_music_model(str(tiny_musicgen_dir), "cpu")


@pytest.fixture(scope="session")
def one_second_track(music_model):
    return generate_track(music_model, PROMPT, 53, seed=7)


def test_tiny_build_is_deterministic_and_leaves_only_the_finished_folder(tiny_musicgen_dir, tmp_path):
    build_tiny_musicgen(tmp_path / "again")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]
    for original in tiny_musicgen_dir.iterdir():
        assert (tmp_path / "again" / original.name).read_bytes() == original.read_bytes(), original.name


def test_tiny_build_replaces_an_older_folder(tmp_path):
    (tmp_path / "musicgen").mkdir()
    (tmp_path / "musicgen" / "stale.txt").write_text("left over")

    build_tiny_musicgen(tmp_path / "musicgen")

    assert not (tmp_path / "musicgen" / "stale.txt").exists()
    assert (tmp_path / "musicgen" / "model.safetensors").exists()


def test_loaded_model_has_musicgen_smalls_audio_format(music_model):
    assert music_model.sampling_rate == RATE
    assert music_model.frame_rate == 50
    assert music_model.samples_per_frame == 640
    assert music_model.device == "cpu"
    assert music_model.model.config.decoder.num_codebooks == 4
    assert music_model.model.generation_config.guidance_scale == 3.0


def test_generated_track_lasts_n_tokens_minus_the_codebook_delay(music_model, one_second_track):
    # 53 tokens: 3 go to the delay pattern of the 4 codebooks, 50 frames of 640 samples remain.
    assert one_second_track.dtype == np.float32
    assert one_second_track.shape == (RATE,)
    assert generate_track(music_model, PROMPT, 103, seed=7).shape == (2 * RATE,)
    assert np.isfinite(one_second_track).all()


def test_generated_track_depends_only_on_the_seed(music_model, one_second_track):
    assert np.array_equal(generate_track(music_model, PROMPT, 53, seed=7), one_second_track)
    assert not np.array_equal(generate_track(music_model, PROMPT, 53, seed=8), one_second_track)


def _extend(music_model, track, seed=11):
    return extend_track(music_model, PROMPT, track, target_seconds=3.5, max_continuation_seconds=1.5,
                        prompt_seconds=0.5, seed=seed)


def test_extended_track_lasts_exactly_the_target_and_keeps_the_original(music_model, one_second_track):
    extended = _extend(music_model, one_second_track)

    assert extended.dtype == np.float32
    assert extended.shape == (round(3.5 * RATE),)
    untouched = len(one_second_track) - round(CROSSFADE_SECONDS * RATE)
    assert np.array_equal(extended[:untouched], one_second_track[:untouched])
    # The continuation is new audio, not silence or a copy of the track.
    assert np.abs(extended[RATE:]).max() > 0
    assert not np.array_equal(extended[RATE:2 * RATE], one_second_track)


def test_extended_track_depends_only_on_the_seed(music_model, one_second_track):
    extended = _extend(music_model, one_second_track)

    assert np.array_equal(_extend(music_model, one_second_track), extended)
    assert not np.array_equal(_extend(music_model, one_second_track, seed=12), extended)


def test_a_track_shorter_than_the_prompt_is_extended_from_all_of_it(music_model):
    short_track = generate_track(music_model, PROMPT, 13, seed=3)  # 10 frames: 0.2 s

    extended = _extend(music_model, short_track)

    assert extended.shape == (round(3.5 * RATE),)


def test_a_track_longer_than_the_target_is_cut_to_it(music_model):
    long_track = np.zeros(4 * RATE, dtype=np.float32)

    assert _extend(music_model, long_track).shape == (round(3.5 * RATE),)


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_half_precision_keeps_encodec_in_fp32_and_still_makes_float32_audio(tiny_musicgen_dir, precision):
    # No GPU here: the precision a GPU would use, on the CPU, to run the mixed-precision path end to end.
    import torch

    half_model = load_music_model(str(tiny_musicgen_dir), "cpu", precision)
    half = {"fp16": torch.float16, "bf16": torch.bfloat16}[precision]

    assert half_model.model.decoder.dtype == half
    assert half_model.model.text_encoder.dtype == half
    assert half_model.model.audio_encoder.dtype == torch.float32
    track = generate_track(half_model, PROMPT, 53, seed=7)
    assert track.dtype == np.float32 and track.shape == (RATE,)
    extended = _extend(half_model, track)
    assert extended.dtype == np.float32 and extended.shape == (round(3.5 * RATE),)
