"""Music extension: compute per second of audio of extend_track, against one bare generate of the same length.

The model is musicgen-small's published architecture with random weights (aibeats.realsize: T5-base text encoder,
EnCodec 32 kHz with 4 codebooks, a 24-layer decoder of width 1024), built once into bench/out/realsize-models/
(shared with `python -m bench realsize`) and loaded with the workflow's loader, fp32 on the CPU: the hub is out of
reach, and the compute of a forward pass does not depend on the weights' values.

The window has the workflow's proportion, as much audio prompt as new music (the defaults: 10 s + 10 s in windows
of 20 s), cut short to run in minutes: a 2 s track extended to 4 s by one window of 2 s prompt + 2 s new, against
a bare 4 s generate. Both then run the decoder over the same positions (the window's prompt at once, the bare
generate's first half token by token), so the difference is what windowing costs: the prompt's prefill, EnCodec
encoding the prompt and decoding it again, and the codebook delay paid once per window.

That cost is MusicGen's and the hardware's, not the code's: at 1:1 a window passes as many prompt tokens through
the decoder as it generates. A prefill token is cheaper than a step (one parallel pass, bound by arithmetic, where
each step reads every weight for one token), but on a CPU it still costs several % of a step, and transformers
5.24 runs each prefill twice. So no target is set on it; the original tool extends with the same windows and pays
the same. The target is on what extend_track adds around the model.

The sides alternate (bare, extension, bare, extension, ...): a warm-up pair, then COUNTED_PAIRS pairs, more while
fewer than COUNTED_PAIRS were undisturbed. Each pair gives a ratio of compute per second of (new) audio; the
overhead is its min and median over the undisturbed pairs (over all pairs if none was).
"""

import statistics
import time
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from transformers import MusicgenForConditionalGeneration

from aibeats.continuation import plan_continuation_windows
from aibeats.music import MusicModel, extend_track, generate_track, load_music_model
from aibeats.realsize import build_realsize_model
from bench.harness import Measurement, Stopwatch
from bench.realsize import MODEL_FOLDERS, MODELS

MODEL_FOLDER = MODELS / MODEL_FOLDERS["musicgen"]
PROMPT = "lo-fi music with a soothing melody"
INITIAL_SECONDS, TARGET_SECONDS = 2, 4
MAX_CONTINUATION_SECONDS, PROMPT_SECONDS = 4, 2
SEED = 7
# Undisturbed pairs wanted after the warm-up; one disturbed pair is repeated at most. A pair took 68 s on a 2-core
# CPU (0.21 s per decoder step): about 4.5 minutes in all when undisturbed, 6 with a repeat.
COUNTED_PAIRS, MAX_PAIRS = 3, 4
# A pair counts as undisturbed when other processes took less than this share of the CPUs in both of its runs.
QUIET_LOAD = 0.05
# Windowing cannot make audio cheaper per second than a bare generate over the same positions: per second of new
# audio it runs as many decoder steps, over later positions, and the prefill besides. Two runs of the same
# generate differ by 1-5 % on this machine, so an overhead further below zero than this is a measurement error (a
# disturbed run), never a result.
NOISE_PERCENT = 3
# The share of extend_track's time outside MusicGen's generate (windowing, joins, the processor's calls): what it
# adds to the windows, which the original tool runs too (max_continuation_duration and prompt_music_duration are
# its settings). A few milliseconds per window; 1 % would be a whole-track operation per window.
OUTSIDE_GENERATE_TARGET = "< 1"


@dataclass
class CheckedMeasurement(Measurement):
    """A Measurement that may be known to be a measurement error: then it never counts as met."""

    error: str | None = None

    @property
    def met(self) -> bool | None:
        return False if self.error else super().met


class TimeBreakdown:
    """Seconds spent in each part of MusicGen during a block: text encoder, EnCodec, decoder prefill and steps, and
    in MusicGen's generate as a whole (which holds the others)."""

    def __init__(self, model: MusicgenForConditionalGeneration) -> None:
        self.model = model
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.generate_seconds = 0.0

    def _add(self, part: str, started: float) -> None:
        self.seconds[part] += time.perf_counter() - started
        self.calls[part] += 1

    def _timed(self, part: str, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self._add(part, started)

        return timed

    def _timed_generate(self, function):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.generate_seconds += time.perf_counter() - started

        return timed

    @contextmanager
    def recording(self):
        decoder, encodec = self.model.decoder, self.model.audio_encoder
        started = {}

        def before(module, args, kwargs):
            started[module] = time.perf_counter()

        def after_text_encoder(module, args, kwargs, output):
            self._add("text encoder", started[module])

        def after_decoder(module, args, kwargs, output):
            input_ids = kwargs.get("input_ids", args[0] if args else None)
            # The first call of each generate feeds every start/prompt token at once; later calls one token.
            self._add("decoder prefill" if input_ids is not None and input_ids.shape[-1] > 1 else "decoder steps",
                      started[module])

        hooks = []
        for module, after in ((self.model.text_encoder, after_text_encoder), (decoder, after_decoder)):
            hooks += [module.register_forward_pre_hook(before, with_kwargs=True),
                      module.register_forward_hook(after, with_kwargs=True)]
        # generate calls EnCodec's encode and decode methods, not its forward: those are wrapped instead.
        encodec.encode = self._timed("EnCodec encode", encodec.encode)
        encodec.decode = self._timed("EnCodec decode", encodec.decode)
        self.model.generate = self._timed_generate(self.model.generate)
        try:
            yield self
        finally:
            for hook in hooks:
                hook.remove()
            del encodec.encode, encodec.decode, self.model.generate


@dataclass
class TimedRun:
    seconds: float
    foreign_load: float  # share of the CPUs other processes took meanwhile
    breakdown: TimeBreakdown

    @property
    def duplicate_prefill_seconds(self) -> float:
        """What transformers 5.24's MusicGen generate wastes: it runs the prefill twice (the first result, passed on
        as `prefill_outputs`, is never read). For a generate without an audio prompt the prefill is one start token,
        counted as a step."""
        if self.breakdown.calls["decoder prefill"]:
            return self.breakdown.seconds["decoder prefill"] / 2
        return self.breakdown.seconds["decoder steps"] / self.breakdown.calls["decoder steps"]


def _timed(model: MusicModel, make) -> TimedRun:
    breakdown = TimeBreakdown(model.model)
    with breakdown.recording(), Stopwatch() as watch:
        audio = make()
    if len(audio) != TARGET_SECONDS * model.sampling_rate:
        raise RuntimeError(f"expected {TARGET_SECONDS} s of audio, got {len(audio) / model.sampling_rate} s")
    return TimedRun(watch.seconds, watch.foreign_load, breakdown)


@dataclass
class Pair:
    """A bare generate, then the extension."""

    bare: TimedRun
    extension: TimedRun

    @property
    def quiet(self) -> bool:
        return max(self.bare.foreign_load, self.extension.foreign_load) < QUIET_LOAD

    def overhead_percent(self, wasted: bool = True) -> float:
        """Extra compute per second of new audio of the extension over the bare generate's per second of audio;
        with wasted=False, both without transformers' duplicate prefill."""
        bare, extension = self.bare.seconds, self.extension.seconds
        if not wasted:
            bare -= self.bare.duplicate_prefill_seconds
            extension -= self.extension.duplicate_prefill_seconds
        return 100 * ((extension / (TARGET_SECONDS - INITIAL_SECONDS)) / (bare / TARGET_SECONDS) - 1)

    def describe(self) -> str:
        return (f"bare {self.bare.seconds:.1f} s, extension {self.extension.seconds:.1f} s: "
                f"{self.overhead_percent():+.1f} % (other processes {100 * self.bare.foreign_load:.0f} % / "
                f"{100 * self.extension.foreign_load:.0f} %)")


def _mean_breakdown(runs: list[TimedRun]) -> str:
    """Where a run's time went, averaged over runs: seconds per run and calls per run of each part."""
    n = len(runs)
    parts = sorted({part for run in runs for part in run.breakdown.seconds})
    described = [f"{part} {sum(run.breakdown.seconds[part] for run in runs) / n:.2f} s "
                 f"({sum(run.breakdown.calls[part] for run in runs) / n:g}x)" for part in parts]
    rest = sum(run.seconds - sum(run.breakdown.seconds.values()) for run in runs) / n
    return "; ".join([*described, f"rest {rest:.2f} s"])


def _measurement_error(overhead_percent: float) -> str | None:
    """Why an overhead cannot be right, if it cannot."""
    if overhead_percent >= -NOISE_PERCENT:
        return None
    return (f"measurement error: an extension cannot be cheaper per second than a bare generate over the same "
            f"positions, and {overhead_percent:.1f} % is beyond the {NOISE_PERCENT} % noise of repeated runs")


def load_musicgen_small() -> MusicModel:
    """musicgen-small's architecture with random weights, built on first use, loaded as the workflow loads it."""
    build_realsize_model("musicgen", MODEL_FOLDER)
    return load_music_model(str(MODEL_FOLDER), "cpu", "fp32")


def run() -> list[Measurement]:
    torch.set_grad_enabled(False)
    with Stopwatch() as load:
        model = load_musicgen_small()
    n_parameters = sum(parameter.numel() for parameter in model.model.parameters())
    print(f"   musicgen-small architecture: {n_parameters / 1e6:.0f} M parameters, loaded in {load.seconds:.0f} s",
          flush=True)
    windows = plan_continuation_windows(INITIAL_SECONDS, TARGET_SECONDS, MAX_CONTINUATION_SECONDS, PROMPT_SECONDS)
    # The content of the track does not change the compute; a tone stands in for a generated track.
    t = np.arange(INITIAL_SECONDS * model.sampling_rate) / model.sampling_rate
    track = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)

    def one_pair() -> Pair:
        bare = _timed(model, lambda: generate_track(
            model, PROMPT, TARGET_SECONDS * model.frame_rate + model.codebook_delay, SEED))
        extension = _timed(model, lambda: extend_track(
            model, PROMPT, track, TARGET_SECONDS, MAX_CONTINUATION_SECONDS, PROMPT_SECONDS, SEED))
        return Pair(bare, extension)

    # The first pair warms the caches and torch's kernels: not counted.
    print(f"   warm-up: {one_pair().describe()}", flush=True)
    pairs: list[Pair] = []
    while len(pairs) < MAX_PAIRS and sum(pair.quiet for pair in pairs) < COUNTED_PAIRS:
        pairs.append(one_pair())
        print(f"   pair {len(pairs)}: {pairs[-1].describe()}", flush=True)

    quiet = [pair for pair in pairs if pair.quiet]
    counted = quiet or pairs
    which = (f"{len(quiet)} undisturbed pairs of {len(pairs)}" if quiet
             else f"all {len(pairs)} pairs, all disturbed")
    overheads = [pair.overhead_percent() for pair in counted]
    median_overhead, min_overhead = statistics.median(overheads), min(overheads)
    listed = ", ".join(f"{pair.overhead_percent():+.1f} %" + ("" if pair.quiet else " (disturbed)") for pair in pairs)
    bare_runs, extension_runs = [pair.bare for pair in counted], [pair.extension for pair in counted]
    bare = statistics.median(run.seconds for run in bare_runs)
    extension = statistics.median(run.seconds for run in extension_runs)
    outside_generate = statistics.median(100 * (1 - run.breakdown.generate_seconds / run.seconds)
                                         for run in extension_runs)
    foreign_loads = [100 * run.foreign_load for pair in pairs for run in (pair.bare, pair.extension)]
    layout = " + ".join(f"{w.prompt_seconds:g} s prompt + {w.new_seconds:g} s new" for w in windows)
    return [
        Measurement(f"bare generate, {TARGET_SECONDS} s of audio", bare, "s",
                    note=f"median of {which}; per run: {_mean_breakdown(bare_runs)}"),
        Measurement(f"extend_track {INITIAL_SECONDS} s -> {TARGET_SECONDS} s ({layout})", extension, "s",
                    note=f"median of {which}; per run: {_mean_breakdown(extension_runs)}"),
        Measurement("bare generate, compute per second of audio", bare / TARGET_SECONDS, "s/s",
                    note=f"fp32 CPU, guidance 3.0, {n_parameters / 1e6:.0f} M parameters"),
        Measurement("extend_track, compute per second of new audio", extension / (TARGET_SECONDS - INITIAL_SECONDS),
                    "s/s"),
        CheckedMeasurement("extension overhead per second of audio, median of the paired ratios", median_overhead,
                           "%", error=_measurement_error(median_overhead),
                           note=_measurement_error(median_overhead)
                           or f"{which}; every pair: {listed}; "
                              f"{statistics.median(p.overhead_percent(wasted=False) for p in counted):.1f} % "
                              "without transformers' duplicate prefill"),
        CheckedMeasurement("extension overhead per second of audio, min of the paired ratios", min_overhead, "%",
                           error=_measurement_error(min_overhead), note=_measurement_error(min_overhead) or ""),
        Measurement("extend_track outside MusicGen's generate, share of its time", outside_generate, "%",
                    OUTSIDE_GENERATE_TARGET, note=f"the windowing, joins and processor calls: median of {which}"),
        Measurement("other processes' CPU share, highest in a run", max(foreign_loads), "%",
                    note="every run, bare / extension: " + ", ".join(
                        f"{100 * p.bare.foreign_load:.0f}/{100 * p.extension.foreign_load:.0f}" for p in pairs)),
    ]
