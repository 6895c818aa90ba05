"""The newer picture models in the GPU check: FLUX.1-schnell and SD3.5 Large for images, Wan2.2-TI2V-5B and
LTX-Video 0.9.1 for animations, at the settings a user runs them with (presets/open-licence.yaml for FLUX.1-schnell
and Wan, the model cards for SD3.5 Large and LTX-Video).

On the GPU: each model's published architecture (aibeats.realsize.picture_models) built on the device with random
weights, in the pipeline of the model's tiny build (aibeats.tiny) with every weighted part replaced, so that the
tiny folder gives only what has no weights (tokenizers, scheduler, image processor, the pipeline's settings). In a
dry run: the tiny model, as the workflow loads it.

An animation at its real size takes minutes (Wan2.2-TI2V-5B: 30 steps over 121 frames at 1280x704), more than a
call of the check has: it is timed at 2 and at 4 steps (LTX-Video's scheduler takes no fewer than 2), and its time
at the real steps is the 2-step time plus each further step at half the difference. Images are timed whole.
"""

from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.gpu.models import on_device, tiny_folder

# The steps a video model is timed at: the item at the real steps is extrapolated from these two.
VIDEO_STEPS_TIMED = (2, 4)
PROMPT = "lo-fi beats, mystical landscape, digital art"
MOTION_PROMPT = "slow camera drift"
NEGATIVE_PROMPT = "static, blurry, text, watermark"


@dataclass(frozen=True)
class PictureModel:
    published: str  # its key in aibeats.realsize.picture_models.MODELS
    tiny: str  # the aibeats.tiny family whose folder gives the parts without weights
    stage: str  # "image" or "video"
    # The pipeline argument each published part fills, in the order of MODELS[published]
    slots: tuple[str, ...]
    settings: dict  # an item at the real settings
    dry_run_settings: dict  # and in a dry run, at the demo's sizes
    # Config values a part needs in a pipeline that leave its architecture as published, by slot
    config_overrides: dict = field(default_factory=dict)


_WAN_LATENT_CHANNELS = 48
PICTURE_MODELS = {
    "flux": PictureModel(
        "FLUX.1-schnell", "flux", "image", ("transformer", "vae", "text_encoder", "text_encoder_2"),
        {"height": 576, "width": 1024, "steps": 4, "max_sequence_length": 256},
        {"height": 64, "width": 128, "steps": 2}),
    "sd3": PictureModel(
        "SD3.5 Large", "sd3", "image", ("transformer", "vae", "text_encoder", "text_encoder_2", "text_encoder_3"),
        {"height": 576, "width": 1024, "steps": 28, "negative_prompt": NEGATIVE_PROMPT},
        {"height": 64, "width": 128, "steps": 2, "negative_prompt": NEGATIVE_PROMPT}),
    "ltx": PictureModel(
        "LTX-Video 0.9.1", "ltx", "video", ("transformer", "vae", "text_encoder"),
        {"num_frames": 121, "max_side": 768, "steps": 50, "fps": 24, "guidance_scale": 3.0},
        {"num_frames": 9, "max_side": 128, "steps": 4, "fps": 24, "guidance_scale": 3.0}),
    "wan": PictureModel(
        "Wan2.2-TI2V-5B", "wan-ti2v", "video", ("transformer", "vae", "text_encoder"),
        {"num_frames": 121, "max_side": 1280, "steps": 30, "fps": 24, "guidance_scale": 5.0},
        {"num_frames": 5, "max_side": 128, "steps": 4, "fps": 24, "guidance_scale": 5.0},
        # The published latent statistics are 48 numbers that only shift and scale the latents (the class's
        # defaults are Wan 2.1's 16): for random weights, none.
        {"vae": {"latents_mean": [0.0] * _WAN_LATENT_CHANNELS, "latents_std": [1.0] * _WAN_LATENT_CHANNELS}}),
}


def full_size_picture_pipeline(name: str, device: str, dtype, scratch: Path):
    """A picture model's published architecture with random weights on the device, in dtype, in the pipeline
    class the workflow loads it with."""
    import diffusers

    from aibeats.animation import video_pipeline_class
    from aibeats.realsize.picture_models import MODELS, part_model

    model = PICTURE_MODELS[name]
    parts = {}
    for slot, part in zip(model.slots, MODELS[model.published], strict=True):
        part = replace(part, config={**part.config, **model.config_overrides.get(slot, {})})
        # built in fp32 and then cast, as a checkpoint is loaded, one part at a time
        parts[slot] = on_device(device, lambda part=part: part_model(part)).to(dtype).eval()
    folder = tiny_folder(model.tiny, scratch)
    # Through the workflow's own choice of class: AutoPipelineForText2Image for images (aibeats.images), the
    # backend's image-to-video class for videos (aibeats.animation)
    if model.stage == "image":
        pipe = diffusers.AutoPipelineForText2Image.from_pretrained(folder, **parts)
    else:
        pipe = getattr(diffusers, video_pipeline_class(str(folder))).from_pretrained(folder, **parts)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_picture_pipeline(name: str, precision: str, scratch: Path):
    """A picture model's tiny build, loaded on the CPU as a job would load it."""
    from aibeats.stages import load_model

    model = PICTURE_MODELS[name]
    return load_model(model.stage, str(tiny_folder(model.tiny, scratch)), "cpu", precision)


def measure_picture_image(device, pipe, settings: dict, result, timed) -> None:
    """One image at the real settings, after a 1-step warm-up."""
    from aibeats import images
    from aibeats.image_families import Guidance

    guidance = Guidance(negative_prompt=settings.get("negative_prompt"),
                        max_sequence_length=settings.get("max_sequence_length"))

    def image(steps: int):
        return images.generate_image(pipe, PROMPT, steps, settings["height"], settings["width"], 42, guidance)

    image(1)
    device.reset_peak()
    made, seconds = timed(device, lambda: image(settings["steps"]))
    result.seconds_per_item[f"image {made.width}x{made.height}, {settings['steps']} steps"] = seconds


def measure_picture_video(device, pipe, settings: dict, result, timed) -> None:
    """An animation of a 1024x576 picture timed at 2 and 4 steps and extrapolated to the real steps, after a
    warm-up at the same size with one latent frame's worth of frames."""
    import numpy as np
    from PIL import Image

    from aibeats import animation
    from aibeats.video_backends import BACKENDS

    start = Image.fromarray(np.random.default_rng(42).integers(0, 256, (576, 1024, 3), dtype=np.uint8))
    frame_step = BACKENDS[animation.pipeline_backend(pipe)].frame_step

    def animate(steps: int, num_frames: int):
        return animation.animate_image_with_prompt(
            pipe, start, f"{PROMPT}, {MOTION_PROMPT}", max_side=settings["max_side"], num_frames=num_frames,
            n_continuations=1, loop_video=False, fps=settings["fps"], guidance_scale=settings["guidance_scale"],
            negative_prompt=NEGATIVE_PROMPT, inference_steps=steps, seed=42)

    animate(VIDEO_STEPS_TIMED[0], frame_step + 1)
    device.reset_peak()
    fewer, more = VIDEO_STEPS_TIMED
    frames, at_fewer = timed(device, lambda: animate(fewer, settings["num_frames"]))
    at_more = timed(device, lambda: animate(more, settings["num_frames"]))[1]
    per_step = (at_more - at_fewer) / (more - fewer)
    width, height = frames[0].size
    item = f"animation {width}x{height}, {len(frames)} frames"
    result.seconds_per_item[f"{item}, {fewer} steps"] = at_fewer
    result.seconds_per_item[f"{item}, each step more"] = per_step
    result.seconds_per_item[f"{item}, {settings['steps']} steps (from the two above)"] = \
        at_fewer + (settings["steps"] - fewer) * per_step
