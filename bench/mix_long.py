"""A long mix, as lo-fi channels publish them: one hour (20 clips of 180 s) and three hours (60), 1024x576 at 6 fps,
4 s crossfades, loudness -14 LUFS and true peak -1 dBTP.

- Memory: each mix is made in a process of its own, whose peak resident memory (VmHWM) is read as it ends,
  with the largest of the ffmpeg processes it ran (they run beside it, two at a time on 2 cores).
- A change: after one clip changed (its track re-rolled), the mix remade from the pieces the last mix kept,
  against the same mix made from scratch (the only way before pieces were kept, and the original tool's),
  alternating from scratch, remade, from scratch, remade; each pair gives a ratio, reported as min and median.
  The remade mix must be byte-identical to the one made from scratch from the same clips.
- Loudness and true peak of the finished files by ffmpeg's ebur128 filter, a meter independent of ours.
"""

import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from aibeats import audio, video_io
from aibeats.items import clip_keyframes, mix_starts, plan_mix
from aibeats.recipes import MixRecipe
from bench.clips import FPS, SAMPLING_RATE, write_animations
from bench.harness import REPO, Measurement

CLIP_SECONDS = 180
CROSSFADE_SECONDS = 4
ONE_HOUR_CLIPS, THREE_HOUR_CLIPS = 20, 60
PAIRS = 2
# The clip that changes between the runs: one in the middle, with pieces on both sides of it.
CHANGED = 7
FRAMES_PER_ANIMATION = 52
LOUDNESS_LUFS, TRUE_PEAK_DB = -14, -1


def synthetic_track(seed: int) -> np.ndarray:
    """A lo-fi-like track: a chord of the seed's own, a kick on every beat at 80 BPM, and hiss."""
    rng = np.random.default_rng(seed)
    t = np.arange(CLIP_SECONDS * SAMPLING_RATE) / SAMPLING_RATE
    root = 110 * 2 ** (rng.integers(0, 12) / 12)
    chord = sum(np.sin(2 * np.pi * root * ratio * t) for ratio in (1, 1.26, 1.5, 1.89))
    since_beat = np.mod(t, 60 / 80)
    kick = np.sin(2 * np.pi * 55 * since_beat) * np.exp(-since_beat / 0.08)
    level = 0.05 + 0.1 * rng.random()
    return (level * chord + 0.4 * kick + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def _clip_animations(animations: list[Path]) -> list[list]:
    plan, remaining, index = [], CLIP_SECONDS * FPS, 0
    while remaining > 0:
        frames = min(FRAMES_PER_ANIMATION, remaining)
        plan.append([animations[index % len(animations)].name, frames])
        remaining -= frames
        index += 1
    return plan


def make_clip(animations: list[Path], seed: int, output: Path) -> None:
    """What the clip job makes: the animations stream-copied under the track."""
    by_name = {path.name: path for path in animations}
    plan = [(by_name[name], frames) for name, frames in _clip_animations(animations)]
    samples = audio.fade_out(synthetic_track(seed), SAMPLING_RATE, 0.5)
    video_io.assemble_clip(plan, samples, SAMPLING_RATE, FPS, output, {"benchmark": "mix_long", "seed": seed})


def mix_recipe(clips: list[Path], animations: list[Path]) -> MixRecipe:
    frames = [CLIP_SECONDS * FPS] * len(clips)
    crossfade = CROSSFADE_SECONDS * FPS
    keyframes = clip_keyframes(_clip_animations(animations), FPS)
    spans = plan_mix(frames, [keyframes] * len(clips), crossfade)
    starts = mix_starts(frames, crossfade)[:-1]
    rows = [[clip.name, first, end, start / FPS]
            for clip, (first, end), start in zip(clips, spans, starts, strict=True)]
    return MixRecipe(clips=rows, crossfade_duration=CROSSFADE_SECONDS, video_fps=FPS, loudness_lufs=LOUDNESS_LUFS,
                     true_peak_db=TRUE_PEAK_DB, audio_sample_rate=48000, height=None, seed=0, attempt=0)


def _make_mix_here(spec_path: str) -> None:
    """In the process of its own: make the mix, then say how long it took and the memory it and its children held.

    The children (ffmpeg) are sampled from /proc while they run: a child's ru_maxrss counts the parent's memory
    it was forked with, before it became ffmpeg.
    """
    import threading
    import time

    from aibeats.stages import make_mix
    from bench.harness import peak_rss_bytes

    spec = json.loads(Path(spec_path).read_text())
    clips = [Path(clip) for clip in spec["clips"]]
    recipe = MixRecipe.from_params(spec["recipe"])
    children = {"peak": 0, "together": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.1):
            peaks = []
            for listing in Path("/proc/self/task").glob("*/children"):
                for pid in listing.read_text().split():
                    try:
                        peaks.append(peak_rss_bytes(pid))
                    except (OSError, RuntimeError):
                        pass  # ended between the listing and the read
            children["peak"] = max(children["peak"], *peaks, 0)
            children["together"] = max(children["together"], sum(peaks))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    make_mix(None, recipe, {"clips": clips}, Path(spec["output"]), Path(spec["history"]), threads=spec["threads"])
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    print(json.dumps({"seconds": seconds, "peak_bytes": peak_rss_bytes(), "child_peak_bytes": children["peak"],
                      "children_together_bytes": children["together"]}))


def run_mix(project: Path, clips: list[Path], recipe: MixRecipe, threads: int = 2) -> dict:
    """A mix of project made in a new process (its pieces kept under project/.cache/mix); what it measured."""
    spec = project / "spec.json"
    output = project / "mix" / "mix.mp4"
    output.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(json.dumps({"clips": [str(clip) for clip in clips], "recipe": recipe.as_params(),
                                "output": str(output), "history": str(project / "history"), "threads": threads}))
    result = subprocess.run([sys.executable, "-m", "bench.mix_long", str(spec)], cwd=REPO, capture_output=True,
                            text=True, check=False)
    if result.returncode:
        raise RuntimeError(f"the mix failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    pieces = re.search(r"audio: (\d+) pieces made, (\d+) kept", result.stdout)
    measured["pieces"] = f"{pieces[1]} made, {pieces[2]} kept" if pieces else "?"
    measured["sha256"] = _sha256(output)
    measured["output"] = str(output)
    return measured


def ebur128(path: Path) -> tuple[float, float]:
    """(integrated loudness in LUFS, true peak in dBTP) of a file's audio by ffmpeg's own meter."""
    import imageio_ffmpeg

    result = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostats", "-i", str(path), "-vn",
                             "-af", "ebur128=peak=true", "-f", "null", "-"], capture_output=True, text=True, check=True)
    summary = result.stderr.rsplit("Summary:", 1)[1]
    loudness = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary)[1])
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)[1])
    return loudness, peak


def _meter_rows(length: str, meter: tuple[float, float]) -> list[Measurement]:
    loudness, peak = meter
    return [Measurement(f"{length}: loudness off {LOUDNESS_LUFS} LUFS (ffmpeg ebur128)", abs(loudness - LOUDNESS_LUFS),
                        "LU", "<= 0.5", note=f"{loudness:.2f} LUFS"),
            Measurement(f"{length}: true peak (ffmpeg ebur128)", peak, "dBTP", f"<= {TRUE_PEAK_DB}")]


def _sha256(path: Path) -> str:
    import hashlib

    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _clips(scratch: Path, animations: list[Path], count: int) -> list[Path]:
    clips = []
    for number in range(1, count + 1):
        clip = scratch / "clips" / f"clip_{number}.mp4"
        clip.parent.mkdir(parents=True, exist_ok=True)
        make_clip(animations, number, clip)
        clips.append(clip)
    return clips


def _alternate(scratch: Path, clips: list[Path], animations: list[Path]) -> tuple[list, list, int]:
    """From scratch and remade after a change, alternating; how many remade mixes equal their from-scratch one."""
    recipe = mix_recipe(clips, animations)
    variants = {seed: scratch / f"clip_{CHANGED}-seed-{seed}.mp4" for seed in (CHANGED, 1000 + CHANGED)}
    shutil.copy(clips[CHANGED - 1], variants[CHANGED])
    make_clip(animations, 1000 + CHANGED, variants[1000 + CHANGED])
    incremental, from_scratch, identical = [], [], 0
    project = scratch / "project"
    order = [CHANGED, 1000 + CHANGED]
    for pair in range(PAIRS):
        before, after = order[pair % 2], order[(pair + 1) % 2]
        shutil.rmtree(project, ignore_errors=True)
        shutil.copy(variants[before], clips[CHANGED - 1])
        run_mix(project, clips, recipe)  # the mix before the change: its pieces are what the remake starts from
        shutil.copy(variants[after], clips[CHANGED - 1])
        incremental.append(run_mix(project, clips, recipe))
        shutil.rmtree(project / ".cache")
        from_scratch.append(run_mix(project, clips, recipe))
        identical += incremental[-1]["sha256"] == from_scratch[-1]["sha256"]
    return from_scratch, incremental, identical


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="aibeats-bench-mix-long-") as scratch_name:
        scratch = Path(scratch_name)
        animations = write_animations(scratch)
        clips = _clips(scratch, animations, ONE_HOUR_CLIPS)
        from_scratch, incremental, identical = _alternate(scratch, clips, animations)
        one_hour = ebur128(Path(from_scratch[-1]["output"]))
        one_hour_seconds = video_io.probe(Path(from_scratch[-1]["output"])).video_seconds
        clips += _clips(scratch, animations, THREE_HOUR_CLIPS)[ONE_HOUR_CLIPS:]
        three_hours = run_mix(scratch / "three-hours", clips, mix_recipe(clips, animations))
        three_hour_meter = ebur128(Path(three_hours["output"]))
        three_hour_seconds = video_io.probe(Path(three_hours["output"])).video_seconds
    expected = ONE_HOUR_CLIPS * CLIP_SECONDS - (ONE_HOUR_CLIPS - 1) * CROSSFADE_SECONDS
    if abs(one_hour_seconds - expected) > 1 / FPS:
        raise RuntimeError(f"the one-hour mix lasts {one_hour_seconds:.3f} s, not {expected} s")
    ratios = [whole["seconds"] / remade["seconds"] for whole, remade in zip(from_scratch, incremental, strict=True)]
    peak = max(run["peak_bytes"] for run in from_scratch + incremental)
    child_peak = max(run["child_peak_bytes"] for run in from_scratch + incremental)
    together = max(run["children_together_bytes"] for run in from_scratch + incremental)
    layout = (f"{ONE_HOUR_CLIPS} x {CLIP_SECONDS} s clips ({one_hour_seconds / 60:.1f} min), 1024x576 @ {FPS} fps, "
              f"{CROSSFADE_SECONDS} s crossfades, 2 threads, {PAIRS} pairs")
    mib = 2**20
    return [
        Measurement("one hour, from scratch (median)", statistics.median(run["seconds"] for run in from_scratch), "s",
                    note=layout),
        Measurement("one hour, remade after one clip changed (median)",
                    statistics.median(run["seconds"] for run in incremental), "s", "< 60",
                    note=f"pieces {incremental[0]['pieces']}"),
        Measurement("remade vs from scratch, min of paired ratios", min(ratios), "x"),
        Measurement("remade vs from scratch, median of paired ratios", statistics.median(ratios), "x"),
        Measurement("remade mixes byte-identical to their mix from scratch", identical, f"of {PAIRS}", f">= {PAIRS}"),
        Measurement("one hour: peak memory of the mix process", peak / mib, "MiB", "< 1536",
                    note=f"ffmpeg beside it: {child_peak / mib:.0f} MiB the largest, {together / mib:.0f} MiB "
                         "at once"),
        Measurement("three hours: peak memory of the mix process", three_hours["peak_bytes"] / mib, "MiB",
                    f"<= {1.1 * peak / mib:.0f}",
                    note=f"{three_hour_seconds / 3600:.2f} h, made in {three_hours['seconds']:.0f} s; ffmpeg "
                         f"{three_hours['child_peak_bytes'] / mib:.0f} MiB the largest, "
                         f"{three_hours['children_together_bytes'] / mib:.0f} MiB at once"),
        *_meter_rows("one hour", one_hour),
        *_meter_rows("three hours", three_hour_meter),
    ]


if __name__ == "__main__":
    _make_mix_here(sys.argv[1])
