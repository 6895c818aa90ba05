import math
import random
from itertools import pairwise

import numpy as np
import pytest
from PIL import Image, ImageFilter

from aibeats.animation import fit_video_size
from aibeats.items import animation_frame_count
from aibeats.kenburns import (
    DEFAULT_PAN,
    DEFAULT_ZOOM_RANGE,
    CameraMove,
    camera_progress,
    camera_window,
    kenburns_frames,
    plan_camera_move,
    render_camera_move,
)

# The real defaults' frame layout (14 frames, 2 continuations, looped: 27 views, 52 frames), at a small size.
SETTINGS = {"max_side": 256, "num_frames": 14, "n_continuations": 2, "loop_video": True}
# How far a measured shift may be from the one the move asks for: measure_shift is good to about 0.05 px on
# these images; a view rounded to whole source pixels is off by up to 0.6.
SHIFT_TOLERANCE_PX = 0.15


def textured_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """Photo-like: blurred colour noise (detail at every position, for phase correlation) over soft gradients."""
    rng = np.random.default_rng(seed)
    noise = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    detail = np.asarray(noise.filter(ImageFilter.GaussianBlur(1.5)), dtype=np.float64)
    y, x = np.mgrid[0:height, 0:width]
    gradients = np.stack([x / width, y / height, (x + y) / (width + height)], axis=-1) * 80
    return Image.fromarray(np.clip(0.7 * detail + gradients, 0, 255).astype(np.uint8))


def _windowed_grey(frame: Image.Image) -> np.ndarray:
    grey = np.asarray(frame.convert("L"), dtype=np.float64)
    # A Hann window hides the frame's edges, where content enters and leaves, from the correlation.
    return (grey - grey.mean()) * np.outer(np.hanning(grey.shape[0]), np.hanning(grey.shape[1]))


def measure_shift(previous: Image.Image, current: Image.Image) -> tuple[float, float]:
    """(dx, dy) in pixels that the content moved from previous to current, by phase correlation; sub-pixel
    from a parabola through the correlation peak and its neighbours on each axis.

    The cross-power spectrum is divided by the square root of its magnitude rather than the magnitude (half
    whitened): the peak is then a little wider, which a parabola fits to about 0.05 px instead of 0.15.
    """
    cross = np.conj(np.fft.fft2(_windowed_grey(previous))) * np.fft.fft2(_windowed_grey(current))
    correlation = np.fft.ifft2(cross / np.sqrt(np.maximum(np.abs(cross), 1e-12))).real
    peak = np.unravel_index(np.argmax(correlation), correlation.shape)
    shift = []
    for axis, size in enumerate(correlation.shape):
        before, after = list(peak), list(peak)
        before[axis], after[axis] = (peak[axis] - 1) % size, (peak[axis] + 1) % size
        low, centre, high = correlation[tuple(before)], correlation[peak], correlation[tuple(after)]
        position = peak[axis] + (low - high) / (2 * (low - 2 * centre + high))
        shift.append(position - size if position > size / 2 else position)
    return shift[1], shift[0]


def shifts(frames: list[Image.Image]) -> np.ndarray:
    """(dx, dy) between each frame and the next, one row per step."""
    return np.array([measure_shift(previous, current) for previous, current in pairwise(frames)])


def assert_moves_smoothly(steps: np.ndarray) -> None:
    """Per-step motion (pixels, along the main axis of the move) that changes gradually from step to step."""
    largest = np.abs(steps).max()
    # No jump: a step differs little from the one before it.
    assert np.abs(np.diff(steps)).max() < 0.25 * largest
    # No stair steps: away from the ends (where the move eases in and out), no step stands still.
    middle = steps[len(steps) // 4: -(len(steps) // 4)]
    assert np.abs(middle).min() > 0.5 * largest


@pytest.mark.parametrize(("num_frames", "n_continuations", "loop_video"), [
    (14, 2, True), (14, 2, False), (4, 2, True), (4, 1, False), (5, 3, False), (2, 1, True), (3, 1, True),
])
@pytest.mark.parametrize(("image_size", "max_side"), [((300, 200), 128), ((200, 330), 128), ((320, 180), 256)])
def test_frames_match_an_svd_animation_in_count_and_size(num_frames, n_continuations, loop_video, image_size,
                                                         max_side):
    frames = kenburns_frames(textured_image(*image_size), max_side=max_side, num_frames=num_frames,
                             n_continuations=n_continuations, loop_video=loop_video, seed=3)
    assert len(frames) == animation_frame_count(num_frames, n_continuations, loop_video)
    assert {(frame.size, frame.mode) for frame in frames} == {(fit_video_size(*image_size, max_side), "RGB")}


def test_default_settings_give_the_default_svd_animation_shape():
    frames = kenburns_frames(textured_image(1024, 576), max_side=1024, num_frames=14, n_continuations=2,
                             loop_video=True, seed=0)
    assert len(frames) == 52
    assert {frame.size for frame in frames} == {(1024, 576)}


def test_a_palette_image_is_rendered_in_rgb():
    image = textured_image(256, 144).convert("P")
    frames = render_camera_move(image, 128, 64, 4, False, plan_camera_move(0))
    assert {frame.mode for frame in frames} == {"RGB"}


def test_the_same_seed_gives_the_same_frames():
    image = textured_image(320, 180)
    first, second = (kenburns_frames(image, **SETTINGS, seed=7) for _ in range(2))
    assert [frame.tobytes() for frame in first] == [frame.tobytes() for frame in second]


def test_the_move_depends_on_the_seed_alone():
    random.seed(1)
    first = plan_camera_move(5)
    random.seed(2)
    np.random.seed(2)
    assert plan_camera_move(5) == first


def test_two_seeds_give_different_moves_and_frames():
    assert plan_camera_move(0) != plan_camera_move(1)
    image = textured_image(320, 180)
    zero, one = kenburns_frames(image, **SETTINGS, seed=0), kenburns_frames(image, **SETTINGS, seed=1)
    turning = len(zero) // 2
    difference = np.abs(np.asarray(zero[turning], dtype=float) - np.asarray(one[turning], dtype=float)).mean()
    assert difference > 10


def test_seeds_zoom_both_ways_and_pan_every_way():
    moves = [plan_camera_move(seed) for seed in range(40)]
    assert {move.end_zoom > move.start_zoom for move in moves} == {True, False}
    quadrants = {(move.end_centre[0] > move.start_centre[0], move.end_centre[1] > move.start_centre[1])
                 for move in moves}
    assert len(quadrants) == 4


def test_a_move_uses_the_whole_zoom_range_and_the_whole_pan():
    for seed in range(20):
        move = plan_camera_move(seed)
        assert sorted([move.start_zoom, move.end_zoom]) == list(DEFAULT_ZOOM_RANGE)
        travel = math.dist(move.start_centre, move.end_centre)
        assert travel == pytest.approx(DEFAULT_PAN)


@pytest.mark.parametrize(("zoom_range", "pan"), [(DEFAULT_ZOOM_RANGE, DEFAULT_PAN), ((1.0, 2.0), 1.0),
                                                 ((1.0, 1.0), 0.3), ((1.5, 1.5), 0.5), ((1.1, 1.3), 0.2)])
def test_the_view_never_leaves_the_image(zoom_range, pan):
    for seed in range(50):
        move = plan_camera_move(seed, zoom_range, pan)
        for progress in np.linspace(0, 1, 41):
            left, top, right, bottom = camera_window(move, progress)
            assert -1e-12 <= left < right <= 1 + 1e-12
            assert -1e-12 <= top < bottom <= 1 + 1e-12


def test_a_pan_too_long_for_the_zoom_is_shortened_not_refused():
    # A move that shows the whole picture at both ends has nowhere to pan.
    move = plan_camera_move(4, (1.0, 1.0), 0.3)
    assert move.start_centre == move.end_centre == (0.5, 0.5)
    # At 2x both ends, the centre can travel at most from 0.25 to 0.75 along either axis.
    move = plan_camera_move(4, (2.0, 2.0), 5.0)
    assert all(0.25 <= value <= 0.75 for value in (*move.start_centre, *move.end_centre))


def test_no_frame_shows_past_the_edge_of_the_image():
    white = Image.new("RGB", (300, 170), (255, 255, 255))
    for seed in range(6):
        frames = render_camera_move(white, 128, 64, 9, False, plan_camera_move(seed, (1.0, 2.0), 1.0))
        assert min(np.asarray(frame).min() for frame in frames) == 255


@pytest.mark.parametrize(("zoom_range", "pan"), [((0.9, 1.2), 0.1), ((1.3, 1.2), 0.1), ((1.0, 1.2), -0.1)])
def test_a_zoom_out_of_the_image_or_a_negative_pan_is_refused(zoom_range, pan):
    with pytest.raises(ValueError, match="zoom range|pan"):
        plan_camera_move(0, zoom_range, pan)


def test_progress_eases_in_and_out():
    progress = camera_progress(27, loop=False)
    assert progress[0] == 0 and progress[-1] == pytest.approx(1)
    steps = np.diff(progress)
    assert (steps > 0).all()
    assert steps[0] < 0.1 * steps.max() and steps[-1] < 0.1 * steps.max()


# The image at the frame's size (the view is enlarged) and at twice it (the view is shrunk).
@pytest.mark.parametrize("image_size", [(256, 144), (512, 288)])
def test_a_pan_moves_the_picture_by_the_planned_fraction_of_a_pixel_every_frame(image_size):
    # Constant zoom: the content shifts by (change of centre) x (frame size) x zoom, which phase
    # correlation measures exactly.
    move = CameraMove(1.2, 1.2, (0.42, 0.45), (0.58, 0.55))
    frames = render_camera_move(textured_image(*image_size), 256, 144, 27, False, move)
    progress_steps = np.diff(camera_progress(27, loop=False))
    expected = np.stack([-0.16 * 256 * 1.2 * progress_steps, -0.10 * 144 * 1.2 * progress_steps], axis=1)
    measured = shifts(frames)
    assert np.abs(measured - expected).max() < SHIFT_TOLERANCE_PX
    assert_moves_smoothly(measured[:, 0])
    # It eases: the first and last steps are a fraction of the middle ones.
    assert max(abs(measured[0, 0]), abs(measured[-1, 0])) < 0.25 * np.abs(measured[:, 0]).max()


def blobs_image(width: int, height: int, separation: float) -> Image.Image:
    """Two soft bright spots on black, level with the middle and `separation` pixels apart: each one's
    centroid is found to a hundredth of a pixel, so their distance measures the zoom."""
    y, x = np.mgrid[0:height, 0:width]
    spots = sum(np.exp(-((x - (width / 2 + side * separation / 2)) ** 2 + (y - height / 2) ** 2) / (2 * 3.0**2))
                for side in (-1, 1))
    return Image.fromarray((255 * spots).astype(np.uint8)).convert("RGB")


def spot_separation(frame: Image.Image) -> float:
    """Pixels between the centroids of the brightness in the left and the right half of the frame."""
    grey = np.asarray(frame.convert("L"), dtype=np.float64)
    columns = np.arange(grey.shape[1])
    half = grey.shape[1] // 2
    left, right = grey[:, :half].sum(axis=0), grey[:, half:].sum(axis=0)
    return (right @ columns[half:]) / right.sum() - (left @ columns[:half]) / left.sum()


def test_a_zoom_grows_the_picture_by_the_planned_fraction_every_frame():
    move = CameraMove(1.0, 1.25, (0.5, 0.5), (0.5, 0.5))
    frames = render_camera_move(blobs_image(256, 144, separation=100), 256, 144, 27, False, move)
    separations = np.array([spot_separation(frame) for frame in frames])
    zooms = np.array([1.25 ** progress for progress in camera_progress(27, loop=False)])
    assert np.abs(separations - 100 * zooms).max() < 0.1
    growth = np.diff(separations)
    assert_moves_smoothly(growth)
    assert max(growth[0], growth[-1]) < 0.25 * growth.max()


def test_a_loop_plays_the_move_there_and_back_with_no_jump():
    image = textured_image(320, 180)
    # A long pan at a steady zoom, which phase correlation measures best.
    move = {"seed": 2, "zoom_range": (1.25, 1.25), "pan": 0.2}
    looped = kenburns_frames(image, **SETTINGS, **move)
    forward = kenburns_frames(image, **{**SETTINGS, "loop_video": False}, **move)
    # The same views as the unlooped animation, then back without showing the turning views twice:
    # f0..f26 then f25..f1, SVD's loop_frames layout.
    assert [frame.tobytes() for frame in looped] == [frame.tobytes() for frame in forward + forward[-2:0:-1]]
    # Played in a loop, last frame to first is a step like any other: measure all the way round.
    steps = shifts([*looped, looped[0]])
    main_axis = int(np.argmax(np.abs(steps).max(axis=0)))
    closing, largest = steps[-1, main_axis], np.abs(steps[:, main_axis]).max()
    assert abs(closing) < 0.1 * largest
    assert np.abs(np.diff(steps[:, main_axis], append=steps[0, main_axis])).max() < 0.25 * largest
    assert closing == pytest.approx(-steps[0, main_axis], abs=SHIFT_TOLERANCE_PX)
