"""Clips cut on the beat: the beats found in a track, the plan they give, and a clip made on a click track."""

import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from aibeats.audio import write_wav
from aibeats.beats import detect_beats, numba_cache_dir
from aibeats.items import beat_frames, clip_animation_order, fill_clip
from aibeats.provenance import read_recipe
from aibeats.recipes import ClipRecipe, MixRecipe
from aibeats.stages import make_clip
from aibeats.video_io import probe, write_animation

RATE, FPS, SIZE = 32000, 12, (64, 48)
# a click every 0.5 s (120 BPM), the first at 0.25 s
CLICK_SECONDS = 0.5
FIRST_CLICK = 0.25


def click_track(seconds: float) -> np.ndarray:
    """Short 1 kHz clicks on a quiet noise floor, like a metronome."""
    samples = 0.001 * np.random.default_rng(0).standard_normal(round(seconds * RATE))
    length = round(0.01 * RATE)
    click = 0.8 * np.sin(2 * np.pi * 1000 * np.arange(length) / RATE) * np.hanning(length)
    for start in np.arange(FIRST_CLICK, seconds - 0.01, CLICK_SECONDS):
        samples[round(start * RATE):round(start * RATE) + length] += click
    return samples.astype(np.float32)


def clicks(seconds: float) -> np.ndarray:
    return np.arange(FIRST_CLICK, seconds - 0.01, CLICK_SECONDS)


def test_the_beats_of_a_120_bpm_click_track_are_its_clicks():
    beats = np.array(detect_beats(click_track(8), RATE))
    expected = clicks(8)
    assert len(beats) >= len(expected) - 1
    # each beat found is a click, well within one frame at 24 fps
    assert np.abs(beats[:, None] - expected[None, :]).min(axis=1).max() < 1 / 24


def test_silence_has_no_beats():
    assert detect_beats(np.zeros(3 * RATE, dtype=np.float32), RATE) == []


def test_each_animation_ends_on_the_latest_beat_it_reaches():
    # beats every 6 frames from frame 3; animations of 20 frames
    plan = fill_clip(["a", "b", "c"], 20, 70, list(range(3, 70, 6)))
    assert plan == [("a", 15), ("b", 18), ("c", 18), ("a", 18), ("b", 1)]
    assert sum(frames for _, frames in plan) == 70


def test_an_animation_without_a_beat_in_its_second_half_plays_whole():
    # the only beats fall early in each animation: cutting there would flash it by
    assert fill_clip(["a", "b"], 20, 45, [2, 21]) == [("a", 20), ("b", 20), ("a", 5)]
    assert fill_clip(["a", "b"], 20, 45, []) == fill_clip(["a", "b"], 20, 45)


def test_beats_are_cut_on_the_nearest_frame():
    assert beat_frames([0.25, 0.74, 1.26], 12) == [3, 9, 15]


def frame_colour(animation: int, frame: int) -> tuple[int, int, int]:
    """Red says which animation, green which of its frames: a decoded clip frame tells where it came from."""
    return 40 + 80 * animation, 20 + 10 * frame, 128


@pytest.fixture(scope="module")
def animations(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("animations")
    paths = [folder / f"anim_{j}.mp4" for j in range(3)]
    for j, path in enumerate(paths):
        write_animation([Image.new("RGB", SIZE, frame_colour(j, k)) for k in range(20)], path, FPS, {"seed": j})
    return paths


def decoded_colours(path: Path) -> np.ndarray:
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, SIZE[1], SIZE[0], 3).mean(axis=(1, 2))


def test_a_clip_cut_on_the_beat_of_a_click_track_cuts_within_a_frame_of_a_click(animations, tmp_path):
    seconds = 6.0
    track = tmp_path / "track_1_ext.wav"
    write_wav(track, click_track(seconds), RATE)
    names = [path.name for path in animations]
    order = clip_animation_order(5, names)
    natural = fill_clip(order, 20, round(seconds * FPS))
    recipe = ClipRecipe(animations=[[name, frames] for name, frames in natural], video_fps=FPS,
                        music_duration=seconds, n_music_loops=1, fade_out_duration=0.5, cut_on_beats=True,
                        animation_order=order, seed=5, attempt=0)
    clip = tmp_path / "clip_1.mp4"
    make_clip(None, recipe, {"track": track, "animations": animations}, clip, tmp_path / "history")

    stored = read_recipe(clip)
    assert np.abs(np.array(stored["beats"])[:, None] - clicks(seconds)[None, :]).min(axis=1).max() < 1 / FPS
    planned = [(name, frames) for name, frames in stored["animations"]]
    assert planned != natural and sum(frames for _, frames in planned) == round(seconds * FPS)
    # Where the decoded clip moves on to the next animation (its green falls back to frame 0) is a cut.
    colours = decoded_colours(clip)
    assert len(colours) == probe(clip).n_frames == round(seconds * FPS)
    cuts = [t for t in range(1, len(colours)) if abs(colours[t][1] - 20) < 4]
    assert cuts == list(np.cumsum([frames for _, frames in planned])[:-1])
    for cut in cuts:
        assert np.abs(cut / FPS - clicks(seconds)).min() <= 1 / FPS, f"the cut at frame {cut} is off the beat"
    # Stream copy: each part of the clip is the first frames of its animation, colour for colour.
    by_name = {path.name: path for path in animations}
    expected = np.concatenate([decoded_colours(by_name[name])[:frames] for name, frames in planned])
    np.testing.assert_array_equal(colours, expected)


def test_a_mix_of_clips_cut_on_the_beat_cuts_them_where_their_recipes_say():
    planned = MixRecipe(clips=[["clip_1.mp4", None, None, 0.0], ["clip_2.mp4", None, None, 4.0]],
                        crossfade_duration=1.0, video_fps=6, loudness_lufs=-14, true_peak_db=-1,
                        audio_sample_rate=48000, seed=0, attempt=0)
    assert not planned.placed
    placed = planned.cut_at([[["anim_1.mp4", 15], ["anim_2.mp4", 15]], [["anim_2.mp4", 4], ["anim_1.mp4", 26]]])
    # clip 2's keyframes are 0, 4 and 16: 4 is the one nearest the middle of the 6-frame crossfade
    assert placed.placed and placed.clips == [["clip_1.mp4", 0, 28, 0.0], ["clip_2.mp4", 4, 30, 4.0]]


BEATS_IN_A_FRESH_PROCESS = """
import sys
sys.path.insert(0, sys.argv[1])
from test_beats import click_track, RATE
from aibeats.beats import detect_beats, numba_cache_dir
print(detect_beats(click_track(4), RATE))
"""


def beats_in_parallel(cache_home: Path, processes: int) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    env.pop("NUMBA_CACHE_DIR", None)
    started = [subprocess.Popen([sys.executable, "-c", BEATS_IN_A_FRESH_PROCESS, str(Path(__file__).parent)],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(processes)]
    return [subprocess.CompletedProcess(p.args, p.wait(timeout=300), *p.communicate()) for p in started]


def test_clip_jobs_on_a_fresh_install_compile_librosa_one_at_a_time_into_a_cache_of_their_own(tmp_path, monkeypatch):
    """Two jobs compiling librosa's numba functions at once corrupt its cache (SIGSEGV, then on every run). Here
    the cache is also one a crash left half written: it is emptied and made again."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cache = numba_cache_dir()
    cache.mkdir(parents=True)
    (cache / "beat.__beat_track_dp-564.py311.nbi").write_bytes(b"\0" * 16)
    results = beats_in_parallel(tmp_path, 2)
    assert [result.returncode for result in results] == [0, 0], [result.stderr[-2000:] for result in results]
    assert results[0].stdout == results[1].stdout != "[]\n"
    assert (cache / ".ready").exists() and list(cache.rglob("*.nbi"))
    assert all(compiled.read_bytes() != b"\0" * 16 for compiled in cache.rglob("*.nb*"))
