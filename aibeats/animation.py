"""Animating an image with Stable Video Diffusion, Wan or LTX-Video: the frame size (pure) and the model code; the
frame count is aibeats.items.animation_frame_count."""

from aibeats.items import SEAMLESS_LOOP
from aibeats.pretrained import execution_device, generator_for, place_pipeline, pretrained_options
from aibeats.video_backends import BACKENDS, PIPELINE_OF_MODEL_CLASS


def fit_video_size(image_width: int, image_height: int, max_side: int, multiple: int = 64) -> tuple[int, int]:
    """(width, height) of the animation: the longer side is max_side, the other keeps the image's aspect
    ratio; both are multiples of `multiple` (SVD's VAE and UNet divide the size by 64 at full scale)."""
    if max_side < multiple or max_side % multiple:
        raise ValueError(f"max_side {max_side} must be a positive multiple of {multiple}")
    long_side, short_side = max(image_width, image_height), min(image_width, image_height)
    # Halves round up: round() would round them to even, sending both 1.5 and 2.5 to 2.
    short = max(multiple, int(max_side * short_side / long_side / multiple + 0.5) * multiple)
    return (max_side, short) if image_width >= image_height else (short, max_side)


def loop_frames(frames: list) -> list:
    """Forward then backward, f0..fN-1 then fN-2..f1: played in a loop, no frame shows twice in a row."""
    return list(frames) + list(frames[-2:0:-1])


def load_video_pipeline(model_id: str, device: str, precision: str = "auto", offload: str = "none"):
    """The image-to-video pipeline of a hub id or a local folder, on the device (already resolved) and offloaded as
    config `offload` asks: the class that animates an image with the kind of model its model_index.json names
    (aibeats.video_backends)."""
    import diffusers

    pipeline_class = getattr(diffusers, video_pipeline_class(model_id))
    options = pretrained_options(model_id, device, precision)
    pipe = place_pipeline(pipeline_class.from_pretrained(model_id, **options), device, offload)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def video_pipeline_class(model_id: str) -> str:
    """The name of the diffusers class that animates an image with the model of a hub id or a local folder."""
    import diffusers

    model_class = diffusers.DiffusionPipeline.load_config(model_id).get("_class_name")
    return PIPELINE_OF_MODEL_CLASS.get(model_class, "StableVideoDiffusionPipeline")


def pipeline_backend(pipe) -> str:
    """The video.backend a loaded pipeline serves: svd, wan or ltx."""
    for backend in BACKENDS.values():
        if type(pipe).__name__ == backend.pipeline_class:
            return backend.name
    return "svd"


def takes_a_last_frame(pipe) -> bool:
    """Whether the pipeline conditions a video's last frame as well as its first (`last_image`): Wan's
    first-last-frame models, whose transformer reads both images' tokens and always needs the two."""
    transformer = getattr(pipe, "transformer", None)
    return (pipeline_backend(pipe) == "wan" and transformer is not None
            and transformer.config.get("pos_embed_seq_len") is not None)


def pipeline_size_multiple(pipe) -> int:
    """What both sides of this pipeline's frames must be multiples of: the VAE's spatial factor times the
    transformer's patch (16 for Wan 2.1, 32 for Wan2.2-TI2V-5B and LTX-Video)."""
    if pipeline_backend(pipe) == "ltx":
        return pipe.vae_spatial_compression_ratio * pipe.transformer_spatial_patch_size
    # Wan's patch is (time, height, width)
    return pipe.vae_scale_factor_spatial * pipe.transformer.config.patch_size[-1]


# One keyword-only argument per setting the prompted backends share, named as their pipelines name them.
def animate_image_with_prompt(pipe, image, prompt: str, *, max_side: int, num_frames: int,  # noqa: PLR0913
                              n_continuations: int, loop_video: bool | str, fps: int, guidance_scale: float,
                              negative_prompt: str | None, inference_steps: int, seed: int) -> list:
    """The frames of one animation by Wan or LTX-Video (PIL images, all of the fitted size), continued from each
    segment's last frame like Stable Video Diffusion's; or, in a seamless loop, segments that each go from the image
    back to it."""
    start = _fitted_image(image, max_side, pipeline_size_multiple(pipe))
    # LTX-Video is conditioned on the frame rate it will be played at; Wan has no such input.
    rate = {"frame_rate": fps} if pipeline_backend(pipe) == "ltx" else {}
    generator = generator_for(execution_device(pipe), seed)

    def segment(first, last=None):
        ending = {"last_image": last} if last is not None else {}
        return pipe(image=first, prompt=prompt, negative_prompt=negative_prompt, height=start.height,
                    width=start.width, num_frames=num_frames, num_inference_steps=inference_steps,
                    guidance_scale=guidance_scale, generator=generator, output_type="pil", **rate,
                    **ending).frames[0]

    return _continued(segment, start, n_continuations, loop_video)


# One keyword-only argument per Stable Video Diffusion setting, named as the pipeline names it.
def animate_image(pipe, image, *, max_side: int, num_frames: int, n_continuations: int,  # noqa: PLR0913
                  loop_video: bool, fps: int, decode_chunk_size: int, motion_bucket_id: int,
                  noise_aug_strength: float, inference_steps: int, seed: int) -> list:
    """The frames of one animation (PIL images, all of the fitted size)."""
    start = _fitted_image(image, max_side)
    generator = generator_for(execution_device(pipe), seed)

    def segment(first):
        # height and width always given: the pipeline otherwise assumes 576x1024 whatever the image
        return pipe(first, height=start.height, width=start.width, num_frames=num_frames,
                    num_inference_steps=inference_steps, decode_chunk_size=decode_chunk_size,
                    motion_bucket_id=motion_bucket_id, noise_aug_strength=noise_aug_strength, fps=fps,
                    generator=generator).frames[0]

    return _continued(segment, start, n_continuations, loop_video)


def loop_seam(frames: list) -> float:
    """How far a looped animation jumps where it starts again: the change from its last frame to its first (mean
    absolute difference of the pixels), in units of its median change between neighbouring frames. A seamless loop
    of a model that keeps to the frames it is given measures about 1; a forward-only animation of moving
    pictures, many times that."""
    import numpy as np

    pictures = [np.asarray(frame, dtype=np.float32) for frame in frames]
    steps = [np.abs(after - before).mean() for before, after in zip(pictures, pictures[1:], strict=False)]
    typical = float(np.median(steps)) if steps else 0.0
    seam = float(np.abs(pictures[0] - pictures[-1]).mean())
    if not typical:
        # frames that never change: no jump at all, or one without measure
        return 0.0 if not seam else float("inf")
    return seam / typical


def _fitted_image(image, max_side: int, multiple: int = 64):
    """The image resized to the animation's frame size (fit_video_size)."""
    from PIL import Image

    size = fit_video_size(image.width, image.height, max_side, multiple)
    return image.convert("RGB").resize(size, Image.Resampling.LANCZOS)


def _continued(segment, start, n_continuations: int, loop_video: bool | str) -> list:
    """n_continuations segments (`segment(first frame)` gives one's frames), each started from the previous one's
    last frame, whose repeat is dropped; then looped if asked. The caller's segment keeps one generator for all of
    them, so that a continuation's noise follows on from the segment before.

    A seamless loop (`segment(first, last)` ends on last) has every segment go from the image back to it, each
    through its own motion: each segment's last frame, the image's return, is dropped, as the next segment (or
    the loop) shows the image next."""
    if loop_video == SEAMLESS_LOOP:
        return [frame for _ in range(n_continuations) for frame in segment(start, start)[:-1]]
    frames: list = []
    for number in range(n_continuations):
        segment_frames = segment(start)
        frames += segment_frames if number == 0 else segment_frames[1:]
        start = segment_frames[-1]
    return loop_frames(frames) if loop_video else frames
