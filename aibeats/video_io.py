"""MP4 files: encode an animation once, then build clips from animations by stream copy.

An animation is encoded with H.264 without B-frames, so every frame depends only on earlier ones: a clip
takes whole animations and the start of the last one by copying their packets, with no video re-encode.
All animations share the encoder settings and the track time base, so their packets concatenate cleanly.
"""

import contextlib
import json
import re
import struct
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

from aibeats.atomic import atomic_path
from aibeats.errors import MediaError
from aibeats.items import KEYFRAME_SECONDS

# Same flags for every animation, so that their codec setup (SPS/PPS) is identical and they can be
# concatenated by stream copy. A fixed thread count keeps x264's output the same on machines with different
# core counts (its frame threading shapes the bitstream); 4 threads is plenty for a few dozen frames.
_X264_THREADS = 4
_X264_CRF = 18
# A clip's AAC rate per channel: a stereo clip gets twice a mono one's, so that each channel keeps its detail.
_AAC_KBPS_PER_CHANNEL = 160
# Encodes of the audio before it is under its true-peak ceiling, and how far under it a retry aims.
_PEAK_ROUNDS = 3
_PEAK_STEP_DB = 0.1
# ffprobe gives the frame rate as a float of a fraction: 6 fps may read 5.9999999.
_FPS_TOLERANCE = 1e-6
# Bit-exact muxing leaves out the version-stamped encoder tags; bit-exact swscale gives the same YUV on any CPU.
_BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
             "-sws_flags", "bicubic+accurate_rnd+bitexact"]


def _ffmpeg() -> str:
    return imageio_ffmpeg.get_ffmpeg_exe()


def _video_timescale(fps: int) -> int:
    """The MP4 track time base: a whole number of ticks per frame, the same for every file at this fps."""
    return fps * 1000


@dataclass(frozen=True)
class MediaInfo:
    """What probe() found in an MP4 file; the audio fields are None when it has no audio."""

    width: int
    height: int
    fps: float
    n_frames: int
    video_seconds: float
    audio_seconds: float | None
    sampling_rate: int | None
    video_codec: str
    audio_codec: str | None
    pix_fmt: str


def _run_with_input(args: list[str], chunks: Iterable[bytes], output: Path) -> None:
    """Run ffmpeg, streaming chunks to its stdin; its log goes to a file so a full pipe never blocks it."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen([_ffmpeg(), "-hide_banner", "-loglevel", "error", "-y", *args],
                                   stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=log)
        try:
            try:
                for chunk in chunks:
                    process.stdin.write(chunk)
            except BrokenPipeError:
                pass  # ffmpeg stopped reading: it has failed, and its log says why
            with contextlib.suppress(BrokenPipeError):
                process.stdin.close()
            returncode = process.wait()
        except BaseException:
            # Stop ffmpeg before the caller deletes the temporary output it may still be writing.
            process.kill()
            process.wait()
            raise
        if returncode != 0:
            log.seek(0)
            message = log.read().decode(errors="replace").strip()
            raise RuntimeError(f"ffmpeg failed to write {output} (exit status {returncode}): {message}")


def write_animation(frames: list[Image.Image], path: Path, fps: int, recipe: dict) -> None:
    """Encode frames (all the same even size) as an H.264 MP4 that clips can stream-copy; same frames, same bytes."""
    if not frames:
        raise ValueError(f"{path}: an animation needs at least one frame")
    width, height = frames[0].size
    if width % 2 or height % 2:
        raise ValueError(f"{path}: frames are {width}x{height}; yuv420p needs an even width and height")
    for number, frame in enumerate(frames):
        if frame.size != (width, height):
            raise ValueError(f"{path}: frame {number} is {frame.size[0]}x{frame.size[1]}, frame 0 is {width}x{height}")
    gop = KEYFRAME_SECONDS * fps
    args = ["-f", "rawvideo", "-pix_fmt", "rgb24", "-video_size", f"{width}x{height}", "-framerate", str(fps),
            "-i", "pipe:0",
            "-c:v", "libx264", "-preset", "medium", "-crf", str(_X264_CRF), "-pix_fmt", "yuv420p", "-bf", "0",
            "-g", str(gop), "-keyint_min", str(gop), "-sc_threshold", "0", "-threads", str(_X264_THREADS),
            "-video_track_timescale", str(_video_timescale(fps)), "-movflags", "+faststart", *_BITEXACT,
            "-metadata", f"comment={json.dumps(recipe)}", "-f", "mp4"]
    with atomic_path(path) as temporary:
        _run_with_input([*args, str(temporary)], (frame.convert("RGB").tobytes() for frame in frames), path)


_INPUT_FORMAT = re.compile(r"Input #0, ([\w,]+), from")
_VIDEO_STREAM = re.compile(r"Stream #0:\d+\S*: Video: (?P<codec>\w+)[^,\n]*, (?P<pix_fmt>\w+)(?:\([^)]*\))?, "
                           r"(?P<width>\d+)x(?P<height>\d+)")
_AUDIO_STREAM = re.compile(r"Stream #0:\d+\S*: Audio: (?P<codec>\w+)[^,\n]*, (?P<rate>\d+) Hz")


@dataclass
class _StreamPackets:
    media_type: str = ""
    time_base: Fraction = Fraction(0)
    setup: str = ""  # the codec setup (extradata) size and checksum, e.g. H.264's SPS/PPS
    count: int = 0
    start: int | None = None
    end: int | None = None

    @property
    def duration(self) -> Fraction:
        return (self.end - max(self.start, 0)) * self.time_base if self.count else Fraction(0)


def _packets_by_stream(framecrc: str) -> dict[int, _StreamPackets]:
    """Per stream: its packet count and time span, from ffmpeg's framecrc listing of the packets."""
    streams: dict[int, _StreamPackets] = {}
    for line in framecrc.splitlines():
        if header := re.match(r"#(tb|media_type|extradata) (\d+): (.*)", line):
            stream = streams.setdefault(int(header[2]), _StreamPackets())
            if header[1] == "tb":
                stream.time_base = Fraction(header[3].strip())
            elif header[1] == "media_type":
                stream.media_type = header[3].strip()
            else:
                stream.setup = header[3].strip()
        elif line and line[0].isdigit():
            index, _dts, pts, duration = (int(field) for field in line.split(",")[:4])
            stream = streams.setdefault(index, _StreamPackets())
            stream.count += 1
            # AAC priming packets come first with negative timestamps; they are not heard, so the stream's
            # duration counts from 0 (the edit list ffmpeg writes also trims the padding of the last packet).
            stream.start = pts if stream.start is None else min(stream.start, pts)
            stream.end = pts + duration if stream.end is None else max(stream.end, pts + duration)
    return streams


def _failure(result: subprocess.CompletedProcess) -> str:
    """Why an ffmpeg run failed: its first fatal message (logged with `-loglevel level+...`), else its last line."""
    lines = result.stderr.strip().splitlines()
    for line in lines:
        if "[fatal] " in line:
            return line.split("[fatal] ", 1)[1]
    return lines[-1] if lines else f"exit status {result.returncode}"


def _inspect(path: Path) -> tuple[MediaInfo, str]:
    """Probe an MP4 file; also return its video codec setup, which must match for clean stream copy."""
    if not Path(path).is_file():
        raise MediaError(f"{path}: no such file; expected an MP4 video")
    # Listing every packet (stream copy, no decoding) counts the frames that are really there; -xerror turns a
    # cut-off or damaged file into a failure instead of a short count.
    result = subprocess.run([_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "level+info", "-xerror",
                             "-i", str(path), "-map", "0", "-c", "copy", "-f", "framecrc", "pipe:1"],
                            capture_output=True, text=True)
    log = result.stderr
    input_format, video_match = _INPUT_FORMAT.search(log), _VIDEO_STREAM.search(log)
    if input_format and "mp4" not in input_format[1].split(","):
        raise MediaError(f"{path}: not an MP4 video (ffmpeg reads it as {input_format[1]})")
    if input_format and video_match is None:
        raise MediaError(f"{path}: has no video stream; delete it to regenerate it")
    if result.returncode != 0:
        raise MediaError(f"{path}: not a readable MP4 video ({_failure(result)}); delete it to regenerate it")
    streams = _packets_by_stream(result.stdout)
    video = next((s for s in streams.values() if s.media_type == "video"), None)
    if video is None or video.count == 0:
        raise MediaError(f"{path}: has no video frames; delete it to regenerate it")
    audio = next((s for s in streams.values() if s.media_type == "audio"), None)
    audio_match = _AUDIO_STREAM.search(log) if audio else None
    info = MediaInfo(
        width=int(video_match["width"]), height=int(video_match["height"]),
        fps=float(video.count / video.duration), n_frames=video.count, video_seconds=float(video.duration),
        audio_seconds=float(audio.duration) if audio else None,
        sampling_rate=int(audio_match["rate"]) if audio_match else None,
        video_codec=video_match["codec"], audio_codec=audio_match["codec"] if audio_match else None,
        pix_fmt=video_match["pix_fmt"])
    return info, video.setup


def probe(path: Path) -> MediaInfo:
    """Size, frame rate, frame count, durations and codecs of an MP4 file."""
    return _inspect(path)[0]


def read_mp4_recipe(path: Path) -> dict | None:
    """The recipe stored in an MP4's `comment` tag, or None if it has none."""
    probe(path)  # a damaged file can still have intact metadata; say it is damaged rather than trust it
    result = subprocess.run([_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path),
                             "-f", "ffmetadata", "pipe:1"], capture_output=True, text=True)
    if result.returncode != 0:
        raise MediaError(f"{path}: not a readable MP4 file ({_failure(result)})")
    # ffmetadata escapes '=', ';', '#', '\' and newlines with a backslash.
    comment = re.search(r"^comment=((?:\\.|[^\\\n])*)$", result.stdout, re.MULTILINE | re.DOTALL)
    if comment is None:
        return None
    try:
        recipe = json.loads(re.sub(r"\\(.)", r"\1", comment[1], flags=re.DOTALL))
    except ValueError:  # a comment written by another tool, not a recipe
        return None
    return recipe if isinstance(recipe, dict) else None


# An ISO-BMFF box starts with its size and type, 4 bytes each (then, for size 1, an 8-byte size).
_BOX_HEADER = 8


def _mp4_boxes(data: bytes, start: int, end: int):
    """(type, content start, end) of each ISO-BMFF box in data[start:end]."""
    position = start
    while position + _BOX_HEADER <= end:
        size, kind = struct.unpack(">I4s", data[position:position + _BOX_HEADER])
        header = _BOX_HEADER
        if size == 1:
            size, header = struct.unpack(">Q", data[position + 8:position + 16])[0], 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            return
        yield kind, position + header, position + size
        position += size


def _read_moov(path: Path) -> bytes:
    """The content of an MP4's top-level `moov` box, skipping past the others (the media data) unread."""
    with open(path, "rb") as file:
        while len(header := file.read(_BOX_HEADER)) == _BOX_HEADER:
            size, kind = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", file.read(8))[0] - 8
            if size < _BOX_HEADER:
                break
            if kind == b"moov":
                return file.read(size - _BOX_HEADER)
            file.seek(size - _BOX_HEADER, 1)
    return b""


def peek_mp4_recipe(path: Path) -> dict | None:
    """The recipe in an MP4's `comment` tag, read straight from its `moov` box, for display: unlike
    read_mp4_recipe it starts no ffmpeg and checks none of the streams. None if it holds none or is unreadable."""
    try:
        moov = _read_moov(path)
    except OSError:
        return None
    # udta / meta (4 bytes of version and flags first) / ilst / \xa9cmt / data (8 bytes of type and locale first)
    start, end = 0, len(moov)
    for kind, skip in [(b"udta", 0), (b"meta", 4), (b"ilst", 0), (b"\xa9cmt", 0), (b"data", 8)]:
        found = next(((s, e) for k, s, e in _mp4_boxes(moov, start, end) if k == kind), None)
        if found is None:
            return None
        start, end = found[0] + skip, found[1]
    try:
        recipe = json.loads(moov[start:end].decode())
    except ValueError:
        return None
    return recipe if isinstance(recipe, dict) else None


def _concat_list(paths: list[Path]) -> str:
    """An ffmpeg concat demuxer script; quotes in a path are closed, escaped and reopened."""
    return "".join("file '{}'\n".format(str(Path(p).resolve()).replace("'", "'\\''")) for p in paths)


# The clip's parts, its format, and where it goes: grouping them would only name the same things twice.
def assemble_clip(animations: list[tuple[Path, int]], audio: np.ndarray, sampling_rate: int,  # noqa: PLR0913
                  fps: int, path: Path, recipe: dict, *, true_peak_db: float | None = None) -> None:
    """A clip: the first `frames` of each animation in order, stream-copied, with the audio encoded as AAC.

    Each animation starts on its keyframe, so taking its first frames is a stream copy: the concat script ends
    a shortened one with an outpoint, and -frames:v ends the last. The audio must last as long as the frames
    (within one): it is neither cut nor padded, so a fade-out at its end stays whole. ffmpeg's AAC encoder adds
    1024 priming samples and pads the last packet, but it writes an edit list that hides both, so players and
    probe() see the audio's exact duration.
    """
    n_frames = sum(frames for _, frames in animations)
    if n_frames <= 0 or any(frames <= 0 for _, frames in animations):
        raise ValueError(f"{path}: every animation of a clip needs at least one frame, not {animations}")
    audio = np.asarray(audio, dtype="<f4")
    audio_seconds, video_seconds = len(audio) / sampling_rate, n_frames / fps
    if abs(audio_seconds - video_seconds) > 1 / fps:
        raise ValueError(f"{path}: the audio lasts {audio_seconds:.3f} s but {n_frames} frames at {fps} fps last "
                         f"{video_seconds:.3f} s; they must match within one frame")
    animations = [(Path(animation), frames) for animation, frames in animations]
    inspected = {animation: _inspect(animation) for animation in dict.fromkeys(a for a, _ in animations)}
    reference_path, (reference, reference_setup) = next(iter(inspected.items()))
    for animation, (info, setup) in inspected.items():
        if abs(info.fps - fps) > _FPS_TOLERANCE:
            raise MediaError(f"{animation}: {info.fps:g} fps, but the clip is {fps} fps; delete it to regenerate it")
        if (info.width, info.height, info.video_codec, info.pix_fmt, setup) != (
                reference.width, reference.height, reference.video_codec, reference.pix_fmt, reference_setup):
            raise MediaError(
                f"{animation}: encoded differently from {reference_path} ({info.width}x{info.height} "
                f"{info.video_codec} {info.pix_fmt} vs {reference.width}x{reference.height} {reference.video_codec} "
                f"{reference.pix_fmt}), so the two cannot be joined by stream copy; delete it to regenerate it")
    for animation, frames in animations:
        if frames > inspected[animation][0].n_frames:
            raise MediaError(f"{animation}: holds {inspected[animation][0].n_frames} frames, fewer than the {frames} "
                             f"{path} takes from it; delete it to regenerate it")
    channels = 1 if audio.ndim == 1 else audio.shape[1]
    with tempfile.TemporaryDirectory() as scratch:
        concat_list = Path(scratch) / "animations.txt"
        concat_list.write_text(_clip_concat_list(animations, {a: info.n_frames for a, (info, _) in inspected.items()},
                                                 fps))
        args = ["-f", "concat", "-safe", "0", "-i", str(concat_list),
                "-f", "f32le", "-ar", str(sampling_rate), "-ac", str(channels), "-i", "pipe:0",
                "-map", "0:v:0", "-map", "1:a:0", "-map_metadata", "-1",
                "-c:v", "copy", "-frames:v", str(n_frames),
                "-c:a", "aac", "-b:a", f"{_AAC_KBPS_PER_CHANNEL * channels}k",
                "-video_track_timescale", str(_video_timescale(fps)), "-movflags", "+faststart", *_BITEXACT,
                "-metadata", f"comment={json.dumps(recipe)}", "-f", "mp4"]
        with atomic_path(path) as temporary:
            _encode_under_ceiling([*args, str(temporary)], audio, temporary, true_peak_db)


def _concat_seconds(frame: int, fps: int) -> str:
    """Where frame `frame` starts, for a concat script: in microseconds, rounded down. The demuxer compares it
    exactly with each packet's time, so an outpoint rounded up past the frame's start would keep that frame."""
    microseconds = frame * 1_000_000 // fps
    return f"{microseconds // 1_000_000}.{microseconds % 1_000_000:06d}"


def _clip_concat_list(animations: list[tuple[Path, int]], lengths: dict[Path, int], fps: int) -> str:
    """A concat script of the animations, each ending after its `frames`; one played whole gets no outpoint, so
    a clip of whole animations is written as before cuts on the beat existed."""
    lines = []
    for animation, frames in animations[:-1]:
        lines.append(_concat_list([animation]).strip())
        if frames < lengths[animation]:
            lines.append(f"outpoint {_concat_seconds(frames, fps)}")
    return "\n".join([*lines, _concat_list([animations[-1][0]]).strip()]) + "\n"


def decode_audio(path: Path, sampling_rate: int, channels: int) -> np.ndarray:
    """A media file's audio as float32 samples, (n, channels), resampled with SoX's resampler (the one built
    into ffmpeg: band-limited, not sample dropping or repeating)."""
    if not Path(path).is_file():
        raise MediaError(f"{path}: no such file; expected an MP4 video")
    command = [_ffmpeg(), "-hide_banner", "-nostdin", "-loglevel", "error", "-i", str(path), "-map", "0:a:0",
               "-af", f"aresample={sampling_rate}:resampler=soxr:precision=28", "-ac", str(channels),
               "-f", "f32le", "pipe:1"]
    result = subprocess.run(command, capture_output=True)
    if result.returncode != 0:
        raise MediaError(f"{path}: its audio cannot be decoded ({result.stderr.decode(errors='replace').strip()})")
    return np.frombuffer(result.stdout, dtype="<f4").reshape(-1, channels)


def _mix_concat_list(spans: list[tuple[Path, int, int]], fps: int) -> str:
    """A concat script taking frames [first, end) of each clip; `first` is a keyframe, so this is a stream copy."""
    lines = []
    for clip, first, end in spans:
        lines += [_concat_list([clip]).strip(), f"inpoint {_concat_seconds(first, fps)}",
                  f"outpoint {_concat_seconds(end, fps)}"]
    return "\n".join(lines) + "\n"


# The mix's parts, its format, and where it goes: grouping them would only name the same things twice.
def assemble_mix(spans: list[tuple[Path, int, int]], audio_stream: Path, samples: int,  # noqa: PLR0913
                 sampling_rate: int, fps: int, path: Path, recipe: dict, *, height: int | None) -> None:
    """The mix: frames [first, end) of each clip, with the audio: an ADTS stream of AAC frames (aibeats.mix_audio)
    `samples` long, copied as it is. The video is a stream copy too, or, with a height, upscaled with Lanczos and
    encoded once as H.264 High."""
    from aibeats.aac import adts_timing

    n_frames = sum(end - first for _, first, end in spans)
    if abs(samples / sampling_rate - n_frames / fps) > 1 / fps:
        raise ValueError(f"{path}: the audio lasts {samples / sampling_rate:.3f} s but the video "
                         f"{n_frames / fps:.3f} s; they must match within one frame")
    with tempfile.TemporaryDirectory() as scratch, atomic_path(path) as temporary:
        concat_list = Path(scratch) / "clips.txt"
        concat_list.write_text(_mix_concat_list(spans, fps))
        args = ["-f", "concat", "-safe", "0", "-i", str(concat_list), "-f", "aac", "-i", str(audio_stream),
                "-map", "0:v:0", "-map", "1:a:0", "-map_metadata", "-1", *_mix_video(height),
                "-frames:v", str(n_frames), "-c:a", "copy", "-bsf:a", adts_timing(samples, sampling_rate),
                "-video_track_timescale", str(_video_timescale(fps)), "-movflags", "+faststart", *_BITEXACT,
                "-metadata", f"comment={json.dumps(recipe)}", "-f", "mp4", str(temporary)]
        _run_with_input(args, [], path)


def _mix_video(height: int | None) -> list[str]:
    if height is None:
        return ["-c:v", "copy"]
    # -2: the width that keeps the aspect ratio, rounded to even as yuv420p needs
    return ["-vf", f"scale=-2:{height}:flags=lanczos", "-c:v", "libx264", "-profile:v", "high", "-preset", "medium",
            "-crf", str(_X264_CRF), "-pix_fmt", "yuv420p", "-threads", str(_X264_THREADS)]


def _encode_under_ceiling(args: list[str], audio: np.ndarray, output: Path, true_peak_db: float | None) -> None:
    """Run ffmpeg with the audio on its stdin; where the encoded file's true peak passes the ceiling (a lossy
    encoder adds peaks between samples), turn the audio down by the excess and encode it again."""
    from aibeats.loudness import measure_file

    for _ in range(_PEAK_ROUNDS):
        _run_with_input(args, [audio.tobytes()], output)
        if true_peak_db is None:
            return
        excess = measure_file(output).true_peak_db - true_peak_db
        if excess <= 0:
            return
        audio = (audio * 10 ** (-(excess + _PEAK_STEP_DB) / 20)).astype("<f4")
