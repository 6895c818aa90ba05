"""Model code for text to image (SDXL-Turbo through AutoPipelineForText2Image): load and generate."""

from aibeats.pretrained import generator_for, pretrained_options


def load_image_pipeline(model_id: str, device: str, precision: str = "auto"):
    """The text-to-image pipeline of a hub id or a local folder, on the device (already resolved)."""
    from diffusers import AutoPipelineForText2Image

    options = pretrained_options(model_id, device, precision)
    pipe = AutoPipelineForText2Image.from_pretrained(model_id, **options).to(device)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def generate_image(pipe, prompt: str, inference_steps: int, height: int, width: int, seed: int):
    """One image; guidance is off, as SDXL-Turbo was distilled to work without it."""
    if height % 8 or width % 8:
        raise ValueError(f"image size {width}x{height} must be a multiple of 8 on both sides")
    result = pipe(prompt=prompt, num_inference_steps=inference_steps, guidance_scale=0.0, height=height, width=width,
                  generator=generator_for(str(pipe.device), seed))
    return result.images[0]
