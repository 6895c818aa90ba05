import numpy as np
import pytest

from aibeats.continuation import ContinuationWindow, join_continuation, plan_continuation_windows

# The default config: 1050 tokens are 1047 frames at 50 frames/s, extended to 60 s in windows of 20 s with 10 s
# of prompt.
INITIAL_SECONDS = 1047 / 50


def test_default_windows_cover_exactly_the_target_and_respect_the_window_limit():
    windows = plan_continuation_windows(INITIAL_SECONDS, 60, 20, 10)

    assert [w.prompt_seconds for w in windows] == [10, 10, 10, 10]
    assert [w.new_seconds for w in windows[:-1]] == [10, 10, 10]
    assert windows[-1].new_seconds == pytest.approx(60 - INITIAL_SECONDS - 30)
    assert INITIAL_SECONDS + sum(w.new_seconds for w in windows) == pytest.approx(60, abs=1e-9)
    assert all(w.prompt_seconds + w.new_seconds <= 20 for w in windows)


def test_a_track_already_long_enough_needs_no_window():
    assert plan_continuation_windows(60, 60, 20, 10) == []
    assert plan_continuation_windows(61.5, 60, 20, 10) == []


def test_a_track_shorter_than_the_prompt_is_the_whole_prompt():
    windows = plan_continuation_windows(4, 30, 20, 10)

    # 4 s of prompt leaves room for 16 new seconds; from then on the track is long enough for a 10 s prompt.
    assert windows == [ContinuationWindow(4, 16), ContinuationWindow(10, 10)]


def test_a_short_gap_takes_one_small_window():
    assert plan_continuation_windows(20, 21.5, 20, 10) == [ContinuationWindow(10, 1.5)]


def test_window_lengths_that_do_not_add_up_exactly_in_floating_point_leave_no_sliver_window():
    windows = plan_continuation_windows(0.1, 1.0, 0.4, 0.1)

    assert len(windows) == 3
    assert all(w.new_seconds > 0.29 for w in windows)


@pytest.mark.parametrize("prompt_seconds", [20, 25, 0, -1])
def test_a_prompt_that_leaves_no_room_for_new_music_is_rejected(prompt_seconds):
    with pytest.raises(ValueError, match="prompt_seconds"):
        plan_continuation_windows(5, 60, 20, prompt_seconds)


def test_an_empty_track_cannot_be_continued():
    with pytest.raises(ValueError, match="empty track"):
        plan_continuation_windows(0, 60, 20, 10)


SAMPLING_RATE = 32000
FREQUENCY = 440
AMPLITUDE = 0.5
# The largest step between neighbouring samples of the sine itself.
SINE_MAX_STEP = AMPLITUDE * 2 * np.pi * FREQUENCY / SAMPLING_RATE


def _sine(start: int, n: int, phase: float = 0.0, amplitude: float = AMPLITUDE) -> np.ndarray:
    t = np.arange(start, start + n) / SAMPLING_RATE
    return (amplitude * np.sin(2 * np.pi * FREQUENCY * t + phase)).astype(np.float32)


def _largest_step(signal: np.ndarray, around: int, radius: int) -> float:
    return float(np.abs(np.diff(signal[around - radius:around + radius])).max())


def test_join_fades_into_the_reencoded_prompt_without_a_click():
    existing_samples, prompt_samples, new_samples, crossfade_samples = 32000, 16000, 16000, 1600
    existing = _sine(0, existing_samples)
    # The window re-encodes the last prompt_samples of existing, shifted in phase and quieter, as EnCodec might,
    # and the new music carries on from that version.
    reencoded = _sine(existing_samples - prompt_samples, prompt_samples + new_samples, phase=0.4, amplitude=0.45)

    joined = join_continuation(existing, reencoded, prompt_samples, crossfade_samples)
    naive = np.concatenate([existing, reencoded[prompt_samples:]])

    assert joined.dtype == np.float32
    assert len(joined) == existing_samples + new_samples
    untouched = existing_samples - crossfade_samples
    assert np.array_equal(joined[:untouched], existing[:untouched])
    assert np.array_equal(joined[existing_samples:], reencoded[prompt_samples:])
    around, radius = untouched + crossfade_samples // 2, crossfade_samples
    assert _largest_step(joined, around, radius) <= 1.05 * SINE_MAX_STEP
    assert _largest_step(naive, existing_samples, radius) > 2 * SINE_MAX_STEP


def test_join_without_crossfade_is_a_plain_cut_after_the_prompt():
    existing = np.arange(10, dtype=np.float32)
    window = np.arange(100, 115, dtype=np.float32)

    joined = join_continuation(existing, window, prompt_samples=4, crossfade_samples=0)

    assert np.array_equal(joined, np.concatenate([existing, window[4:]]))


def test_join_limits_the_crossfade_to_the_prompt():
    existing = np.zeros(10, dtype=np.float32)
    window = np.ones(6, dtype=np.float32)

    joined = join_continuation(existing, window, prompt_samples=2, crossfade_samples=50)

    assert len(joined) == 14
    assert np.array_equal(joined[:8], np.zeros(8))
    assert np.allclose(joined[8:10], [1 / 3, 2 / 3])
    assert np.array_equal(joined[10:], np.ones(4))


def test_join_rejects_a_prompt_longer_than_the_audio():
    with pytest.raises(ValueError, match="prompt_samples"):
        join_continuation(np.zeros(5), np.zeros(20), prompt_samples=8, crossfade_samples=2)
