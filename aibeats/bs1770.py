"""Loudness and true peak (ITU-R BS.1770-4) measured piece by piece, so that a long mix is never held whole.

Integrated loudness gates 400 ms blocks that overlap by 75 %: every block is four consecutive 100 ms cells. So
what a stretch of audio contributes is the K-weighted energy of each cell it covers, kept per channel
(`CellMeter`); cells measured in separate pieces add up wherever a piece boundary cuts one, and the gating of
`integrated_loudness` runs over the blocks those cells make. The K-weighting filter is libebur128's (the one
ffmpeg's `ebur128` uses), designed for any sampling rate.

True peak: the signal oversampled four times (BS.1770's minimum), by a polyphase FIR filter whose output at a
point depends only on a few samples around it, so a piece measured with `TRUE_PEAK_CONTEXT` samples of its
neighbours on each side measures as it would inside the whole.
"""

import math

import numpy as np

# The cells of the gating blocks, and the blocks: 400 ms, stepping by 100 ms.
CELLS_PER_SECOND = 10
CELLS_PER_BLOCK = 4
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
# BS.1770's offset between the mean square of the K-weighted signal and LUFS.
_LOUDNESS_OFFSET = -0.691
OVERSAMPLING = 4
# Samples each side that the oversampling filter reaches (scipy's default: 10 taps per phase each side).
TRUE_PEAK_CONTEXT = 16


def k_weighting(sampling_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """(b, a) of BS.1770's K-weighting: a high shelf (the head) then a high pass (RLB), as libebur128 designs
    them for any rate; at 48 kHz they are the standard's published coefficients."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sampling_rate)
    vh = 10 ** (gain_db / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf_b = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0]
    shelf_a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sampling_rate)
    a0 = 1 + k / q + k * k
    high_pass_b = [1.0, -2.0, 1.0]
    high_pass_a = [1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.convolve(shelf_b, high_pass_b), np.convolve(shelf_a, high_pass_a)


class CellMeter:
    """The K-weighted energy of each 100 ms cell of a stretch of audio fed to it in order, block by block.

    `start` is where the stretch begins on the timeline that the cells divide (sample 0 begins cell 0). The
    filter starts at rest; `warm_up` with the audio just before the stretch lets it settle (a few ms) first.
    """

    def __init__(self, sampling_rate: int, channels: int, start: int):
        self.position = start
        self.cell = sampling_rate // CELLS_PER_SECOND
        self.b, self.a = k_weighting(sampling_rate)
        self.state = np.zeros((len(self.a) - 1, channels))
        self.first_cell = start // self.cell
        self.energies = np.zeros((0, channels))

    def warm_up(self, samples: np.ndarray) -> None:
        from scipy.signal import lfilter

        _, self.state = lfilter(self.b, self.a, samples, axis=0, zi=self.state)

    def feed(self, samples: np.ndarray) -> None:
        """Measure the next samples, (n, channels)."""
        from scipy.signal import lfilter

        weighted, self.state = lfilter(self.b, self.a, samples, axis=0, zi=self.state)
        cells = (self.position + np.arange(len(samples))) // self.cell - self.first_cell
        if len(cells) and cells[-1] >= len(self.energies):
            grown = np.zeros((int(cells[-1]) + 1, self.energies.shape[1]))
            grown[:len(self.energies)] = self.energies
            self.energies = grown
        np.add.at(self.energies, cells, weighted ** 2)
        self.position += len(samples)


def add_cells(pieces: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """The cells of a whole from its pieces' (first cell, energies): a cell two pieces share gets both parts."""
    end = max(first + len(energies) for first, energies in pieces)
    channels = pieces[0][1].shape[1]
    total = np.zeros((end, channels))
    for first, energies in pieces:
        total[first:first + len(energies)] += energies
    return total


def integrated_loudness(energies: np.ndarray, sampling_rate: int) -> float:
    """Integrated loudness in LUFS of audio whose cells' energies these are (mono and stereo channels weigh 1);
    -inf for silence or audio shorter than one block."""
    cell = sampling_rate // CELLS_PER_SECOND
    n_blocks = len(energies) - CELLS_PER_BLOCK + 1
    if n_blocks < 1:
        return float("-inf")
    # Each block's mean square per channel, summed over channels (their weights are all 1).
    block_sums = np.lib.stride_tricks.sliding_window_view(energies.sum(axis=1), CELLS_PER_BLOCK).sum(axis=1)
    mean_squares = block_sums / (CELLS_PER_BLOCK * cell)
    with np.errstate(divide="ignore"):
        loudness = _LOUDNESS_OFFSET + 10 * np.log10(mean_squares)
    above = loudness > ABSOLUTE_GATE_LUFS
    if not above.any():
        return float("-inf")
    relative = _LOUDNESS_OFFSET + 10 * math.log10(mean_squares[above].mean()) + RELATIVE_GATE_LU
    gated = above & (loudness > relative)
    return float(_LOUDNESS_OFFSET + 10 * math.log10(mean_squares[gated].mean()))


def oversampled_peaks(samples: np.ndarray) -> np.ndarray:
    """Per sample, the highest magnitude over all channels of the signal oversampled four times between it and
    the next sample: (n,) for (n, channels). The first and last TRUE_PEAK_CONTEXT samples are context only and
    are measured as if the signal stopped there."""
    from scipy.signal import resample_poly

    upsampled = resample_poly(np.asarray(samples, dtype=np.float64), OVERSAMPLING, 1, axis=0)
    return np.abs(upsampled).reshape(len(samples), OVERSAMPLING, -1).max(axis=(1, 2))


def decibels(amplitude: float) -> float:
    return 20 * math.log10(amplitude) if amplitude > 0 else float("-inf")
