"""A look-ahead peak limiter whose output at a sample depends only on the signal within LIMITER_CONTEXT samples
of it: a long mix is limited piece by piece, each piece with that much of its neighbours, and comes out as if
limited whole (within floating-point rounding).

The gain a sample needs is what keeps its true peak (aibeats.bs1770, four times oversampled) under the ceiling.
The gain applied is that need's minimum over the window from HOLD before to ATTACK after the sample (so a peak
is met ATTACK ahead and let go HOLD after), then averaged over ATTACK either side: every value averaged is at
most the sample's own need, so no sample passes the ceiling, and the gain moves in ramps of 2 x ATTACK instead
of jumps. A feedback limiter (ffmpeg's `alimiter`) has no such bound on how far back its state reaches.
"""

import numpy as np

from aibeats.bs1770 import TRUE_PEAK_CONTEXT, oversampled_peaks

ATTACK_SECONDS = 0.005
HOLD_SECONDS = 0.05


def limiter_context(sampling_rate: int) -> int:
    """Samples each side of a piece that its limiting reads."""
    attack, hold = _windows(sampling_rate)
    return hold + 2 * attack + TRUE_PEAK_CONTEXT


def _windows(sampling_rate: int) -> tuple[int, int]:
    return round(ATTACK_SECONDS * sampling_rate), round(HOLD_SECONDS * sampling_rate)


def limit(samples: np.ndarray, sampling_rate: int, ceiling: float) -> np.ndarray:
    """The samples ((n, channels), float64) with their true peaks under `ceiling` (linear); the first and last
    limiter_context(sampling_rate) samples are context, limited as if the signal stopped there."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    peaks = oversampled_peaks(samples)
    if peaks.max(initial=0.0) <= ceiling:
        return samples
    need = np.minimum(1.0, ceiling / np.maximum(peaks, 1e-12))
    attack, hold = _windows(sampling_rate)
    size = hold + attack + 1
    held = minimum_filter1d(need, size, mode="nearest", origin=_origin(hold, attack))
    gain = uniform_filter1d(held, 2 * attack + 1, mode="nearest")
    return samples * gain[:, None]


def _origin(hold: int, attack: int) -> int:
    """scipy's origin for a window reaching `hold` samples back and `attack` ahead (its default is centred)."""
    return (hold + attack) // 2 - attack
