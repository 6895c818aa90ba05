"""The mix's audio made piece by piece: the meter, the limiter and the cuts on their own, then a mix remade after
one clip changed, against one made from scratch."""

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from PIL import Image

from aibeats import video_io
from aibeats.bs1770 import CellMeter, add_cells, integrated_loudness, oversampled_peaks
from aibeats.items import clip_keyframes, mix_starts, plan_mix
from aibeats.limiter import limit, limiter_context
from aibeats.loudness import measure_file, normalize_loudness
from aibeats.mix_plan import AAC_FRAME, place_clips, plan_pieces
from aibeats.recipes import MixRecipe
from aibeats.stages import make_mix

RATE, FPS, TRACK_RATE = 48000, 6, 32000


def music_like(seconds: float, seed: int, rate: int = RATE) -> np.ndarray:
    """Plucked chords and a little noise: the crest factor of real music."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    signal = np.zeros_like(t)
    for beat in np.arange(0, seconds, 0.5):
        envelope = np.where(t >= beat, np.exp(-np.maximum(t - beat, 0) * 6), 0)
        for hz in rng.choice([110, 220, 330, 440, 660, 880, 1320], size=3):
            signal += envelope * np.sin(2 * np.pi * hz * t) * 0.1
    return signal + rng.standard_normal(len(t)) * 0.01


def cells_of(samples: np.ndarray, start: int = 0, warm_up: np.ndarray | None = None) -> CellMeter:
    meter = CellMeter(RATE, samples.shape[1], start)
    if warm_up is not None:
        meter.warm_up(warm_up)
    for position in range(0, len(samples), 30000):
        meter.feed(samples[position:position + 30000])
    return meter


def test_the_loudness_of_a_whole_is_the_gating_of_its_pieces_cells():
    quiet_middle = np.stack([music_like(12, 1), music_like(12, 2) * 0.8], axis=1)
    quiet_middle[RATE * 4:RATE * 6] *= 0.01
    whole = cells_of(quiet_middle)
    loudness = integrated_loudness(whole.energies, RATE)
    assert abs(loudness - pyloudnorm.Meter(RATE).integrated_loudness(quiet_middle)) < 0.1
    # cut where no cell ends, the pieces' cells add up to the whole's
    cut = 123457
    pieces = [cells_of(quiet_middle[:cut]), cells_of(quiet_middle[cut:], cut, warm_up=quiet_middle[cut - 4800:cut])]
    combined = add_cells([(piece.first_cell, piece.energies) for piece in pieces])
    assert np.allclose(combined, whole.energies, rtol=1e-6)
    assert integrated_loudness(combined, RATE) == pytest.approx(loudness, abs=1e-6)
    assert integrated_loudness(np.zeros((30, 2)), RATE) == float("-inf")


def test_the_limiter_holds_true_peaks_under_the_ceiling_and_reads_only_its_context():
    loud = np.stack([music_like(6, 3), music_like(6, 4)], axis=1) * 8
    ceiling, context = 10 ** (-1 / 20), limiter_context(RATE)
    padded = np.concatenate([np.zeros((context, 2)), loud, np.zeros((context, 2))])
    whole = limit(padded, RATE, ceiling)[context:-context]
    assert oversampled_peaks(loud).max() > 2 * ceiling
    assert 20 * np.log10(oversampled_peaks(whole).max() / ceiling) < 0.01
    # piece by piece, each with its context, as limited whole
    pieces = []
    for start in range(0, len(loud), 40000):
        end = min(start + 40000, len(loud))
        pieces.append(limit(padded[start:end + 2 * context], RATE, ceiling)[context:context + end - start])
    assert np.abs(np.concatenate(pieces) - whole).max() < 1e-9
    quiet = loud * 0.01
    assert limit(quiet, RATE, ceiling) is quiet


def test_pieces_are_cut_on_aac_frames_clear_of_the_crossfades():
    lengths, overlap, context = [RATE * 30] * 3, RATE * 4, 7000
    placed = place_clips(lengths, overlap)
    pieces = plan_pieces(placed, overlap, context)
    assert [piece.clips for piece in pieces] == [(0,), (0, 1), (1,), (1, 2), (2,)]
    assert pieces[0].start == 0 and pieces[-1].end == placed[-1].end
    for before, after in zip(pieces, pieces[1:], strict=False):
        assert before.end == after.start and after.start % AAC_FRAME == 0
    for solo in pieces[::2]:
        clip = placed[solo.clips[0]]
        fades = [(clip.start, clip.start + overlap)] * clip.fade_in + [(clip.end - overlap, clip.end)] * clip.fade_out
        assert all(solo.end + context <= lo or solo.start - context >= hi for lo, hi in fades)
    # a clip too short for a solo stretch of its own: one piece over both of its crossfades
    short = plan_pieces(place_clips([RATE * 30, overlap + 2 * context, RATE * 30], overlap), overlap, context)
    assert [piece.clips for piece in short] == [(0,), (0, 1, 2), (2,)]


def write_clips(folder: Path, seeds: list[int], seconds: int) -> list[Path]:
    animation = folder / "anim.mp4"
    if not animation.exists():
        video_io.write_animation([Image.new("RGB", (64, 32), (20 * n, 90, 40)) for n in range(12)], animation, FPS, {})
    clips = []
    for number, seed in enumerate(seeds, start=1):
        frames = seconds * FPS
        plan = [(animation, min(12, frames - start)) for start in range(0, frames, 12)]
        sound = normalize_loudness(music_like(seconds, seed, TRACK_RATE).astype(np.float32), TRACK_RATE, -14, -1,
                                   what="test")
        clip = folder / f"clip_{number}.mp4"
        video_io.assemble_clip(plan, sound, TRACK_RATE, FPS, clip, {}, true_peak_db=-1)
        clips.append(clip)
    return clips


def mix_of(folder: Path, clips: list[Path], seconds: int) -> Path:
    frames = [seconds * FPS] * len(clips)
    keyframes = [clip_keyframes([["anim.mp4", 12]] * (seconds * FPS // 12), FPS)] * len(clips)
    crossfade = FPS
    rows = [[clip.name, first, end, start / FPS] for clip, (first, end), start in zip(
        clips, plan_mix(frames, keyframes, crossfade), mix_starts(frames, crossfade), strict=False)]
    recipe = MixRecipe(clips=rows, crossfade_duration=1, video_fps=FPS, loudness_lufs=-16, true_peak_db=-1.5,
                       audio_sample_rate=RATE, seed=0, attempt=0)
    make_mix(None, recipe, {"clips": clips}, folder / "mix" / "mix.mp4", folder / "history", threads=2)
    return folder / "mix" / "mix.mp4"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_mix_remade_after_one_clip_changed_remakes_its_pieces_alone_and_equals_one_made_from_scratch(
        tmp_path, capsys):
    seconds = 8
    kept = tmp_path / "kept"
    kept.mkdir()
    clips = write_clips(kept, [1, 2, 3], seconds)
    mix = mix_of(kept, clips, seconds)
    assert "5 pieces made, 0 kept" in capsys.readouterr().out
    info = video_io.probe(mix)
    assert info.audio_seconds == info.video_seconds == 3 * seconds - 2
    decoded = video_io.decode_audio(mix, RATE, channels=2)
    assert len(decoded) == (3 * seconds - 2) * RATE
    assert abs(pyloudnorm.Meter(RATE).integrated_loudness(decoded) - -16) <= 0.5
    assert measure_file(mix).true_peak_db <= -1.5

    write_clips(kept, [1, 22, 3], seconds)  # clip 2 changes
    mix = mix_of(kept, clips, seconds)
    # clip 2's solo stretch and its two crossfades; the first and last clips' stretches are kept
    assert "3 pieces made, 2 kept" in capsys.readouterr().out
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    shutil.copy(kept / "anim.mp4", scratch)
    for clip in clips:
        shutil.copy(clip, scratch)
    assert digest(mix_of(scratch, [scratch / clip.name for clip in clips], seconds)) == digest(mix)
    # the cache holds the pieces and clips of the mix just made, nothing of the one before, no scratch
    cached = sorted(path.name.split("-")[0] for path in (kept / ".cache" / "mix").iterdir())
    assert cached == ["clip"] * 3 + ["piece"] * 10
