"""Animating an image without a model: a slow camera move over the still (the "Ken Burns" effect), on the CPU.

The move is planned from a seed (pure arithmetic) and rendered by resampling the image once per distinct view.
Its frames have the size and count of a Stable Video Diffusion animation with the same settings, so either
can fill the same clips.
"""

import math
import random
from dataclasses import dataclass

from PIL import Image

from aibeats.animation import fit_video_size
from aibeats.items import animation_frame_count

# At 1.25 the view still shows 80 % of each side: a visible push-in over a few seconds, and a 1024 px image
# filling the frame from 820 px is not yet soft.
DEFAULT_ZOOM_RANGE = (1.0, 1.25)
# A tenth of the frame: the most the centre can travel when one end of the move shows the whole picture and
# the other is at 1.25 (the closer view leaves (1 - 1 / 1.25) / 2 of the frame free on each side).
DEFAULT_PAN = 0.1


@dataclass(frozen=True)
class CameraMove:
    """Where the camera starts and ends. A zoom of 1 shows the whole frame, 2 half of each side; a centre is
    (x, y) in fractions of the frame's width and height, (0.5, 0.5) being the middle."""

    start_zoom: float
    end_zoom: float
    start_centre: tuple[float, float]
    end_centre: tuple[float, float]


def _room(zoom: float) -> float:
    """How far the centre may stray from the middle, along either axis, before the view leaves the frame."""
    return (1 - 1 / zoom) / 2


def _place_travel(travel: float, start_room: float, end_room: float) -> tuple[float, float]:
    """Start and end of the centre along one axis: `travel` apart (shortened where the zooms leave no room for
    it), each inside its end's room, and as nearly symmetric about the middle as that allows."""
    travel = max(-(start_room + end_room), min(travel, start_room + end_room))
    lowest, highest = max(-start_room, -end_room - travel), min(start_room, end_room - travel)
    offset = max(lowest, min(-travel / 2, highest))
    return 0.5 + offset, 0.5 + offset + travel


def plan_camera_move(seed: int, zoom_range: tuple[float, float] = DEFAULT_ZOOM_RANGE,
                     pan: float = DEFAULT_PAN) -> CameraMove:
    """The move of one animation: from one end of the zoom range to the other, in or out, while the centre
    travels `pan` of the frame in some direction; the seed picks in or out and the direction. Travel is in
    fractions of the frame's width and height: a level pan of 0.1 crosses a tenth of the width.

    Both ends of the range are used, so every move has the same, deliberate amount of zoom; what varies is
    its sense and the direction of the pan, which is what makes two animations of a clip look different.
    """
    min_zoom, max_zoom = zoom_range
    if not 1 <= min_zoom <= max_zoom:
        raise ValueError(f"zoom range {zoom_range}: expected 1 <= min <= max (below 1 the view leaves the image)")
    if pan < 0:
        raise ValueError(f"pan {pan}: expected a fraction of the frame, 0 or more")
    # A generator of its own: the move depends on the seed alone, never on what else drew random numbers.
    rng = random.Random(seed)
    start_zoom, end_zoom = rng.choice([(min_zoom, max_zoom), (max_zoom, min_zoom)])
    angle = rng.uniform(0, 2 * math.pi)
    (start_x, end_x), (start_y, end_y) = (
        _place_travel(pan * component, _room(start_zoom), _room(end_zoom))
        for component in (math.cos(angle), math.sin(angle)))
    return CameraMove(start_zoom, end_zoom, (start_x, start_y), (end_x, end_y))


def camera_progress(n_frames: int, loop: bool) -> list[float]:
    """How far along the move each frame is, from 0 to 1, eased with a cosine so the camera starts and stops
    gently (no jolt at either end).

    A loop goes there and back in one period of the cosine, so frame n_frames would be frame 0 again and the
    turn is as gentle as the start. Frame k then shows the view of frame n_frames - k: SVD's loop_frames
    layout, and its first half is exactly the progress of the unlooped animation with n_frames // 2 + 1 frames.
    """
    if loop:
        return [(1 - math.cos(math.pi * (2 * k / n_frames))) / 2 for k in range(n_frames)]
    if n_frames == 1:
        return [0.0]
    return [(1 - math.cos(math.pi * (k / (n_frames - 1)))) / 2 for k in range(n_frames)]


def camera_window(move: CameraMove, progress: float) -> tuple[float, float, float, float]:
    """The view at `progress` along the move, as (left, top, right, bottom) fractions of the frame.

    The zoom changes geometrically (at a steady rate to the eye) and the centre in a straight line. Both ends
    lie inside the frame, and a view between them does too: its size is at most the straight-line blend of
    the ends' sizes, and for such a blend the distance to the frame's edge is largest at an end.
    """
    zoom = move.start_zoom * (move.end_zoom / move.start_zoom) ** progress
    centre_x, centre_y = (start + (end - start) * progress
                          for start, end in zip(move.start_centre, move.end_centre, strict=True))
    half = 0.5 / zoom
    return centre_x - half, centre_y - half, centre_x + half, centre_y + half


def _cover_crop(image_width: int, image_height: int, width: int, height: int) -> tuple[float, float, float, float]:
    """The largest centred part of the image with the frame's aspect ratio, in image pixels: the frame at zoom 1.
    Kept in floats, so that no rounding stretches the picture."""
    scale = min(image_width / width, image_height / height)
    left, top = (image_width - width * scale) / 2, (image_height - height * scale) / 2
    return left, top, left + width * scale, top + height * scale


def _render_view(image: Image.Image, crop: tuple[float, float, float, float],
                 window: tuple[float, float, float, float], size: tuple[int, int]) -> Image.Image:
    """One frame: the window of the crop resampled straight from the image's own pixels.

    Pillow's resize takes the source box in floats and centres its filter on the exact position of every
    output pixel, so the view moves by fractions of a pixel (no stair steps) and is resampled once; Lanczos
    keeps detail equally sharp at every sub-pixel offset (no shimmer) and averages properly when shrinking.
    """
    crop_left, crop_top, crop_right, crop_bottom = crop
    crop_width, crop_height = crop_right - crop_left, crop_bottom - crop_top
    left, top, right, bottom = window
    # Clamped: rounding can push an edge a hair past the image, which resize refuses.
    box = (max(0.0, crop_left + left * crop_width), max(0.0, crop_top + top * crop_height),
           min(float(image.width), crop_left + right * crop_width),
           min(float(image.height), crop_top + bottom * crop_height))
    return image.resize(size, Image.Resampling.LANCZOS, box=box)


def render_camera_move(image: Image.Image, width: int, height: int, n_frames: int, loop: bool,
                       move: CameraMove) -> list[Image.Image]:
    """n_frames RGB frames of width x height: the move over the image, fitted to cover the frame (centred).

    A loop's second half shows the first half's views backwards, so each view is rendered once and the same
    frame object appears twice, as in SVD's loop_frames.
    """
    if n_frames < 1:
        raise ValueError(f"an animation needs at least one frame, not {n_frames}")
    source = image.convert("RGB")
    crop = _cover_crop(source.width, source.height, width, height)
    progress = camera_progress(n_frames, loop)
    distinct = n_frames // 2 + 1 if loop else n_frames
    views = [_render_view(source, crop, camera_window(move, progress[k]), (width, height)) for k in range(distinct)]
    return [views[min(k, n_frames - k)] for k in range(n_frames)] if loop else views


# One keyword-only argument per setting, named as animate_image names them, so the two back-ends are called alike.
def kenburns_frames(image: Image.Image, *, max_side: int, num_frames: int, n_continuations: int,  # noqa: PLR0913
                    loop_video: bool | str, seed: int, zoom_range: tuple[float, float] = DEFAULT_ZOOM_RANGE,
                    pan: float = DEFAULT_PAN) -> list[Image.Image]:
    """The frames of one animation: as many, and of the same size, as animate_image makes with these settings."""
    width, height = fit_video_size(image.width, image.height, max_side)
    n_frames = animation_frame_count(num_frames, n_continuations, loop_video)
    # a seamless loop is a move there and back as well, one frame shorter
    return render_camera_move(image, width, height, n_frames, bool(loop_video),
                              plan_camera_move(seed, zoom_range, pan))
