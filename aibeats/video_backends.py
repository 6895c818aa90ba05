"""The prompted image-to-video backends (video.backend wan and ltx) and what differs between them.

Stable Video Diffusion (svd) and the camera move (kenburns) keep their own code; Wan and LTX-Video share one: both
take the image with a prompt, a negative prompt and a guidance scale, and both have a rule for their frame count
and the frame rates they were trained at, checked when the config is read (aibeats.config); their size multiple
is read from the loaded pipeline (aibeats.animation). This module loads no model.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class VideoBackend:
    name: str
    # The diffusers pipeline that animates an image, and the pipeline classes a model of this backend may be saved
    # as (Wan2.2-TI2V-5B is published as a text-to-video WanPipeline that the image-to-video class also loads).
    pipeline_class: str
    model_classes: frozenset[str]
    # Frames of the form frame_step * k + 1: the VAE shrinks time frame_step times, after the first frame.
    frame_step: int
    # The frame rates the published models were trained at (model cards): motion played at another rate runs fast
    # or slow.
    native_fps: tuple[int, ...]
    # The model card's guidance, used where video.guidance_scale is null.
    guidance_scale: float
    # Its name for people (the review page)
    label: str


BACKENDS = {
    # Wan 2.1 I2V 480P/720P and Wan 2.2 A14B: 16 fps, 81 frames, guidance 5 (Wan-AI's model cards); Wan2.2-TI2V-5B
    # 24 fps, with frames 16 times smaller (sides in multiples of 32, 16 for the others).
    "wan": VideoBackend("wan", "WanImageToVideoPipeline",
                        frozenset({"WanImageToVideoPipeline", "WanPipeline"}), 4, (16, 24), 5.0, "Wan"),
    # LTX-Video 0.9.x: trained at 24 to 30 fps and told the rate, 121 or 161 frames, sides in multiples of 32,
    # guidance 3 (Lightricks' model card).
    "ltx": VideoBackend("ltx", "LTXImageToVideoPipeline",
                        frozenset({"LTXImageToVideoPipeline", "LTXPipeline"}), 8, (24, 25, 30), 3.0,
                        "LTX-Video"),
}

# The pipeline class that animates an image with a model saved as each class; Stable Video Diffusion's own.
PIPELINE_OF_MODEL_CLASS = {"StableVideoDiffusionPipeline": "StableVideoDiffusionPipeline"} | {
    model_class: backend.pipeline_class for backend in BACKENDS.values() for model_class in backend.model_classes}


def frame_count_error(backend: VideoBackend, num_frames: int) -> str | None:
    """Why a frame count is not allowed with the backend, or None."""
    if num_frames % backend.frame_step == 1:
        return None
    below = num_frames // backend.frame_step * backend.frame_step + 1
    nearby = [n for n in (below - backend.frame_step, below, below + backend.frame_step) if n > 1]
    nearest = sorted(nearby, key=lambda n: (abs(n - num_frames), n))[:2]
    return f"it must be {backend.frame_step}k+1, e.g. {' or '.join(str(n) for n in sorted(nearest))}"


def animation_prompt(image_prompt: str, motion_prompt: str | None) -> str:
    """What the animation of an image is asked for: the image's own prompt, then how it should move."""
    return f"{image_prompt}, {motion_prompt}" if motion_prompt else image_prompt
