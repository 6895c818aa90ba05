"""Model code for text to image (SDXL-Turbo, SDXL, FLUX.1, SD3.5 through AutoPipelineForText2Image): load and
generate."""

from aibeats.image_families import Guidance, default_guidance, family_of_class
from aibeats.pretrained import execution_device, generator_for, place_pipeline, pretrained_options

# Every guidance setting at its family's default.
FAMILY_DEFAULTS = Guidance()


def load_image_pipeline(model_id: str, device: str, precision: str = "auto", offload: str = "none"):
    """The text-to-image pipeline of a hub id or a local folder, on the device (already resolved), offloaded as
    config `offload` asks (aibeats.pretrained.place_pipeline)."""
    from diffusers import AutoPipelineForText2Image

    options = pretrained_options(model_id, device, precision)
    pipe = place_pipeline(AutoPipelineForText2Image.from_pretrained(model_id, **options), device, offload)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def is_distilled(pipe) -> bool:
    """Whether a model was distilled to work without classifier-free guidance: FLUX.1-schnell has no guidance
    embedding (dev has one); SDXL-Turbo and SD-Turbo sample with trailing timesteps (the base models with leading
    ones); SD3.5's turbo shares its scheduler with the base, so only its name tells."""
    if hasattr(pipe, "transformer") and "guidance_embeds" in pipe.transformer.config:
        return not pipe.transformer.config.guidance_embeds
    if pipe.scheduler.config.get("timestep_spacing") == "trailing":
        return True
    return "turbo" in str(getattr(pipe, "name_or_path", "")).lower()


def generate_image(pipe, prompt: str, inference_steps: int, height: int, width: int, seed: int,
                   guidance: Guidance = FAMILY_DEFAULTS):
    """One image. Guidance scale None: the model's family default, 0 for a distilled model (SDXL-Turbo,
    FLUX.1-schnell: what every image was made with before the setting existed)."""
    family = family_of_class(type(pipe).__name__)
    multiple = family.size_multiple if family else 8
    if height % multiple or width % multiple:
        raise ValueError(f"image size {width}x{height} must be a multiple of {multiple} on both sides")
    scale = guidance.scale
    if scale is None:
        scale = default_guidance(family, is_distilled(pipe)) if family else 0.0
    options = {}
    if guidance.negative_prompt is not None:
        options["negative_prompt"] = guidance.negative_prompt
    if guidance.max_sequence_length is not None:
        options["max_sequence_length"] = guidance.max_sequence_length
    result = pipe(prompt=prompt, num_inference_steps=inference_steps, guidance_scale=scale, height=height,
                  width=width, generator=generator_for(execution_device(pipe), seed), **options)
    return result.images[0]
