"""Loudness (ITU-R BS.1770 / EBU R128): setting audio to a target loudness under a true-peak ceiling, and
measuring it.

The measuring is ffmpeg's `ebur128` meter (BS.1770 K-weighting and gating, true peak by oversampling), the
reference implementation that ships inside the ffmpeg the workflow already uses. Setting the loudness is one
gain for the whole signal, plus a lookahead limiter (ffmpeg's `alimiter`, run at four times the rate so that
it catches the peaks between samples) for the few peaks that the gain would push past the ceiling; the gain
is refined until the result measures at the target. ffmpeg's `loudnorm` was tried first: on short or very
peaky music (a crest factor above the target's 13 dB) it falls back to a dynamic mode that misses the target
by 2 LU.
"""

import re
import subprocess
from dataclasses import dataclass

import imageio_ffmpeg
import numpy as np

from aibeats.terminal import tell_user

# Gain refinements before settling: each lands within a few hundredths of an LU of the last one's error.
_ROUNDS = 4
# Close enough to stop refining, well inside the 0.5 LU that a listener (and the acceptance) allows.
_TOLERANCE_LU = 0.1
# The limiter works this much under the ceiling: lossy encoders add a little to the true peak.
_LIMITER_MARGIN_DB = 0.5
_OVERSAMPLING = 4
_RESAMPLER = "resampler=soxr:precision=28"
_SUMMARY = re.compile(r"Integrated loudness:\s+I:\s+(?P<i>-?[\d.]+|-inf) LUFS.*?True peak:\s+Peak:\s+"
                      r"(?P<tp>-?[\d.]+|-inf) dBFS", re.DOTALL)


@dataclass(frozen=True)
class Loudness:
    integrated_lufs: float
    true_peak_db: float


def _run_ffmpeg(args: list[str], stdin: bytes | None) -> subprocess.CompletedProcess:
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "info", *args]
    result = subprocess.run(command, input=stdin, capture_output=True)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args)} failed: {result.stderr.decode(errors='replace')[-500:]}")
    return result


def _pcm_input(samples: np.ndarray, sampling_rate: int) -> list[str]:
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    return ["-f", "f32le", "-ar", str(sampling_rate), "-ac", str(channels), "-i", "pipe:0"]


def _summary(stderr: bytes, what: str) -> Loudness:
    text = stderr.decode(errors="replace")
    summary = _SUMMARY.search(text[text.rfind("Summary:"):])
    if summary is None:
        raise RuntimeError(f"{what}: ffmpeg's loudness meter printed no summary: {text[-500:]}")
    return Loudness(float(summary["i"]), float(summary["tp"]))


def measure(samples: np.ndarray, sampling_rate: int) -> Loudness:
    """Integrated loudness and true peak of float samples, mono or (n, channels)."""
    samples = np.ascontiguousarray(samples, dtype="<f4")
    result = _run_ffmpeg([*_pcm_input(samples, sampling_rate), "-af", "ebur128=peak=true", "-f", "null", "-"],
                         samples.tobytes())
    return _summary(result.stderr, "audio")


def measure_file(path) -> Loudness:
    """Integrated loudness and true peak of a media file's audio as a player decodes it."""
    result = _run_ffmpeg(["-i", str(path), "-map", "0:a:0", "-af", "ebur128=peak=true", "-f", "null", "-"], None)
    return _summary(result.stderr, str(path))


def _gain_and_limit(samples: np.ndarray, sampling_rate: int, gain_db: float, ceiling_db: float) -> np.ndarray:
    limit = max(10 ** (ceiling_db / 20), 1 / 16)  # alimiter's lowest limit is -24 dBFS
    high = sampling_rate * _OVERSAMPLING
    filters = (f"volume={gain_db:.4f}dB,aresample={high}:{_RESAMPLER},"
               f"alimiter=limit={limit:.6f}:level=false:latency=true:attack=5:release=50,"
               f"aresample={sampling_rate}:{_RESAMPLER}")
    result = _run_ffmpeg([*_pcm_input(samples, sampling_rate), "-af", filters, "-f", "f32le", "pipe:1"],
                         samples.tobytes())
    out = np.frombuffer(result.stdout, dtype="<f4")
    out = out if samples.ndim == 1 else out.reshape(-1, samples.shape[1])
    # The resamplers' delay compensation can leave a sample more or less: keep the input's length exactly.
    if len(out) >= len(samples):
        return np.array(out[:len(samples)], dtype=np.float32)
    return np.concatenate([out, np.zeros((len(samples) - len(out), *samples.shape[1:]), dtype=np.float32)])


def normalize_loudness(samples: np.ndarray, sampling_rate: int, target_lufs: float, true_peak_db: float,
                       what: str) -> np.ndarray:
    """The samples (float32, mono or (n, channels)) at target_lufs integrated, true peak under the ceiling;
    `what` names them in the warning when the ceiling does not leave room for the target."""
    samples = np.ascontiguousarray(samples, dtype="<f4")
    measured = measure(samples, sampling_rate)
    if measured.integrated_lufs == float("-inf"):
        return samples  # silence has no loudness to set
    gain_db = target_lufs - measured.integrated_lufs
    if measured.true_peak_db + gain_db <= true_peak_db - _LIMITER_MARGIN_DB:
        # The gain alone keeps every peak under the ceiling: loudness moves by exactly the gain, no limiter.
        return (samples * np.float32(10 ** (gain_db / 20))).astype(np.float32)
    for _ in range(_ROUNDS):
        result = _gain_and_limit(samples, sampling_rate, gain_db, true_peak_db - _LIMITER_MARGIN_DB)
        error = target_lufs - measure(result, sampling_rate).integrated_lufs
        if abs(error) <= _TOLERANCE_LU:
            return result
        gain_db += error
    # Audio whose energy sits in the bass (K-weighting counts it little) can hit the ceiling long before it
    # sounds loud enough; limiting harder would distort it.
    tell_user(f"ai-beats: warning: {what}: reaches {target_lufs - error:.1f} LUFS, not {target_lufs}, under the "
              f"true-peak ceiling of {true_peak_db} dBTP; lower the loudness target or raise the ceiling")
    return result
