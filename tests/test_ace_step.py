"""music.backend ace_step: ACE-Step 1.5 through its real pipeline class on a tiny random model, a track and its
extension at the lengths asked in 48 kHz stereo, and the workflow on it: stereo clips and mix at their loudness by
an independent meter, a re-roll, an edit of its settings, a settled rerun."""

import hashlib
import re
import subprocess

import imageio_ffmpeg
import numpy as np
import pyloudnorm
import pytest
import yaml

from aibeats import audio
from aibeats.ace_step import AceStepSettings, extend_track, generate_track
from aibeats.config import validate_config
from aibeats.continuation import join_continuation
from aibeats.errors import ConfigError
from aibeats.loudness import measure_file
from aibeats.model_errors import ModelError, check_models_before_jobs
from aibeats.music import load_music_model
from aibeats.provenance import read_recipe
from aibeats.video_io import decode_audio, probe

from workflow import GENERATED, REPO, copy_workflow, planned_jobs, run_module, run_ok

SCHEMA = REPO / "schemas" / "config.schema.yaml"
RATE = 48000
PROMPT = "lo-fi beat with a soft piano"
SETTINGS = AceStepSettings(inference_steps=2, bpm=90, keyscale="A minor", timesignature="4")


@pytest.fixture(scope="module")
def model(tiny_ace_step_dir):
    return load_music_model(str(tiny_ace_step_dir), "cpu")


def digest(samples: np.ndarray) -> str:
    return hashlib.sha256(samples.tobytes()).hexdigest()


def test_the_music_loader_loads_the_tiny_model_as_ace_steps_pipeline(model):
    assert type(model.pipe).__name__ == "AceStepPipeline"
    assert (model.sampling_rate, model.channels, model.hop) == (RATE, 2, 1920)


def test_a_track_lasts_what_is_asked_in_stereo_and_is_seeded(model):
    track = generate_track(model, PROMPT, 1.5, SETTINGS, seed=3)
    assert track.shape == (round(1.5 * RATE), 2) and track.dtype == np.float32
    assert np.abs(track[:, 0] - track[:, 1]).mean() > 1e-3
    assert digest(generate_track(model, PROMPT, 1.5, SETTINGS, seed=3)) == digest(track)
    assert digest(generate_track(model, PROMPT, 1.5, SETTINGS, seed=4)) != digest(track)
    # what it is told of the music reaches the model
    assert digest(generate_track(model, PROMPT, 1.5, AceStepSettings(2, bpm=120), seed=3)) != digest(track)


def test_an_extension_lasts_exactly_the_target_keeps_the_track_and_is_seeded(model):
    track = generate_track(model, PROMPT, 2.0, SETTINGS, seed=3)
    extended = extend_track(model, PROMPT, track, 4.3, 1.5, 1.0, settings=SETTINGS, seed=5)
    assert extended.shape == (round(4.3 * RATE), 2)
    # the track itself, up to the first window's crossfade
    kept = len(track) - round(0.05 * RATE)
    assert np.array_equal(extended[:kept], track[:kept])
    assert np.abs(extended[len(track):, 0] - extended[len(track):, 1]).mean() > 1e-3
    assert digest(extend_track(model, PROMPT, track, 4.3, 1.5, 1.0, settings=SETTINGS, seed=5)) == digest(extended)


def test_a_stereo_join_fades_each_channel_into_the_window_without_a_click():
    # the seam of every window, MusicGen's or ACE-Step's: a sine per channel, the window's version a little off
    t = np.arange(4800) / RATE
    existing = np.stack([np.sin(2 * np.pi * 220 * t), np.sin(2 * np.pi * 330 * t)], axis=1).astype(np.float32)
    window = (np.concatenate([existing[-960:], existing[:1920]]) * 0.97).astype(np.float32)
    joined = join_continuation(existing, window, 960, 240)
    assert joined.shape == (4800 + 1920, 2)
    steps = np.abs(np.diff(joined, axis=0)).max(axis=0)
    sine_steps = np.abs(np.diff(existing, axis=0)).max(axis=0)
    assert (steps <= 1.05 * sine_steps).all()


def test_a_music_model_of_the_other_backend_is_refused_before_any_job(tiny_ace_step_dir, tiny_musicgen_dir):
    config = validate_config({"music": {"backend": "musicgen", "model_id": str(tiny_ace_step_dir)}}, SCHEMA)
    with pytest.raises(ModelError) as raised:
        check_models_before_jobs(config, {"generate_track"}, "models/tiny")
    assert str(raised.value) == (
        f"cannot load the music model {str(tiny_ace_step_dir)!r} (config key music.model_id): it is a AceStepPipeline, "
        "not a model of music.backend musicgen; set music.model_id to one, or music.backend to ace_step")
    config = validate_config({"music": {"backend": "ace_step", "model_id": str(tiny_musicgen_dir)}}, SCHEMA)
    with pytest.raises(ModelError, match="it is a musicgen, not a model of music.backend ace_step; set music.model_id "
                                         "to one, or music.backend to musicgen"):
        check_models_before_jobs(config, {"generate_track"}, "models/tiny")


@pytest.mark.parametrize(("music", "expected"), [
    ({"backend": "ace_step", "timesignature": "5"},
     "config key music.timesignature = '5' is not allowed: it must be one of null, '2', '3', '4', '6'"),
    ({"backend": "ace_step", "initial_duration": 30, "music_duration": 20},
     "config key music.music_duration = 20 is not allowed: it must be at least 30, the length of the initial track "
     "that music.initial_duration (30) asks for; lower both to make shorter tracks"),
])
def test_a_bad_ace_step_setting_is_refused_in_one_line(music, expected):
    with pytest.raises(ConfigError) as raised:
        validate_config({"music": music}, SCHEMA)
    assert str(raised.value) == expected


def audio_stream(path) -> tuple[str, str, str]:
    stderr = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                            text=True).stderr
    return re.search(r"Audio: (\w+) \(LC\)[^,]*, (\d+) Hz, (\w+)", stderr).groups()


def project_hashes(project) -> dict[str, str]:
    return {str(path.relative_to(project)): hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in GENERATED for path in sorted((project / folder).glob("*.*"))}


@pytest.mark.slow
def test_the_workflow_on_ace_step_makes_stereo_clips_and_mix_rerolls_and_settles(tmp_path):
    workdir = copy_workflow(tmp_path / "repo")
    configs = ("--configfile", "profiles/demo/demo-config.yaml", "profiles/demo/ace-step.yaml")
    run_ok(workdir, *configs)
    project = workdir / "results" / "demo-ace-step"

    for i in (1, 2):
        track, rate = audio.read_wav(project / "music" / f"track_{i}.wav")
        extended, _ = audio.read_wav(project / "music" / f"track_{i}_ext.wav")
        assert rate == RATE and track.shape == (2 * RATE, 2) and extended.shape == (5 * RATE, 2)
        assert np.abs(extended[:, 0] - extended[:, 1]).mean() > 1e-3
    for path in [project / "clips" / "clip_1.mp4", project / "clips" / "clip_2.mp4", project / "mix" / "mix.mp4"]:
        rate = probe(path).sampling_rate
        assert audio_stream(path) == ("aac", str(rate), "stereo"), path
        decoded = decode_audio(path, rate, channels=2)
        assert np.abs(decoded[:, 0] - decoded[:, 1]).mean() > 1e-3, path
        # an independent BS.1770 meter over both channels, and ffmpeg's true peak
        assert abs(pyloudnorm.Meter(rate).integrated_loudness(decoded) - (-20)) <= 0.5, path
        assert measure_file(path).true_peak_db <= -1, path
    assert probe(project / "clips" / "clip_1.mp4").sampling_rate == RATE

    made = project_hashes(project)
    second = run_ok(workdir, *configs)
    assert "Nothing to be done" in second.stdout + second.stderr and project_hashes(project) == made

    # a deleted track is re-rolled, with its extension; the other track stays; then it settles
    (project / "music" / "track_2.wav").unlink()
    run_ok(workdir, "music", "music_continuation", *configs)
    rerolled = project_hashes(project)
    assert {name for name in made if name.startswith("music/") and rerolled[name] != made[name]} == {
        "music/track_2.wav", "music/track_2_ext.wav"}
    assert read_recipe(project / "music" / "track_2.wav")["attempt"] == 1
    again = run_ok(workdir, "music", "music_continuation", *configs)
    assert "Nothing to be done" in again.stdout + again.stderr and project_hashes(project) == rerolled

    # an ACE-Step setting remakes the music and what is made of it, not the pictures; then it settles
    (workdir / "edit.yaml").write_text(yaml.safe_dump({"music": {"bpm": 100}}))
    edited = (*configs, "edit.yaml")
    planned = {rule for rule, _ in planned_jobs(workdir, *edited)}
    assert planned == {"generate_track", "extend_track", "assemble_clip", "mix_clips", "write_review_page"}
    run_ok(workdir, "music", "music_continuation", *edited)
    remade = project_hashes(project)
    assert {name for name in remade if remade[name] != rerolled[name]} == {
        f"music/track_{i}{ext}.wav" for i in (1, 2) for ext in ("", "_ext")}
    assert read_recipe(project / "music" / "track_1.wav")["bpm"] == 100
    again = run_ok(workdir, "music", "music_continuation", *edited)
    assert "Nothing to be done" in again.stdout + again.stderr and project_hashes(project) == remade
    inspected = run_module(workdir, "aibeats", "inspect", str(project / "music" / "track_1.wav"), timeout=60).stdout
    assert "backend: ace_step" in inspected and "keyscale: A minor" in inspected and "bpm: 100" in inspected
    assert read_recipe(project / "music" / "track_1.wav")["initial_duration"] == 2
