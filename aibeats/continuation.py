"""How to extend a track window by window (MusicGen, ACE-Step): the windowing arithmetic, the loop and the join,
without a model."""

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Lengths below this many seconds count as equal: summing window lengths in floating point must not leave a
# sliver of a window (a femtosecond short of the target) to generate.
_SECONDS_TOLERANCE = 1e-9


# How long the end of the track so far fades into the window's version of it (MusicGen's re-encoded prompt,
# ACE-Step's re-synthesised context): long enough that the fade's own slope is inaudible, short enough to stay
# within one note, so the two versions barely drift apart.
CROSSFADE_SECONDS = 0.05

# Every published MusicGen decodes 50 EnCodec frames per second; the mono models have 4 codebooks.
MUSICGEN_FRAME_RATE = 50
MUSICGEN_CODEBOOKS = 4


def initial_track_seconds(n_tokens: int, frame_rate: int = MUSICGEN_FRAME_RATE,
                          n_codebooks: int = MUSICGEN_CODEBOOKS) -> float:
    """How long a track of n_tokens new MusicGen tokens lasts: the codebook delay pattern costs one token per
    codebook but the first, except below 2 x n_codebooks - 2 tokens, where transformers leaves the pattern out."""
    delay = n_codebooks - 1
    frames = n_tokens - delay if n_tokens >= 2 * delay else n_tokens
    return frames / frame_rate


@dataclass(frozen=True)
class ContinuationWindow:
    """One generation: the last prompt_seconds of the audio so far as its prompt, then new_seconds of new music."""

    prompt_seconds: float
    new_seconds: float


def plan_continuation_windows(initial_seconds: float, target_seconds: float, max_continuation_seconds: float,
                              prompt_seconds: float) -> list[ContinuationWindow]:
    """The windows that extend a track of initial_seconds to target_seconds, in order.

    Each window holds at most max_continuation_seconds of audio, its prompt included; a track shorter than
    prompt_seconds is its own prompt. The last window adds only what is still missing.
    """
    if not 0 < prompt_seconds < max_continuation_seconds:
        raise ValueError(f"prompt_seconds ({prompt_seconds}) must be above 0 and below max_continuation_seconds "
                         f"({max_continuation_seconds}): each window holds the prompt plus some new music")
    if target_seconds - initial_seconds <= _SECONDS_TOLERANCE:
        return []
    if initial_seconds <= 0:
        raise ValueError("an empty track cannot be continued: there is no audio to use as a prompt")
    windows = []
    seconds_so_far = initial_seconds
    while target_seconds - seconds_so_far > _SECONDS_TOLERANCE:
        prompt = min(prompt_seconds, seconds_so_far)
        new = min(max_continuation_seconds - prompt, target_seconds - seconds_so_far)
        windows.append(ContinuationWindow(prompt_seconds=prompt, new_seconds=new))
        seconds_so_far += new
    return windows


def join_continuation(existing: np.ndarray, window_audio: np.ndarray, prompt_samples: int,
                      crossfade_samples: int) -> np.ndarray:
    """existing followed by the new part of window_audio, whose first prompt_samples re-encode existing's end.

    MusicGen returns the prompt re-encoded by EnCodec: close to the input, but not equal to it, and the new
    music continues from the re-encoded version. Cutting straight from existing to the new part would jump by
    the re-encoding error, an audible click. Instead the last crossfade_samples of existing fade into the
    matching end of the re-encoded prompt, so the new part follows on from the very signal it was generated
    after. The fade is linear rather than equal-power: both sides are the same music (strongly correlated),
    so their amplitudes add and a linear fade keeps the level steady, where equal-power gains would swell the
    middle of the fade by up to 3 dB.
    """
    existing = np.asarray(existing, dtype=np.float32)
    window_audio = np.asarray(window_audio, dtype=np.float32)
    if not 0 <= prompt_samples <= min(len(existing), len(window_audio)):
        raise ValueError(f"prompt_samples ({prompt_samples}) must fit in both the existing audio "
                         f"({len(existing)} samples) and the window ({len(window_audio)} samples)")
    crossfade_samples = max(0, min(crossfade_samples, prompt_samples))
    keep = len(existing) - crossfade_samples
    # The fade-in gain runs strictly between 0 and 1, so neither side's edge sample repeats at full weight.
    fade_in = (np.arange(1, crossfade_samples + 1, dtype=np.float32) / np.float32(crossfade_samples + 1)
               ).reshape(-1, *[1] * (existing.ndim - 1))  # one gain per sample, over every channel
    faded = existing[keep:] * (1 - fade_in) + window_audio[prompt_samples - crossfade_samples:prompt_samples] * fade_in
    return np.concatenate([existing[:keep], faded, window_audio[prompt_samples:]]).astype(np.float32)


def window_seed(seed: int, index: int) -> int:
    # Hashed rather than seed + index, so that window 1 of one track does not repeat window 0 of the next seed.
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


# The loop's arithmetic and its model's window are given apart: keyword-only past the track and its format.
def extend_by_windows(track: np.ndarray, rate: int, hop: int, target_seconds: float, *,  # noqa: PLR0913
                      max_continuation_seconds: float, prompt_seconds: float, seed: int, model_name: str,
                      continue_window: Callable[[np.ndarray, int, int], np.ndarray]) -> np.ndarray:
    """The track continued until it lasts exactly target_seconds (cut to it if longer).

    Each window hands `continue_window(context, new_frames, window's seed)` the last prompt_seconds of the audio
    so far, in whole frames of hop samples, and gets back its own version of that context followed by new_frames
    frames of new music; only the new part is kept, crossfaded on (join_continuation).
    """
    audio = np.asarray(track, dtype=np.float32)
    frame_rate = rate / hop
    windows = plan_continuation_windows(len(audio) / rate, target_seconds, max_continuation_seconds, prompt_seconds)
    for index, window in enumerate(windows):
        # Whole frames only: a codec pads a partial frame, and the re-made context would then be longer than the
        # audio it stands for, shifting the new music against the track.
        context = math.floor(window.prompt_seconds * rate / hop) * hop
        if context == 0:
            raise ValueError(f"a track of {len(audio)} samples is shorter than one {model_name} frame ({hop} samples)")
        new_frames = math.ceil(window.new_seconds * frame_rate - 1e-6)
        window_audio = continue_window(audio[-context:], new_frames, window_seed(seed, index))
        audio = join_continuation(audio, window_audio, context, round(CROSSFADE_SECONDS * rate))
    return audio[:round(target_seconds * rate)]
