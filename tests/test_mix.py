"""The finished video's parts without a workflow: where the video cuts, the crossfade, the loudness, the chapter
lines and the thumbnail."""

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from PIL import Image

from aibeats.items import clip_keyframes, format_chapter_time, mix_starts, plan_mix, youtube_chapter_rule_broken
from aibeats.loudness import measure, normalize_loudness
from aibeats.mix_audio import crossfade_gains
from aibeats.mix_plan import mix_length, place_clips
from aibeats.provenance import read_recipe, save_png
from aibeats.recipes import ThumbnailRecipe
from aibeats.stages import make_thumbnail

RATE = 48000


def test_keyframes_are_each_animations_start_and_every_two_seconds():
    assert clip_keyframes([["anim_1.mp4", 12], ["anim_3.mp4", 30]], fps=6) == [0, 12, 24, 36]
    assert clip_keyframes([["anim_1.mp4", 5], ["anim_3.mp4", 5]], fps=2) == [0, 4, 5, 9]


@pytest.mark.parametrize("crossfade", [0, 6, 12, 24])
def test_the_video_cuts_on_a_keyframe_and_lasts_as_long_as_the_audio(crossfade):
    frames, keyframes = [30, 30, 36], [[0, 12, 24], [0, 12, 24], [0, 12, 24]]
    spans = plan_mix(frames, keyframes, crossfade)
    assert sum(end - first for first, end in spans) == sum(frames) - 2 * crossfade
    # each clip's audio starts where the one before it starts to fade out; the last number is the mix's end
    assert mix_starts(frames, crossfade) == [0, 30 - crossfade, 60 - 2 * crossfade, sum(frames) - 2 * crossfade]
    assert spans[0][0] == 0 and spans[-1][1] == frames[-1]
    for (first, _), keys in zip(spans, keyframes, strict=True):
        assert first in keys and first <= crossfade
    # the cut is at the keyframe nearest to the middle of the overlap
    assert plan_mix(frames, keyframes, 24)[1][0] == 12
    assert plan_mix(frames, keyframes, 20)[1][0] == 12
    assert plan_mix(frames, keyframes, 6)[1][0] == 0


def test_an_equal_power_crossfade_keeps_the_level_of_two_unrelated_tracks():
    rng = np.random.default_rng(1)
    first, second = (rng.standard_normal((RATE * 4, 2)) * 0.1 for _ in range(2))
    overlap = RATE
    placed = place_clips([len(first), len(second)], overlap)
    positions = np.arange(len(first))
    faded = [track * crossfade_gains(place, positions, overlap)[:, None] for track, place in zip(
        (first, second), placed, strict=True)]
    mix = np.zeros((mix_length(placed), 2))
    for track, place in zip(faded, placed, strict=True):
        mix[place.start:place.end] += track
    assert len(mix) == len(first) + len(second) - overlap
    assert np.allclose(mix[:RATE * 3], first[:RATE * 3]) and np.allclose(mix[-RATE * 3:], second[-RATE * 3:])
    middle = mix[len(first) - overlap + overlap // 2 - 2400:len(first) - overlap + overlap // 2 + 2400]
    rms_db = 20 * np.log10(np.sqrt(np.mean(middle ** 2)) / np.sqrt(np.mean(first ** 2)))
    assert abs(rms_db) < 0.5  # a linear crossfade would dip by 3 dB here


def music_like(seconds: float = 8, seed: int = 0) -> np.ndarray:
    """Chords with plucked envelopes and a little noise: the crest factor of real music, unlike a sine."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    signal = np.zeros_like(t)
    for beat in np.arange(0, seconds, 0.5):
        envelope = np.exp(-(t - beat) * 6) * (t >= beat)
        for hz in rng.choice([110, 220, 330, 440, 660, 880, 1320], size=3):
            signal += envelope * np.sin(2 * np.pi * hz * t) * 0.1
    signal += rng.standard_normal(len(t)) * 0.01
    return np.stack([signal, signal * 0.9], axis=1).astype(np.float32)


@pytest.mark.parametrize(("target", "ceiling"), [(-14, -1), (-20, -2), (-10, -1)])
def test_loudness_is_set_to_the_target_under_the_true_peak_ceiling(target, ceiling):
    audio = music_like()
    normalized = normalize_loudness(audio, RATE, target, ceiling, what="test")
    assert normalized.shape == audio.shape
    # an independent BS.1770 meter agrees
    assert abs(pyloudnorm.Meter(RATE).integrated_loudness(normalized) - target) < 0.5
    assert measure(normalized, RATE).true_peak_db <= ceiling


def test_audio_too_bassy_for_the_target_says_so(capsys):
    t = np.arange(RATE * 4) / RATE
    bass = (np.sign(np.sin(2 * np.pi * 40 * t)) * 0.5).astype(np.float32)
    normalize_loudness(bass, RATE, -5, -1, what="results/x/clips/clip_1.mp4")
    assert "warning: results/x/clips/clip_1.mp4: reaches" in capsys.readouterr().err


def test_chapter_times_follow_youtube():
    assert [format_chapter_time(s) for s in (0, 9.9, 65, 600, 3599.5, 3600, 3725.9)] == [
        "0:00", "0:09", "1:05", "10:00", "59:59", "1:00:00", "1:02:05"]


def test_broken_youtube_chapter_rules_are_named():
    assert youtube_chapter_rule_broken([0, 60, 120], 180) is None
    assert "2 chapters" in youtube_chapter_rule_broken([0, 60], 120)
    assert "chapter 2 lasts 5.0 s" in youtube_chapter_rule_broken([0, 60, 65], 180)
    assert "chapter 3 lasts 8.0 s" in youtube_chapter_rule_broken([0, 60, 120], 128)


def test_the_thumbnail_covers_1280x720_centred(tmp_path):
    image = Image.new("RGB", (128, 64), "red")
    image.paste((0, 0, 255), (64, 0, 128, 64))  # right half blue
    image.paste((0, 255, 0), (0, 0, 4, 64))  # a green stripe at the left edge, cut off by the crop
    save_png(image, tmp_path / "img_1.png", {"stage": "image"})
    recipe = ThumbnailRecipe(width=1280, height=720, seed=1, attempt=0)
    make_thumbnail(None, recipe, {"image": tmp_path / "img_1.png"}, tmp_path / "thumbnail.png", tmp_path / "history")
    with Image.open(tmp_path / "thumbnail.png") as thumbnail:
        assert thumbnail.size == (1280, 720)
        # 128x64 scaled by 11.25 is 1440x720: 80 pixels cut on each side, so the halves meet in the middle
        assert thumbnail.getpixel((5, 360)) == (255, 0, 0)
        assert thumbnail.getpixel((630, 360)) == (255, 0, 0) and thumbnail.getpixel((650, 360)) == (0, 0, 255)
    assert read_recipe(tmp_path / "thumbnail.png")["source"] == str(tmp_path / "img_1.png")
    assert Path(tmp_path / "history" / "thumbnail.json").exists()
