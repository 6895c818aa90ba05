import struct
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from scipy.io import wavfile

from aibeats.audio import fade_out, loop_audio, read_wav, read_wav_recipe, write_wav
from aibeats.errors import MediaError

RECIPE = {"tool": "ai-beats", "stage": "music", "prompt": "lo-fi, with ünïcode & \"quotes\"\nand a newline", "seed": 7}


def sine(n: int, sampling_rate: int = 32000) -> np.ndarray:
    return (0.8 * np.sin(2 * np.pi * 440 * np.arange(n) / sampling_rate)).astype(np.float32)


def test_round_trip_keeps_samples_rate_and_recipe(tmp_path: Path):
    path = tmp_path / "track_0.wav"
    samples = sine(32000)
    write_wav(path, samples, 32000, RECIPE)
    read, sampling_rate = read_wav(path)
    assert sampling_rate == 32000
    assert read.dtype == np.float32 and read.shape == (32000,)
    assert np.max(np.abs(read - samples)) <= 0.5 / 32768 + 1e-7  # 16-bit rounding, nothing more
    assert read_wav_recipe(path) == RECIPE


def test_stereo_keeps_its_channels(tmp_path: Path):
    path = tmp_path / "stereo.wav"
    samples = np.stack([sine(1000), -sine(1000)], axis=1)
    write_wav(path, samples, 44100)
    read, sampling_rate = read_wav(path)
    assert sampling_rate == 44100 and read.shape == (1000, 2)
    np.testing.assert_allclose(read, samples, atol=0.5 / 32768 + 1e-7)
    assert read_wav_recipe(path) is None


def test_out_of_range_samples_are_clipped(tmp_path: Path):
    path = tmp_path / "loud.wav"
    write_wav(path, np.array([2.0, 1.0, -1.0, -3.0, 0.0], dtype=np.float32), 8000)
    read, _ = read_wav(path)
    np.testing.assert_allclose(read, [32767 / 32768, 32767 / 32768, -1.0, -1.0, 0.0])


@pytest.mark.parametrize("prompt", ["even", "odd!"])  # the recipe's JSON length decides whether a pad byte is needed
def test_file_with_recipe_is_valid_riff_for_scipy_and_ffmpeg(tmp_path: Path, prompt: str):
    path = tmp_path / "track.wav"
    write_wav(path, sine(1001), 32000, {"prompt": prompt})
    data = path.read_bytes()
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    assert len(data) % 2 == 0
    sampling_rate, pcm = wavfile.read(path)
    assert (sampling_rate, pcm.shape, pcm.dtype) == (32000, (1001,), np.int16)
    decoded = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "s16le", "-"],
                             capture_output=True, check=True)
    assert decoded.stderr == b""
    assert np.array_equal(np.frombuffer(decoded.stdout, "<i2"), pcm)
    assert read_wav_recipe(path) == {"prompt": prompt}


def test_missing_file_is_named(tmp_path: Path):
    path = tmp_path / "track_9.wav"
    with pytest.raises(MediaError, match="track_9.wav.*no such file"):
        read_wav(path)
    with pytest.raises(MediaError, match="track_9.wav"):
        read_wav_recipe(path)


def test_foreign_file_is_named(tmp_path: Path):
    path = tmp_path / "track_0.wav"
    path.write_text("this is a text file, not audio\n" * 10)
    with pytest.raises(MediaError, match=r"track_0\.wav: not a readable WAV file"):
        read_wav(path)
    with pytest.raises(MediaError, match=r"track_0\.wav: not a WAV file"):
        read_wav_recipe(path)


def test_truncated_file_is_named(tmp_path: Path):
    path = tmp_path / "track_0.wav"
    write_wav(path, sine(32000), 32000, RECIPE)
    path.write_bytes(path.read_bytes()[:30000])  # cut in the middle of the samples, as by a killed writer
    with pytest.raises(MediaError, match=r"track_0\.wav: not a readable WAV file"):
        read_wav(path)
    with pytest.raises(MediaError, match=r"track_0\.wav: corrupt WAV file"):
        read_wav_recipe(path)


def test_write_is_atomic_and_deterministic(tmp_path: Path):
    first, second = tmp_path / "a.wav", tmp_path / "b.wav"
    write_wav(first, sine(500), 32000, RECIPE)
    write_wav(second, sine(500), 32000, RECIPE)
    assert first.read_bytes() == second.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "b.wav"]


def test_loop_audio_repeats_exactly():
    samples = np.arange(5, dtype=np.float32)
    assert np.array_equal(loop_audio(samples, 3), np.tile(samples, 3))
    assert np.array_equal(loop_audio(samples, 1), samples)
    stereo = np.stack([samples, -samples], axis=1)
    looped = loop_audio(stereo, 2)
    assert looped.shape == (10, 2) and np.array_equal(looped[5:], stereo)


def test_fade_out_is_linear_to_exactly_zero():
    samples = np.ones(1000, dtype=np.float32)
    faded = fade_out(samples, 100, seconds=0.5)  # 50 samples of fade
    assert faded.shape == samples.shape and faded.dtype == np.float32
    assert np.all(faded[:950] == 1.0)
    np.testing.assert_allclose(faded[950:], np.linspace(1, 0, 50), atol=1e-7)
    assert faded[-1] == 0.0
    assert np.all(samples == 1.0)  # the input is left alone


def test_fade_out_longer_than_the_audio_fades_all_of_it():
    stereo = np.ones((20, 2), dtype=np.float32)
    faded = fade_out(stereo, 10, seconds=5)
    assert faded.shape == (20, 2)
    assert np.all(faded[0] == 1.0) and np.all(faded[-1] == 0.0)
    assert np.all(np.diff(faded[:, 0]) < 0)
