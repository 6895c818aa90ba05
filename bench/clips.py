"""Clip assembly: ours (stream copy of the animations + AAC) against the original tool's moviepy re-encode.

Both assemble the same 60 s clip at 1024x576 and 6 fps from the same animations and the same 32 kHz track.
The animations are shaped like the real defaults (14 frames, 2 continuations, looped: 52 frames each), with
synthetic frames that move (drifting gradients, a moving disc, grain) so that x264 has real work to do.
"""

import json
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from aibeats import audio, video_io
from bench.harness import OUT, REPO, Measurement, Stopwatch

WIDTH, HEIGHT, FPS = 1024, 576, 6
CLIP_SECONDS = 60
SAMPLING_RATE = 32000
# Real defaults: 14 frames per SVD segment, 2 segments sharing a frame (27), played forward then backward
# without repeating the turning frames (52).
FORWARD_FRAMES = 27
# A track shows the animations of one modifier: n_images (5 by default) of them, cycled.
N_ANIMATIONS = 5
FADE_OUT_SECONDS = 0.5
MOVIEPY_VERSION = "2.2.1"
MOVIEPY_VENV = OUT / "moviepy-venv"
# Counted rounds of each side, after one warm-up round.
ROUNDS = 3


def _synthetic_frames(animation: int) -> list[Image.Image]:
    """A looped animation: drifting colour gradients, a disc crossing the frame and fresh grain on every frame."""
    rng = np.random.default_rng(animation)
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    forward = []
    for t in range(FORWARD_FRAMES):
        phase = 0.35 * t + animation
        red = 128 + 70 * np.sin(x / 90 + phase) + 30 * np.cos(y / 40 - phase)
        green = 128 + 60 * np.sin((x + y) / 120 - 0.7 * phase)
        blue = 128 + 80 * np.cos(np.hypot(x - WIDTH / 2, y - HEIGHT / 2) / 50 - phase)
        frame = np.stack([red, green, blue], axis=-1)
        disc_x, disc_y = (80 + 30 * t + 100 * animation) % WIDTH, HEIGHT / 2 + 150 * np.sin(0.2 * t)
        frame[(x - disc_x) ** 2 + (y - disc_y) ** 2 < 60**2] = (240, 220, 40)
        frame += rng.normal(0, 6, frame.shape).astype(np.float32)
        forward.append(Image.fromarray(np.clip(frame, 0, 255).astype(np.uint8)))
    return forward + forward[-2:0:-1]


def _synthetic_track() -> np.ndarray:
    """60 s of chords with a little noise, at MusicGen's 32 kHz."""
    rng = np.random.default_rng(0)
    t = np.arange(CLIP_SECONDS * SAMPLING_RATE) / SAMPLING_RATE
    chord = sum(np.sin(2 * np.pi * frequency * t) for frequency in (220.0, 277.2, 329.6))
    return (0.2 * chord + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def _clip_plan(frames_per_animation: int) -> list[tuple[int, int]]:
    """(animation, frames) in clip order: the animations cycled until they fill the clip, the last one cut."""
    plan, remaining, index = [], CLIP_SECONDS * FPS, 0
    while remaining > 0:
        frames = min(frames_per_animation, remaining)
        plan.append((index % N_ANIMATIONS, frames))
        remaining -= frames
        index += 1
    return plan


def moviepy_python() -> Path:
    """The interpreter of a venv holding moviepy, made on first use.

    moviepy is the original tool's approach, here only to be compared against: the workflow never uses it.
    It gets a venv of its own because moviepy 2.2.1 requires pillow < 12 and installing it into the
    workflow's venv would downgrade the workflow's pillow. The same imageio-ffmpeg is pinned, so both sides
    run the same ffmpeg build.
    """
    python = MOVIEPY_VENV / "bin" / "python"
    # moviepy.__version__ says 2.1.2 in release 2.2.1: ask the installed metadata instead.
    check = [str(python), "-c", f"import importlib.metadata as m; assert m.version('moviepy') == {MOVIEPY_VERSION!r}"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    print(f"installing moviepy {MOVIEPY_VERSION} into {MOVIEPY_VENV} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(MOVIEPY_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", f"moviepy=={MOVIEPY_VERSION}",
                    f"imageio-ffmpeg=={metadata.version('imageio-ffmpeg')}"], check=True)
    return python


def _assemble_ours(animations: list[Path], plan: list[tuple[int, int]], track: Path, output: Path) -> None:
    """What the clip job does: read the track, fade it out, stream-copy the animations under it."""
    samples, sampling_rate = audio.read_wav(track)
    soundtrack = audio.fade_out(samples, sampling_rate, FADE_OUT_SECONDS)
    video_io.assemble_clip([(animations[index], frames) for index, frames in plan], soundtrack, sampling_rate, FPS,
                           output, {"benchmark": "clips"})


def run_moviepy(python: Path, script: str, spec: dict, scratch: Path) -> float:
    """Run one of bench/moviepy_*.py in the moviepy venv on a spec; the seconds it reports (imports left out)."""
    spec_path = scratch / f"{Path(script).stem}-spec.json"
    spec_path.write_text(json.dumps(spec))
    # Its own working folder: moviepy writes its temporary audio file beside the current directory.
    result = subprocess.run([str(python), str(REPO / "bench" / script), str(spec_path)], cwd=scratch,
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"moviepy failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])["seconds"]


def _assemble_moviepy(python: Path, animations: list[Path], plan: list[tuple[int, int]], track: Path,
                      output: Path, scratch: Path) -> float:
    return run_moviepy(python, "moviepy_clip.py", {
        "animations": [str(animations[index]) for index, _ in plan], "last_frames": plan[-1][1],
        "track": str(track), "fps": FPS, "output": str(output), "fade_out_seconds": FADE_OUT_SECONDS}, scratch)


def write_animations(scratch: Path) -> list[Path]:
    """The N_ANIMATIONS synthetic animations, encoded as the animation stage encodes them."""
    animations = []
    for index in range(N_ANIMATIONS):
        path = scratch / f"anim_{index + 1}.mp4"
        video_io.write_animation(_synthetic_frames(index), path, FPS, {"benchmark": "clips"})
        animations.append(path)
    return animations


def _audio_format(info: video_io.MediaInfo, path: Path) -> str:
    channels = video_io.decode_audio(path, info.sampling_rate, channels=2)
    mono = bool(np.allclose(channels[:, 0], channels[:, 1], atol=1e-4))
    return f"{info.sampling_rate} Hz {'mono' if mono else 'stereo'} {info.audio_codec}"


def run() -> list[Measurement]:
    """A warm-up of each side, then ROUNDS rounds alternating ours and moviepy's; the paired ratios' min and
    median."""
    python = moviepy_python()
    with tempfile.TemporaryDirectory(prefix="aibeats-bench-clips-") as scratch_name:
        scratch = Path(scratch_name)
        animations = write_animations(scratch)
        frames_per_animation = video_io.probe(animations[0]).n_frames
        plan = _clip_plan(frames_per_animation)
        track = scratch / "track_1_ext.wav"
        audio.write_wav(track, _synthetic_track(), SAMPLING_RATE)

        ours_path, moviepy_path = scratch / "clip_ours.mp4", scratch / "clip_moviepy.mp4"
        ours_times, moviepy_times = [], []
        for round_number in range(ROUNDS + 1):
            with Stopwatch() as ours:
                _assemble_ours(animations, plan, track, ours_path)
            moviepy_seconds = _assemble_moviepy(python, animations, plan, track, moviepy_path, scratch)
            if round_number:  # the first round warms the caches: not counted
                ours_times.append(ours.seconds)
                moviepy_times.append(moviepy_seconds)
        ours_info, moviepy_info = video_io.probe(ours_path), video_io.probe(moviepy_path)
        formats = {"ours": _audio_format(ours_info, ours_path), "moviepy": _audio_format(moviepy_info, moviepy_path)}

    for name, info in (("ours", ours_info), ("moviepy", moviepy_info)):
        if abs(info.video_seconds - CLIP_SECONDS) > 1 / FPS or abs(info.audio_seconds - CLIP_SECONDS) > 1 / FPS:
            raise RuntimeError(f"the {name} clip lasts {info.video_seconds:.3f} s (video) and "
                               f"{info.audio_seconds:.3f} s (audio), not {CLIP_SECONDS} s")
    ratios = [theirs / mine for mine, theirs in zip(ours_times, moviepy_times, strict=True)]
    layout = (f"{len(plan)} slots over {N_ANIMATIONS} animations of {frames_per_animation} frames, "
              f"{WIDTH}x{HEIGHT} @ {FPS} fps; median of {ROUNDS}")
    return [
        Measurement("ours: stream copy + AAC", statistics.median(ours_times), "s", note=layout),
        Measurement(f"moviepy {MOVIEPY_VERSION}: libx264 + aac re-encode", statistics.median(moviepy_times), "s",
                    note=f"imports excluded; median of {ROUNDS}"),
        Measurement("speed-up (moviepy / ours), min of the paired ratios", min(ratios), "x", ">= 10"),
        Measurement("speed-up (moviepy / ours), median of the paired ratios", statistics.median(ratios), "x"),
        Measurement("output duration, ours", ours_info.video_seconds, "s",
                    note=f"{ours_info.n_frames} frames, audio {ours_info.audio_seconds:.3f} s, {formats['ours']}"),
        Measurement("output duration, moviepy", moviepy_info.video_seconds, "s",
                    note=f"{moviepy_info.n_frames} frames, audio {moviepy_info.audio_seconds:.3f} s, "
                         f"{formats['moviepy']}"),
    ]
