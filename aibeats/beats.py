"""The beats of a track, for clips that cut from one animation to the next on the beat."""

import fcntl
import os
import shutil
import sys
from contextlib import contextmanager
from importlib.metadata import version
from pathlib import Path

import numpy as np

# A probe long enough for every numba function the beat tracker uses to be compiled once.
_WARM_UP_SECONDS = 2


def detect_beats(samples: np.ndarray, sampling_rate: int) -> list[float]:
    """The times of the beats in a track (mono, or (samples, channels) found on its downmix), in seconds, by
    librosa's dynamic-programming beat tracker.

    The onset envelope averages the spectral flux over all frequencies instead of taking beat_track's median:
    the median of a narrow-band sound (a click, a kick drum alone) is zero, which leaves the tracker with no
    onsets at all. Beats are not trimmed at the ends, so a track that starts on the beat keeps its first one.
    An empty list: no beat found (silence).
    """
    beats = _track_beats(_librosa_with_a_ready_cache(), samples, sampling_rate)
    # Milliseconds are finer than any frame and keep the recipe readable.
    return [round(float(beat), 3) for beat in beats]


def _track_beats(librosa, samples: np.ndarray, sampling_rate: int) -> np.ndarray:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim > 1:  # (samples, channels)
        samples = samples.mean(axis=1)
    envelope = librosa.onset.onset_strength(y=samples, sr=sampling_rate)
    return librosa.beat.beat_track(onset_envelope=envelope, sr=sampling_rate, units="time", trim=False)[1]


def numba_cache_dir() -> Path:
    """Where librosa's compiled functions are kept: a folder of ai-beats' own per library version, not the
    venv's __pycache__, so that a cache a crash left half written can be told apart and made again."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "ai-beats"
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    return base / f"numba-{version('numba')}-librosa-{version('librosa')}-{python}"


def _librosa_with_a_ready_cache():
    """librosa, imported once its numba cache is complete.

    librosa compiles its numba functions on first use (some as it is imported) and writes them to a cache; two
    clip jobs compiling at once on a fresh install corrupt it, and a corrupt cache crashes (SIGSEGV) every later
    run. So the first job compiles alone, under a lock, into a folder it empties first, and marks it ready; the
    others wait for the mark and then only read the cache.
    """
    cache = numba_cache_dir()
    # numba reads it when it is first imported, which librosa does
    os.environ["NUMBA_CACHE_DIR"] = str(cache)
    ready = cache / ".ready"
    if not ready.exists():
        with _exclusive(cache.with_name(f".{cache.name}.lock")):
            if not ready.exists():
                shutil.rmtree(cache, ignore_errors=True)
                cache.mkdir(parents=True)
                import librosa

                probe = np.zeros(_WARM_UP_SECONDS * 22050, dtype=np.float32)
                probe[::11025] = 1
                _track_beats(librosa, probe, 22050)
                ready.touch()
    import librosa

    return librosa


@contextmanager
def _exclusive(lock_path: Path):
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
