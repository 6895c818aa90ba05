"""Stereo MusicGen (musicgen-stereo-*): its decoder predicts left and right codes through a mono EnCodec. The tiny
stereo model through the real classes, and its tracks through the whole workflow: stereo clips and mix at their
loudness by an independent meter."""

import hashlib
import json
import re
import subprocess

import imageio_ffmpeg
import numpy as np
import pyloudnorm
import pytest

from aibeats import audio
from aibeats.errors import ConfigError
from aibeats.loudness import measure_file
from aibeats.music import extend_track, generate_track, load_music_model
from aibeats.provenance import read_recipe
from aibeats.tiny import build_tiny_model
from aibeats.video_io import decode_audio, probe

from workflow import GENERATED, copy_workflow, run_ok

PROMPT = "lo-fi music with a soothing melody"
RATE = 32000


@pytest.fixture(scope="module")
def stereo_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models") / "musicgen-stereo"
    build_tiny_model("musicgen-stereo", folder)
    return folder


@pytest.fixture(scope="module")
def stereo_model(stereo_dir):
    return load_music_model(str(stereo_dir), "cpu")


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


def test_a_decoder_and_processor_of_different_channels_are_refused_in_one_line(stereo_dir, tmp_path):
    odd = tmp_path / "odd"
    odd.mkdir()
    for path in stereo_dir.iterdir():
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


def audio_stream(path) -> tuple[str, str, str]:
    stderr = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                            text=True).stderr
    return re.search(r"Audio: (\w+) \(LC\)[^,]*, (\d+) Hz, (\w+)", stderr).groups()


@pytest.mark.slow
def test_stereo_tracks_make_stereo_clips_and_mix_at_their_loudness_and_settle(tmp_path):
    workdir = copy_workflow(tmp_path / "repo")
    configs = ("--configfile", "profiles/demo/demo-config.yaml", "profiles/demo/musicgen-stereo.yaml")
    run_ok(workdir, *configs)
    project = workdir / "results" / "demo-stereo"

    for name in ("track_1.wav", "track_1_ext.wav", "track_2_ext.wav"):
        samples, rate = audio.read_wav(project / "music" / name)
        assert rate == RATE and samples.ndim == 2 and samples.shape[1] == 2, name
        assert np.abs(samples[:, 0] - samples[:, 1]).mean() > 1e-3, name
    assert len(audio.read_wav(project / "music" / "track_1_ext.wav")[0]) == 5 * RATE
    for clip, settings in [(project / "clips" / "clip_1.mp4", -20), (project / "clips" / "clip_2.mp4", -20),
                           (project / "mix" / "mix.mp4", -20)]:
        rate = probe(clip).sampling_rate
        assert audio_stream(clip) == ("aac", str(rate), "stereo"), clip
        decoded = decode_audio(clip, rate, channels=2)
        assert np.abs(decoded[:, 0] - decoded[:, 1]).mean() > 1e-3, clip
        # an independent BS.1770 meter, over both channels, and ffmpeg's true peak
        assert abs(pyloudnorm.Meter(rate).integrated_loudness(decoded) - settings) <= 0.5, clip
        assert measure_file(clip).true_peak_db <= -1, clip
    # the beats were found on the downmix
    assert len(read_recipe(project / "clips" / "clip_1.mp4")["beats"]) > 0

    made = project_hashes(project)
    second = run_ok(workdir, *configs)
    assert "Nothing to be done" in second.stdout + second.stderr and project_hashes(project) == made


def project_hashes(project) -> dict[str, str]:
    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in GENERATED for path in sorted((project / folder).glob("*.*"))}
