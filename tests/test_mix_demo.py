"""The finished video on the offline demo: mix, chapters and thumbnail, measured end to end."""

import re
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pyloudnorm
import pytest
import yaml
from PIL import Image

from aibeats.config import validate_config
from aibeats.loudness import measure_file
from aibeats.plan import Project
from aibeats.video_io import decode_audio, probe

from workflow import and_review_page, demo_config, planned_jobs, run_module, run_ok

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DEMO = Project(validate_config(demo_config(), SCHEMA))
CONFIG = DEMO.config


def channels_of(path: Path) -> str:
    stderr = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True,
                            text=True).stderr
    return re.search(r"Audio: (\w+) \(LC\)[^,]*, (\d+) Hz, (\w+)", stderr).groups()


def test_the_mix_lasts_the_clips_less_the_crossfades_with_audio_and_video_together(demo_run):
    mix = probe(demo_run / DEMO.output("mix", 1))
    clips = [probe(demo_run / path) for path in DEMO.outputs("audio_clip")]
    fps = CONFIG["video"]["video_fps"]
    expected = sum(clip.video_seconds for clip in clips) - (len(clips) - 1) * CONFIG["mix"]["crossfade_duration"]
    assert abs(mix.video_seconds - expected) <= 1 / fps
    assert abs(mix.audio_seconds - mix.video_seconds) <= 1 / fps
    assert (mix.width, mix.height, mix.fps) == (clips[0].width, clips[0].height, fps)
    assert channels_of(demo_run / DEMO.output("mix", 1)) == ("aac", "48000", "stereo")


def test_the_mix_and_every_clip_measure_at_their_loudness_under_their_ceiling(demo_run):
    targets = [(DEMO.output("mix", 1), CONFIG["mix"])] + [(path, CONFIG["audio_clip"])
                                                          for path in DEMO.outputs("audio_clip")]
    for path, settings in targets:
        rate = probe(demo_run / path).sampling_rate
        audio = decode_audio(demo_run / path, rate, channels=2)
        # an independent meter (pyloudnorm) on the decoded AAC, and ffmpeg's true peak of the file
        assert abs(pyloudnorm.Meter(rate).integrated_loudness(audio) - settings["loudness_lufs"]) <= 0.5, path
        assert measure_file(demo_run / path).true_peak_db <= settings["true_peak_db"], path


def test_chapters_start_at_zero_ascend_and_name_each_track(demo_run):
    lines = (demo_run / DEMO.output("chapters", 1)).read_text().splitlines()
    parsed = [re.fullmatch(r"(\d+):(\d\d) (.{1,70})", line).groups() for line in lines]
    starts = [int(minutes) * 60 + int(seconds) for minutes, seconds, _ in parsed]
    assert starts[0] == 0 and starts == sorted(set(starts))
    modifiers = CONFIG["image"]["prompt_modifiers"]
    assert [title for _, _, title in parsed] == [f"Track {i} - {modifiers[(i - 1) % len(modifiers)]}"
                                                 for i in DEMO.track_indices]
    # the second track starts where the first clip's crossfade begins
    assert starts[1] == int(CONFIG["music"]["music_duration"] - CONFIG["mix"]["crossfade_duration"])


def test_the_thumbnail_is_1280x720(demo_run):
    with Image.open(demo_run / DEMO.output("thumbnail", 1)) as thumbnail:
        assert thumbnail.size == (1280, 720)


def test_inspect_shows_the_mix_recipe(demo_run):
    result = run_module(demo_run, "aibeats", "inspect", str(DEMO.output("mix", 1)), timeout=60)
    assert result.returncode == 0, result.stderr
    assert '["clip_1.mp4", 0, ' in result.stdout and '["clip_2.mp4", 0, 30, 4.0]' in result.stdout
    assert f"loudness_lufs: {CONFIG['mix']['loudness_lufs']}" in result.stdout


def test_a_mix_height_upscales_and_reencodes_only_the_mix(demo_copy):
    (demo_copy / "tall.yaml").write_text(yaml.safe_dump({"mix": {"height": 128}}))
    args = ("--configfile", "profiles/demo/demo-config.yaml", "tall.yaml")
    assert planned_jobs(demo_copy, *args) == and_review_page({("mix_clips", "mix.mp4")})
    run_ok(demo_copy, *args)
    mix, clip = probe(demo_copy / DEMO.output("mix", 1)), probe(demo_copy / DEMO.output("audio_clip", 1))
    assert (mix.width, mix.height) == (2 * clip.width, 128)
    assert abs(mix.video_seconds - probe(demo_copy / DEMO.output("mix", 1)).audio_seconds) <= 1 / mix.fps
    stderr = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(demo_copy / DEMO.output(
        "mix", 1))], capture_output=True, text=True).stderr
    assert "h264 (High)" in stderr and "yuv420p" in stderr
    assert planned_jobs(demo_copy, *args) == set()
