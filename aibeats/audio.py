"""WAV files with their recipe inside, and the pure sample arithmetic of a clip's soundtrack."""

import io
import json
import struct
import warnings
from pathlib import Path

import numpy as np
from scipy.io import wavfile

from aibeats.atomic import atomic_path
from aibeats.errors import MediaError

# 16-bit PCM maps [-1, 1) onto [-32768, 32767]; reading divides by the same scale, so a round trip is exact to
# half a step.
_PCM16_SCALE = 32768
# "RIFF", the file size, "WAVE"
_RIFF_HEADER_BYTES = 12


def _info_chunk(recipe: dict) -> bytes:
    """A RIFF `LIST`/`INFO` chunk holding the recipe as JSON in its comment (`ICMT`) field."""
    comment = json.dumps(recipe).encode("ascii") + b"\0"  # INFO strings are NUL-terminated
    padding = b"\0" * (len(comment) % 2)  # RIFF chunks start on even offsets; the size excludes the pad byte
    subchunk = b"ICMT" + struct.pack("<I", len(comment)) + comment + padding
    return b"LIST" + struct.pack("<I", 4 + len(subchunk)) + b"INFO" + subchunk


def write_wav(path: Path, samples: np.ndarray, sampling_rate: int, recipe: dict | None = None) -> None:
    """Write 16-bit PCM (mono 1-D or (n, channels)), clipped to [-1, 1], with the recipe embedded if given."""
    pcm = np.clip(np.round(np.asarray(samples, dtype=np.float64) * _PCM16_SCALE), -_PCM16_SCALE, _PCM16_SCALE - 1)
    buffer = io.BytesIO()
    wavfile.write(buffer, sampling_rate, pcm.astype("<i2"))
    data = buffer.getvalue()
    if recipe is not None:
        data += _info_chunk(recipe)
        data = data[:4] + struct.pack("<I", len(data) - 8) + data[8:]  # the RIFF size covers the new chunk
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Samples as float32 in [-1, 1] (1-D when mono, else (n, channels)) and the sampling rate."""
    try:
        with warnings.catch_warnings():
            # scipy only warns when the data stops before the header says it should; that is a truncated file.
            warnings.filterwarnings("error", message="Reached EOF prematurely", category=wavfile.WavFileWarning)
            sampling_rate, data = wavfile.read(path)
    except FileNotFoundError as error:
        raise MediaError(f"{path}: no such file; expected a WAV file") from error
    except (ValueError, struct.error, EOFError, wavfile.WavFileWarning) as error:
        raise MediaError(f"{path}: not a readable WAV file ({error}); delete it to regenerate it") from error
    if data.dtype == np.uint8:
        samples = (data.astype(np.float32) - 128) / 128
    elif np.issubdtype(data.dtype, np.integer):
        samples = data.astype(np.float32) / np.float32(2 ** (8 * data.dtype.itemsize - 1))
    else:
        samples = data.astype(np.float32)
    return samples, int(sampling_rate)


def _riff_chunks(data: bytes, start: int, end: int):
    """(id, body) of each chunk in data[start:end]; a chunk running past the end means the file is cut short."""
    offset = start
    while offset + 8 <= end:
        chunk_id, size = struct.unpack_from("<4sI", data, offset)
        if offset + 8 + size > end:
            raise ValueError(f"the {chunk_id!r} chunk runs past the end of the file")
        yield chunk_id, data[offset + 8:offset + 8 + size]
        offset += 8 + size + size % 2


def _info_comment(data: bytes) -> bytes | None:
    """The `ICMT` field of a WAV file's `LIST`/`INFO` chunk, if it has one."""
    for chunk_id, body in _riff_chunks(data, 12, len(data)):
        if chunk_id == b"LIST" and body[:4] == b"INFO":
            for field, text in _riff_chunks(body, 4, len(body)):
                if field == b"ICMT":
                    return text.rstrip(b"\0")
    return None


def read_wav_recipe(path: Path) -> dict | None:
    """The recipe embedded by write_wav, or None if the WAV file has none."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as error:
        raise MediaError(f"{path}: no such file; expected a WAV file") from error
    if len(data) < _RIFF_HEADER_BYTES or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise MediaError(f"{path}: not a WAV file (no RIFF/WAVE header)")
    try:
        comment = _info_comment(data)
    except ValueError as error:
        raise MediaError(f"{path}: corrupt WAV file ({error}); delete it to regenerate it") from error
    if comment is None:
        return None
    try:
        recipe = json.loads(comment)
    except ValueError:  # a comment written by another tool, not a recipe
        return None
    return recipe if isinstance(recipe, dict) else None


def loop_audio(samples: np.ndarray, n_loops: int) -> np.ndarray:
    """The samples played n_loops times back to back."""
    return np.concatenate([samples] * n_loops, axis=0)


def fade_out(samples: np.ndarray, sampling_rate: int, seconds: float = 0.5) -> np.ndarray:
    """A copy whose last `seconds` ramp down linearly to exactly 0 at the last sample."""
    n_fade = min(len(samples), round(seconds * sampling_rate))
    faded = np.array(samples, copy=True)
    if n_fade > 0:
        ramp = np.linspace(1, 0, n_fade, dtype=np.float64)
        faded[-n_fade:] = faded[-n_fade:] * ramp.reshape(-1, *[1] * (faded.ndim - 1))
    return faded
