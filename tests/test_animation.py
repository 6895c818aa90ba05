import numpy as np
import pytest
from PIL import Image

from aibeats.animation import animate_image, fit_video_size, load_video_pipeline, loop_frames
from aibeats.items import animation_frame_count
from aibeats.tiny.svd import build_tiny_svd

# The demo's animation settings, on a 64x128 (height x width) image.
SETTINGS = {"max_side": 128, "num_frames": 4, "n_continuations": 2, "fps": 7, "decode_chunk_size": 4,
            "motion_bucket_id": 127, "noise_aug_strength": 0.02, "inference_steps": 2}


@pytest.mark.parametrize(("image_size", "max_side", "video_size"), [
    ((1024, 576), 1024, (1024, 576)),  # SVD's own landscape size is kept
    ((576, 1024), 1024, (576, 1024)),  # portrait: the height is the longer side
    ((128, 64), 128, (128, 64)),
    ((512, 512), 256, (256, 256)),
    ((1000, 333), 512, (512, 192)),  # 170.5 rounds to the nearest multiple of 64
    ((300, 1000), 512, (128, 512)),  # 153.6 rounds down to 128
    ((1000, 10), 512, (512, 64)),  # never below one multiple
])
def test_fit_video_size_keeps_the_aspect_ratio_in_multiples_of_64(image_size, max_side, video_size):
    assert fit_video_size(*image_size, max_side) == video_size


def test_fit_video_size_rounds_halves_up():
    # 1.5 multiples of 64 (a 3:4 image at 128) round up, as 2.5 multiples do (5:8 at 256).
    assert fit_video_size(128, 96, 128) == (128, 128)
    assert fit_video_size(256, 160, 256) == (256, 192)


def test_fit_video_size_takes_another_multiple():
    assert fit_video_size(1920, 1080, 1024, multiple=8) == (1024, 576)


@pytest.mark.parametrize("max_side", [100, 0, 32])
def test_fit_video_size_refuses_a_max_side_that_is_not_a_multiple(max_side):
    with pytest.raises(ValueError, match=f"max_side {max_side} must be a positive multiple of 64"):
        fit_video_size(1024, 576, max_side)


@pytest.mark.parametrize(("num_frames", "n_continuations", "loop_video", "frames"), [
    (4, 1, False, 4),
    (4, 2, False, 7),  # 4 + 3: the continuation's first frame repeats the last one
    (4, 2, True, 12),  # 7 forward, then 5 back: f5..f1
    (14, 1, False, 14),
    (14, 3, False, 40),
    (14, 3, True, 78),
    (2, 1, True, 2),  # f0 f1 loops by itself
])
def test_animation_frame_count(num_frames, n_continuations, loop_video, frames):
    assert animation_frame_count(num_frames, n_continuations, loop_video) == frames


def test_loop_frames_plays_back_without_repeating_the_turning_frames():
    assert loop_frames([0, 1, 2, 3, 4]) == [0, 1, 2, 3, 4, 3, 2, 1]
    assert loop_frames([0, 1, 2]) == [0, 1, 2, 1]
    assert loop_frames([0, 1]) == [0, 1]


def test_loop_frames_count_matches_animation_frame_count():
    forward = list(range(animation_frame_count(4, 3, loop_video=False)))
    assert len(loop_frames(forward)) == animation_frame_count(4, 3, loop_video=True)


@pytest.fixture(scope="session")
def video_pipe(tiny_svd_dir):
    return load_video_pipeline(str(tiny_svd_dir), "cpu")


@pytest.fixture(scope="session")
def start_image():
    noise = np.random.default_rng(0).integers(0, 256, size=(64, 128, 3), dtype=np.uint8)
    return Image.fromarray(noise)


@pytest.fixture(scope="session")
def forward_frames(video_pipe, start_image):
    return animate_image(video_pipe, start_image, loop_video=False, seed=3, **SETTINGS)


def files_in(folder) -> dict:
    """Every file under folder, by relative path, with its bytes."""
    return {path.relative_to(folder): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def pixels(frames) -> list[np.ndarray]:
    return [np.asarray(frame) for frame in frames]


def same_pixels(frames, others) -> bool:
    if len(frames) != len(others):
        return False
    return all(np.array_equal(a, b) for a, b in zip(pixels(frames), pixels(others), strict=True))


class RecordingPipe:
    """Passes each call on to the pipeline and keeps its image, arguments and frames."""

    def __init__(self, pipe):
        self.pipe = pipe
        self.calls = []

    @property
    def device(self):
        return self.pipe.device

    @property
    def _execution_device(self):
        # where the noise is drawn (aibeats.pretrained.execution_device)
        return self.pipe._execution_device

    def __call__(self, image, **kwargs):
        result = self.pipe(image, **kwargs)
        self.calls.append((image, kwargs, result.frames[0]))
        return result


def test_tiny_build_is_deterministic_and_leaves_only_the_finished_folder(tiny_svd_dir, tmp_path):
    build_tiny_svd(tmp_path / "again")

    assert sorted(p.name for p in tmp_path.iterdir()) == ["again"]
    assert files_in(tmp_path / "again") == files_in(tiny_svd_dir)


def test_tiny_model_loads_with_svds_scheduler(video_pipe):
    assert type(video_pipe).__name__ == "StableVideoDiffusionPipeline"
    assert video_pipe.vae_scale_factor == 8
    scheduler = video_pipe.scheduler.config
    assert (scheduler.prediction_type, scheduler.use_karras_sigmas, scheduler.timestep_type) == (
        "v_prediction", True, "continuous")


def test_forward_animation_has_every_segments_new_frames_at_the_fitted_size(forward_frames):
    assert len(forward_frames) == animation_frame_count(4, 2, loop_video=False) == 7
    assert {frame.size for frame in forward_frames} == {(128, 64)}


def test_looped_animation_is_the_forward_one_played_back(video_pipe, start_image, forward_frames):
    looped = animate_image(video_pipe, start_image, loop_video=True, seed=3, **SETTINGS)

    assert len(looped) == animation_frame_count(4, 2, loop_video=True) == 12
    assert {frame.size for frame in looped} == {(128, 64)}
    # Same seed: the forward part is pixel for pixel the unlooped animation.
    assert same_pixels(looped, loop_frames(forward_frames))


def test_another_seed_changes_the_frames(video_pipe, start_image, forward_frames):
    other = animate_image(video_pipe, start_image, loop_video=False, seed=4, **SETTINGS)

    assert not same_pixels(other, forward_frames)


def test_each_continuation_starts_from_the_last_frame_and_drops_its_first(video_pipe, start_image, forward_frames):
    recording = RecordingPipe(video_pipe)

    frames = animate_image(recording, start_image, loop_video=False, seed=3, **SETTINGS)

    (first_image, first_args, first_frames), (second_image, second_args, second_frames) = recording.calls
    assert first_image.size == (128, 64)
    assert second_image is first_frames[-1]
    assert same_pixels(frames, first_frames + second_frames[1:])
    assert same_pixels(frames, forward_frames)
    # The size is always passed: the pipeline would otherwise make 576x1024 frames.
    assert first_args == second_args
    assert {k: first_args[k] for k in ("height", "width", "num_frames", "num_inference_steps", "decode_chunk_size",
                                       "motion_bucket_id", "noise_aug_strength", "fps")} == {
        "height": 64, "width": 128, "num_frames": 4, "num_inference_steps": 2, "decode_chunk_size": 4,
        "motion_bucket_id": 127, "noise_aug_strength": 0.02, "fps": 7}


def test_the_image_is_resized_to_keep_its_aspect_ratio(video_pipe):
    portrait = Image.new("RGB", (90, 200), (200, 120, 40))

    frames = animate_image(video_pipe, portrait, loop_video=False, seed=3, **{**SETTINGS, "n_continuations": 1})

    assert len(frames) == 4
    assert {frame.size for frame in frames} == {(64, 128)}
