"""The beats of a track, for clips that cut from one animation to the next on the beat."""

import numpy as np


def detect_beats(samples: np.ndarray, sampling_rate: int) -> list[float]:
    """The times of the beats in a mono track, in seconds, by librosa's dynamic-programming beat tracker.

    The onset envelope averages the spectral flux over all frequencies instead of taking beat_track's median:
    the median of a narrow-band sound (a click, a kick drum alone) is zero, which leaves the tracker with no
    onsets at all. Beats are not trimmed at the ends, so a track that starts on the beat keeps its first one.
    An empty list: no beat found (silence).
    """
    import librosa

    samples = np.asarray(samples, dtype=np.float32)
    envelope = librosa.onset.onset_strength(y=samples, sr=sampling_rate)
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=sampling_rate, units="time", trim=False)
    # Milliseconds are finer than any frame and keep the recipe readable.
    return [round(float(beat), 3) for beat in beats]

