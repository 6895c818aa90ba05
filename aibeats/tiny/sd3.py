"""A tiny, randomly initialised Stable Diffusion 3 pipeline that loads like
stabilityai/stable-diffusion-3-medium-diffusers.

It keeps SD3's wiring at a tiny width: two CLIP text encoders with projections (CLIP-L and CLIP-G; their pooled
projections concatenated are the transformer's pooled input, 768 + 1280 = 2048 in the real model), a T5-v1.1
encoder whose width is the joint attention width (the CLIP hidden states, concatenated, are zero-padded up to it,
so it must be at least their sum), an SD3Transformer2DModel with 2x2 patches over a 16-channel latent, a
four-block AutoencoderKL (scale factor 8) and SD3's flow-matching scheduler. Sizes must be multiples of 16 (the
VAE's 8 times the patch size 2): the pipeline raises otherwise.
"""

from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.tiny import seeded
from aibeats.tiny.flux import _clip_text_config, _four_block_vae, _offline_t5_tokenizer, _t5_encoder

# SD3's VAE: 16 latent channels, no quant convs, and its own latent normalisation.
LATENT_CHANNELS = 16
VAE_SHIFT_FACTOR = 0.0609
VAE_SCALING_FACTOR = 1.5305
# Two CLIP widths that differ, as CLIP-L's and CLIP-G's do, so that a mix-up of the two shows as a shape error.
CLIP_L_WIDTH = 16
CLIP_G_WIDTH = 32
# At least CLIP_L_WIDTH + CLIP_G_WIDTH, as T5's 4096 is at least 768 + 1280.
T5_WIDTH = 64


def build_tiny_sd3(out_dir: Path) -> None:
    """Save a tiny StableDiffusion3Pipeline (SD3-medium's layout) into out_dir."""
    from aibeats.tiny.sdxl import _byte_level_clip_tokenizer

    with atomic_path(Path(out_dir)) as folder:
        tokenizer = _byte_level_clip_tokenizer(folder / "tokenizer", "<|endoftext|>")
        # CLIP-G's tokenizer pads with "!" in the real repository, as SDXL's second one does.
        tokenizer_2 = _byte_level_clip_tokenizer(folder / "tokenizer_2", "!")
        tokenizer_3 = _offline_t5_tokenizer(model_max_length=512)
        pipeline = seeded(lambda: _random_pipeline(tokenizer, tokenizer_2, tokenizer_3))
        pipeline.save_pretrained(folder)


def _random_pipeline(tokenizer, tokenizer_2, tokenizer_3):
    from diffusers import FlowMatchEulerDiscreteScheduler, SD3Transformer2DModel, StableDiffusion3Pipeline
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection

    transformer = SD3Transformer2DModel(
        # sample_size 128 latents: the pipeline's default size is 128 * 8 = 1024 pixels, as with the real model.
        sample_size=128, patch_size=2, in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS, num_layers=2,
        attention_head_dim=16, num_attention_heads=2, caption_projection_dim=32,
        joint_attention_dim=T5_WIDTH, pooled_projection_dim=CLIP_L_WIDTH + CLIP_G_WIDTH,
        # The position table is saved with the weights (192 x 192 in the real model, up to 3072 pixels); 64 x 64
        # still reaches the default 1024 pixels while keeping the folder small.
        pos_embed_max_size=64)
    # SD3-medium's scheduler: flow matching with a fixed shift of 3.
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0)
    text_encoder = CLIPTextModelWithProjection(CLIPTextConfig(
        **_clip_text_config(tokenizer, CLIP_L_WIDTH, CLIP_L_WIDTH)))
    text_encoder_2 = CLIPTextModelWithProjection(CLIPTextConfig(
        **_clip_text_config(tokenizer_2, CLIP_G_WIDTH, CLIP_G_WIDTH)))
    return StableDiffusion3Pipeline(
        transformer=transformer, scheduler=scheduler,
        vae=_four_block_vae(LATENT_CHANNELS, VAE_SHIFT_FACTOR, VAE_SCALING_FACTOR),
        text_encoder=text_encoder, tokenizer=tokenizer, text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2,
        text_encoder_3=_t5_encoder(len(tokenizer_3), T5_WIDTH), tokenizer_3=tokenizer_3,
        image_encoder=None, feature_extractor=None)
