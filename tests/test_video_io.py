import shutil
import subprocess
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from aibeats.aac import AdtsEncoder
from aibeats.errors import MediaError
from aibeats.items import fill_clip
from aibeats.video_io import assemble_clip, assemble_mix, peek_mp4_recipe, probe, read_mp4_recipe, write_animation

FPS, WIDTH, HEIGHT, FRAMES_PER_ANIMATION, SAMPLING_RATE = 6, 64, 48, 12, 32000


def frame_level(animation: int, frame: int) -> int:
    """Every source frame has its own brightness, so a decoded frame tells which one it is."""
    return 20 + 5 * (FRAMES_PER_ANIMATION * animation + frame)


def make_frames(animation: int, n: int = FRAMES_PER_ANIMATION, size=(WIDTH, HEIGHT)) -> list[Image.Image]:
    width, height = size
    ramp = np.linspace(0, 30, width)[None, :].repeat(height, axis=0)  # some detail, smooth enough to encode well
    return [Image.fromarray(np.stack([ramp + frame_level(animation, k)] * 3, -1).astype(np.uint8))
            for k in range(n)]


def decode(path: Path) -> np.ndarray:
    """All frames of a video as RGB arrays, decoded by the same ffmpeg for every file."""
    raw = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "rawvideo",
                          "-pix_fmt", "rgb24", "pipe:1"], capture_output=True, check=True).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, HEIGHT, WIDTH, 3)


def soundtrack(n_frames: int, fps: int = FPS, channels: int = 1) -> np.ndarray:
    n = round(n_frames / fps * SAMPLING_RATE)
    wave = (0.5 * np.sin(2 * np.pi * 220 * np.arange(n) / SAMPLING_RATE)).astype(np.float32)
    return wave if channels == 1 else np.stack([wave] * channels, axis=1)


def whole(animations: list[Path], n_frames: int) -> list[tuple[Path, int]]:
    """The animations played whole, in order, the last one cut so that the clip has n_frames."""
    return fill_clip(animations, FRAMES_PER_ANIMATION, n_frames)


@pytest.fixture(scope="module")
def animations(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("animations")
    paths = [folder / f"anim_{j}.mp4" for j in range(3)]
    for j, path in enumerate(paths):
        write_animation(make_frames(j), path, FPS, {"stage": "video", "seed": j})
    return paths


def test_animation_has_the_frames_size_rate_and_codec_asked_for(animations):
    info = probe(animations[0])
    assert (info.n_frames, info.fps, info.video_seconds) == (12, 6.0, 2.0)
    assert (info.width, info.height, info.video_codec, info.pix_fmt) == (WIDTH, HEIGHT, "h264", "yuv420p")
    assert (info.audio_seconds, info.sampling_rate, info.audio_codec) == (None, None, None)
    assert read_mp4_recipe(animations[0]) == {"stage": "video", "seed": 0}


def test_animation_frames_come_out_in_order(animations):
    decoded = decode(animations[1])
    assert len(decoded) == FRAMES_PER_ANIMATION
    brightness = decoded[:, :, 0, 0].mean(axis=1)  # the left edge carries the frame's level
    np.testing.assert_allclose(brightness, [frame_level(1, k) for k in range(FRAMES_PER_ANIMATION)], atol=3)


def test_same_frames_give_the_same_bytes(animations, tmp_path: Path):
    again = tmp_path / "anim_0.mp4"
    write_animation(make_frames(0), again, FPS, {"stage": "video", "seed": 0})
    assert again.read_bytes() == animations[0].read_bytes()
    assert list(tmp_path.iterdir()) == [again]  # no temporary file left beside it


def test_animation_frames_must_share_an_even_size(tmp_path: Path):
    with pytest.raises(ValueError, match="even"):
        write_animation(make_frames(0, 2, size=(63, 48)), tmp_path / "odd.mp4", FPS, {})
    with pytest.raises(ValueError, match="frame 1 is 32x48"):
        write_animation(make_frames(0, 1) + make_frames(0, 1, size=(32, 48)), tmp_path / "mixed.mp4", FPS, {})
    assert list(tmp_path.iterdir()) == []


def test_clip_is_the_animations_in_order_cut_to_length(animations, tmp_path: Path):
    clip = tmp_path / "clip_0.mp4"
    assemble_clip(whole(animations, 30), soundtrack(30), SAMPLING_RATE, FPS, clip, {"stage": "audio_clip"})
    info = probe(clip)
    assert (info.n_frames, info.fps, info.video_seconds) == (30, 6.0, 5.0)
    assert (info.video_codec, info.audio_codec, info.sampling_rate) == ("h264", "aac", SAMPLING_RATE)
    assert abs(info.audio_seconds - info.video_seconds) < 1 / FPS
    # Stream copy: the clip's frames are the animations' own frames, pixel for pixel, the last one cut at 6.
    sources = np.concatenate([decode(path) for path in animations])
    assert np.array_equal(decode(clip), sources[:30])
    assert read_mp4_recipe(clip) == {"stage": "audio_clip"}
    assert list(tmp_path.iterdir()) == [clip]


def test_clip_can_repeat_animations_and_keep_stereo(animations, tmp_path: Path):
    clip = tmp_path / "clip_1.mp4"
    order = [animations[2], animations[0], animations[2]]
    assemble_clip(whole(order, 31), soundtrack(31, channels=2), SAMPLING_RATE, FPS, clip, {})
    info = probe(clip)
    assert info.n_frames == 31 and abs(info.audio_seconds - 31 / FPS) < 1 / FPS
    expected = np.concatenate([decode(path) for path in order])[:31]
    assert np.array_equal(decode(clip), expected)


def test_clip_cuts_animations_short_by_stream_copy(animations, tmp_path: Path):
    """Cuts on the beat end animations early: each shows its first frames, pixel for pixel, and the next follows."""
    clip = tmp_path / "clip_beats.mp4"
    cuts = [(animations[1], 5), (animations[0], 12), (animations[2], 7), (animations[1], 3)]
    assemble_clip(cuts, soundtrack(27), SAMPLING_RATE, FPS, clip, {})
    assert probe(clip).n_frames == 27
    expected = np.concatenate([decode(animation)[:frames] for animation, frames in cuts])
    assert np.array_equal(decode(clip), expected)


def test_mix_shows_exactly_the_frames_asked_of_each_clip(animations, tmp_path: Path):
    """Frame 19 at 6 fps starts at 3.1666... s: an outpoint rounded up to 3.166667 s would keep it."""
    first, second = tmp_path / "clip_1.mp4", tmp_path / "clip_2.mp4"
    assemble_clip(whole(animations, 24), soundtrack(24), SAMPLING_RATE, FPS, first, {})
    assemble_clip(whole(animations[::-1], 24), soundtrack(24), SAMPLING_RATE, FPS, second, {})
    mix, stream = tmp_path / "mix.mp4", tmp_path / "mix.aac"
    audio = soundtrack(31, channels=2)
    with AdtsEncoder(stream, SAMPLING_RATE, 2) as encoder:
        encoder.write(audio)
    assemble_mix([(first, 0, 19), (second, 12, 24)], stream, len(audio), SAMPLING_RATE, FPS, mix, {}, height=None)
    assert np.array_equal(decode(mix), np.concatenate([decode(first)[:19], decode(second)[12:24]]))
    # the joined AAC frames are timed as one encode: the edit list hides the priming, the audio lasts exactly
    decoded = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(mix), "-map", "0:a",
                              "-f", "f32le", "pipe:1"], capture_output=True, check=True).stdout
    assert len(decoded) // 8 == len(audio)


def test_clip_audio_is_not_cut_or_padded(animations, tmp_path: Path):
    """AAC adds priming and padding samples; the edit list hides them, so the decoded audio has its exact length."""
    clip = tmp_path / "clip_2.mp4"
    audio = soundtrack(30)
    assemble_clip(whole(animations, 30), audio, SAMPLING_RATE, FPS, clip, {})
    decoded = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-i", str(clip), "-map", "0:a",
                              "-f", "f32le", "pipe:1"], capture_output=True, check=True).stdout
    assert len(decoded) // 4 == len(audio)


def test_same_inputs_give_the_same_clip_bytes(animations, tmp_path: Path):
    first, second = tmp_path / "first.mp4", tmp_path / "second.mp4"
    for clip in (first, second):
        assemble_clip(whole(animations, 30), soundtrack(30), SAMPLING_RATE, FPS, clip, {"stage": "audio_clip"})
    assert first.read_bytes() == second.read_bytes()


def test_audio_of_the_wrong_length_is_refused(animations, tmp_path: Path):
    with pytest.raises(ValueError, match="must match within one frame"):
        assemble_clip(whole(animations, 30), soundtrack(24), SAMPLING_RATE, FPS, tmp_path / "clip.mp4", {})


def test_missing_animation_is_named(animations, tmp_path: Path):
    missing = tmp_path / "anim_7.mp4"
    with pytest.raises(MediaError, match=r"anim_7\.mp4: no such file"):
        assemble_clip(whole([animations[0], missing], 20), soundtrack(20), SAMPLING_RATE, FPS,
                      tmp_path / "clip.mp4", {})
    assert not (tmp_path / "clip.mp4").exists()


def test_corrupt_animation_is_named(animations, tmp_path: Path):
    cut = tmp_path / "anim_cut.mp4"
    cut.write_bytes(animations[1].read_bytes()[:-100])
    with pytest.raises(MediaError, match=r"anim_cut\.mp4: not a readable MP4 video"):
        assemble_clip(whole([animations[0], cut], 20), soundtrack(20), SAMPLING_RATE, FPS, tmp_path / "clip.mp4", {})
    foreign = tmp_path / "anim_text.mp4"
    foreign.write_text("not a video")
    with pytest.raises(MediaError, match=r"anim_text\.mp4: not a readable MP4 video"):
        assemble_clip(whole([foreign], 6), soundtrack(6), SAMPLING_RATE, FPS, tmp_path / "clip.mp4", {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim_cut.mp4", "anim_text.mp4"]


def test_animations_that_cannot_be_joined_are_named(animations, tmp_path: Path):
    small = tmp_path / "anim_small.mp4"
    write_animation(make_frames(0, size=(32, 48)), small, FPS, {})
    with pytest.raises(MediaError, match=r"anim_small\.mp4: encoded differently from .*anim_0\.mp4"):
        assemble_clip(whole([animations[0], small], 20), soundtrack(20), SAMPLING_RATE, FPS, tmp_path / "clip.mp4", {})
    with pytest.raises(MediaError, match=r"anim_0\.mp4: 6 fps, but the clip is 12 fps"):
        assemble_clip(whole([animations[0]], 12), soundtrack(12, fps=12), SAMPLING_RATE, 12, tmp_path / "clip.mp4", {})


def test_probe_names_foreign_and_truncated_files(animations, tmp_path: Path):
    wav = tmp_path / "track.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=duration=0.1",
                    "-f", "wav", str(wav)], check=True)
    with pytest.raises(MediaError, match=r"track\.mp4: not an MP4 video \(ffmpeg reads it as wav\)"):
        probe(wav)
    truncated = tmp_path / "anim_0.mp4"
    shutil.copy(animations[0], truncated)
    truncated.write_bytes(truncated.read_bytes()[:-100])
    with pytest.raises(MediaError, match=r"anim_0\.mp4: not a readable MP4 video"):
        probe(truncated)


def test_peeking_at_the_recipe_reads_what_ffmpeg_reads(animations, tmp_path: Path):
    clip = tmp_path / "clip.mp4"
    assemble_clip(whole(animations, 30), soundtrack(30), SAMPLING_RATE, FPS, clip, {"stage": "audio_clip", "n": 1})
    for video in (animations[0], clip):
        assert peek_mp4_recipe(video) == read_mp4_recipe(video) != None  # noqa: E711
    plain = tmp_path / "plain.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=size=64x48:d=1",
                    "-c:v", "libx264", str(plain)], check=True)
    text = tmp_path / "text.mp4"
    text.write_text("not a video")
    assert peek_mp4_recipe(plain) is None and peek_mp4_recipe(text) is None
    assert peek_mp4_recipe(tmp_path / "missing.mp4") is None
