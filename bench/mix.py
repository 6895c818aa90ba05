"""Mix assembly: ours (stream copy of the clips' video, crossfaded and normalised audio) against the same mix
made with moviepy (a dissolve and an audio crossfade, everything re-encoded), the original tool's library.

Five 60 s clips at the real default size (1024x576, 6 fps), made like the clip benchmark's, are mixed with a
4 s crossfade. The two sides alternate (ours, moviepy, ours, moviepy, ...) and each pair gives a ratio; the
table reports the min and the median of the paired ratios. Ours is also timed with mix.height 1080 (Lanczos
upscale and one H.264 encode).
"""

import statistics
import tempfile
from pathlib import Path

from aibeats import video_io
from aibeats.items import clip_keyframes, mix_starts, plan_mix
from aibeats.recipes import MixRecipe
from aibeats.stages import make_mix
from bench.clips import (
    FPS,
    SAMPLING_RATE,
    _assemble_ours,
    _clip_plan,
    _synthetic_track,
    moviepy_python,
    run_moviepy,
    write_animations,
)
from bench.harness import Measurement, Stopwatch

N_CLIPS = 5
CROSSFADE_SECONDS = 4
PAIRS = 2


def _clips(scratch: Path) -> tuple[list[Path], list[list]]:
    """Five clips of 60 s, and each one's animations in order (for its keyframes)."""
    from aibeats import audio

    animations = write_animations(scratch)
    plan = _clip_plan(video_io.probe(animations[0]).n_frames)
    track = scratch / "track_ext.wav"
    audio.write_wav(track, _synthetic_track(), SAMPLING_RATE)
    clips = []
    for number in range(1, N_CLIPS + 1):
        clip = scratch / f"clip_{number}.mp4"
        _assemble_ours(animations, plan, track, clip)
        clips.append(clip)
    return clips, [[animations[index].name, frames] for index, frames in plan]


def _recipe(clips: list[Path], animations: list[list], height: int | None) -> MixRecipe:
    frames = [video_io.probe(clip).n_frames for clip in clips]
    crossfade = CROSSFADE_SECONDS * FPS
    spans = plan_mix(frames, [clip_keyframes(animations, FPS)] * len(clips), crossfade)
    starts = mix_starts(frames, crossfade)[:-1]
    rows = [[clip.name, first, end, start / FPS] for clip, (first, end), start in zip(clips, spans, starts,
                                                                                       strict=True)]
    return MixRecipe(clips=rows, crossfade_duration=CROSSFADE_SECONDS, video_fps=FPS, loudness_lufs=-14,
                     true_peak_db=-1, audio_sample_rate=48000, height=height, seed=0, attempt=0)


def _ours(clips: list[Path], animations: list[list], output: Path, height: int | None = None) -> float:
    with Stopwatch() as watch:
        make_mix(None, _recipe(clips, animations, height), {"clips": clips}, output, output.parent / "history")
    return watch.seconds


def _moviepy(python: Path, clips: list[Path], output: Path, scratch: Path) -> float:
    spec = {"clips": [str(clip) for clip in clips], "crossfade": CROSSFADE_SECONDS, "fps": FPS, "output": str(output)}
    return run_moviepy(python, "moviepy_mix.py", spec, scratch)


def run() -> list[Measurement]:
    python = moviepy_python()
    with tempfile.TemporaryDirectory(prefix="aibeats-bench-mix-") as scratch_name:
        scratch = Path(scratch_name)
        clips, animations = _clips(scratch)
        ours, theirs = [], []
        for pair in range(PAIRS):
            ours.append(_ours(clips, animations, scratch / f"mix_ours_{pair}.mp4"))
            theirs.append(_moviepy(python, clips, scratch / f"mix_moviepy_{pair}.mp4", scratch))
        upscaled = _ours(clips, animations, scratch / "mix_1080.mp4", height=1080)
        ours_info = video_io.probe(scratch / "mix_ours_0.mp4")
        theirs_info = video_io.probe(scratch / "mix_moviepy_0.mp4")
        upscaled_info = video_io.probe(scratch / "mix_1080.mp4")
    expected = N_CLIPS * 60 - (N_CLIPS - 1) * CROSSFADE_SECONDS
    for name, info in (("ours", ours_info), ("moviepy", theirs_info), ("ours at 1080", upscaled_info)):
        if abs(info.video_seconds - expected) > 1 / FPS:
            raise RuntimeError(f"the {name} mix lasts {info.video_seconds:.3f} s, not {expected} s")
    ratios = [their / our for our, their in zip(ours, theirs, strict=True)]
    layout = f"{N_CLIPS} x 60 s clips, 1024x576 @ {FPS} fps, {CROSSFADE_SECONDS} s crossfades, {PAIRS} pairs"
    return [
        Measurement("ours: stream copy + crossfade + loudness + AAC (median)", statistics.median(ours), "s",
                    note=layout),
        Measurement("moviepy: dissolve + re-encode (median)", statistics.median(theirs), "s",
                    note="imports excluded"),
        Measurement("speed-up, min of paired ratios", min(ratios), "x", ">= 5"),
        Measurement("speed-up, median of paired ratios", statistics.median(ratios), "x", ">= 5"),
        Measurement("ours with mix.height 1080", upscaled, "s",
                    note=f"{upscaled_info.width}x{upscaled_info.height}, H.264 High"),
    ]
