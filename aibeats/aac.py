"""AAC audio as the mix makes it: encoded piece by piece into ADTS frames that join into one stream, audio decoded
to raw samples on disk, and a fingerprint of a file's audio.

An ADTS stream is AAC frames one after another, each with a small header holding its length, so frames from
several encodes can be cut apart and joined byte for byte. ffmpeg's encoder starts every stream with a priming
frame (its first 1024 samples are not heard) and, given the audio from `start` on, writes frame n for the
samples from start - 1024 + 1024 n; an MP4 made from the joined frames gets the same edit list and duration as
one encoded whole when its frames are timed from that rule (`adts_timing`).
"""

import hashlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import imageio_ffmpeg
import numpy as np

from aibeats.errors import MediaError

FRAME = 1024
# What YouTube asks for: stereo AAC-LC at 384 kb/s.
MIX_BITRATE = "384k"
# ADTS header: a 12-bit sync word, and a 13-bit frame length from bit 30 on.
_SYNC = 0xFFF0
_HEADER_BYTES = 7


def _ffmpeg() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


class AdtsEncoder:
    """An ffmpeg process encoding float samples written to it, (n, channels) block by block, into an ADTS file."""

    def __init__(self, path: Path, sampling_rate: int, channels: int, bitrate: str = MIX_BITRATE):
        self.path, self.log = Path(path), tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-f", "f32le", "-ar",
             str(sampling_rate), "-ac", str(channels), "-i", "pipe:0", "-c:a", "aac", "-b:a", bitrate, "-f", "adts",
             str(self.path)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.log)

    def write(self, samples: np.ndarray) -> None:
        self.process.stdin.write(np.ascontiguousarray(samples, dtype="<f4").tobytes())

    def __enter__(self) -> "AdtsEncoder":
        return self

    def __exit__(self, kind, error, trace) -> None:
        try:
            if kind is not None:
                self.process.kill()
            self.process.stdin.close()
            code = self.process.wait()
        finally:
            self.log.seek(0)
            message = self.log.read().decode(errors="replace").strip()
            self.log.close()
        if kind is None and code != 0:
            raise RuntimeError(f"ffmpeg failed to encode {self.path} (exit status {code}): {message}")


def adts_frames(data: bytes, what: Path | str) -> list[bytes]:
    """The frames of an ADTS stream, each with its header."""
    frames, position = [], 0
    while position < len(data):
        header = data[position:position + _HEADER_BYTES]
        if len(header) < _HEADER_BYTES or (header[0] << 8 | header[1]) & _SYNC != _SYNC:
            raise MediaError(f"{what}: not an ADTS stream at byte {position}")
        length = (header[3] & 0x03) << 11 | header[4] << 3 | header[5] >> 5
        if length < _HEADER_BYTES or position + length > len(data):
            raise MediaError(f"{what}: an ADTS frame at byte {position} runs past the end")
        frames.append(data[position:position + length])
        position += length
    return frames


def adts_timing(total_samples: int, sampling_rate: int) -> str:
    """A bitstream filter that times joined ADTS frames as the encoder timed them in one stream (frame n from
    sample 1024 (n - 1), the last ones only as long as the audio lasts), so the MP4's edit list hides the priming
    frame and its duration is exactly total_samples."""
    # commas inside a filter's expression are escaped: unescaped, they would separate filters
    return (f"setts=time_base=1/{sampling_rate}:prescale=1:ts=N*{FRAME}-{FRAME}"
            f":duration=max(0\\,min({FRAME}\\,{total_samples}-(N*{FRAME}-{FRAME})))")


def decode_to_file(path: Path, raw: Path, sampling_rate: int, channels: int) -> int:
    """Decode a media file's first audio stream to raw float32 samples in `raw`, resampled with SoX's resampler
    (band-limited, the one built into ffmpeg) to sampling_rate and mixed to `channels`; returns the samples."""
    if not Path(path).is_file():
        raise MediaError(f"{path}: no such file; expected a file with audio")
    result = subprocess.run(
        [_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", str(path), "-map", "0:a:0",
         "-af", f"aresample={sampling_rate}:resampler=soxr:precision=28", "-ac", str(channels), "-f", "f32le",
         str(raw)], capture_output=True)
    if result.returncode != 0:
        raise MediaError(f"{path}: its audio cannot be decoded ({result.stderr.decode(errors='replace').strip()})")
    return Path(raw).stat().st_size // (4 * channels)


def read_samples(raw: Path, channels: int, start: int, stop: int) -> np.ndarray:
    """Samples [start, stop) of a raw float32 file, (n, channels); what lies outside the file is silence."""
    total = Path(raw).stat().st_size // (4 * channels)
    out = np.zeros((stop - start, channels), dtype=np.float32)
    first, last = max(start, 0), min(stop, total)
    if last > first:
        with open(raw, "rb") as file:
            file.seek(first * 4 * channels)
            out[first - start:last - start] = np.fromfile(file, dtype="<f4", count=(last - first) * channels
                                                          ).reshape(-1, channels)
    return out


def audio_fingerprint(path: Path) -> str:
    """A digest of a file's first audio stream as it is coded (each frame's bytes, timing and side data), without
    decoding it: the same audio gives the same digest whatever the file's video is."""
    result = subprocess.run([_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), "-map",
                             "0:a:0", "-c", "copy", "-f", "framehash", "-hash", "sha256", "pipe:1"],
                            capture_output=True)
    if result.returncode != 0 or not result.stdout:
        raise MediaError(f"{path}: has no readable audio ({result.stderr.decode(errors='replace').strip()}); "
                         "delete it to regenerate it")
    # The listing's comment lines name the ffmpeg that wrote it; the rest is the stream itself.
    listing = b"\n".join(line for line in result.stdout.splitlines() if not line.startswith(b"#software"))
    return hashlib.sha256(listing).hexdigest()


def raw_blocks(raw: Path, channels: int, start: int, stop: int, block: int) -> Iterator[tuple[int, np.ndarray]]:
    """(position, samples) of [start, stop) of a raw file, block by block."""
    for position in range(start, stop, block):
        yield position, read_samples(raw, channels, position, min(position + block, stop))
