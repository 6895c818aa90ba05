"""A tiny, randomly initialised FLUX pipeline that loads like black-forest-labs/FLUX.1-schnell.

It has the real model's structure at a tiny width: a FluxTransformer2DModel over 2x2-packed latents, a 16-channel
AutoencoderKL with four blocks (so the latent is 8 times smaller than the image), CLIP-L for the pooled embedding,
T5-v1.1 for the sequence, and schnell's flow-matching scheduler. Like schnell (and unlike FLUX.1-dev) it has no
guidance embedding, so `guidance_scale` changes nothing; dev would set guidance_embeds=True and dynamic shifting.
Sizes must be multiples of 16 (the VAE's 8 times the 2x2 packing); other sizes are rounded down with a warning.

This module also holds the offline T5 tokenizer that the LTX, SD3 and Wan builders share.
"""

from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.tiny import seeded

# FLUX's VAE: 16 latent channels, no quant convs, and its own latent normalisation (shift then scale).
LATENT_CHANNELS = 16
VAE_SHIFT_FACTOR = 0.1159
VAE_SCALING_FACTOR = 0.3611
CLIP_WIDTH = 32
T5_WIDTH = 32

# Enough pieces to tokenize any ASCII prompt: words fall back to single characters, each piece a real id.
_CHARACTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-,.'!?:;()\"&/"


def _offline_t5_tokenizer(model_max_length: int):
    """A T5 tokenizer built from a list of pieces: no sentencepiece file to download, yet the real class.

    The special tokens sit where T5-v1.1's and UMT5's do (pad 0, end of sequence 1, unknown 2), so the text
    encoders' pad and end-of-sequence ids are the real ones too.
    """
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [(character, -3.0) for character in _CHARACTERS]
    pieces += [("\u2581" + character, -2.5) for character in _CHARACTERS]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=model_max_length)


def _t5_encoder(vocab_size: int, width: int):
    """A T5-v1.1-shaped encoder (gated GELU, untied embeddings) of the given width."""
    from transformers import T5Config, T5EncoderModel

    config = T5Config(vocab_size=vocab_size, d_model=width, d_kv=8, d_ff=2 * width, num_layers=2,
                      num_heads=width // 8, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                      pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    return T5EncoderModel(config)


def _clip_text_config(tokenizer, width: int, projection_dim: int) -> dict:
    # The special token ids must be the tokenizer's: CLIP pools the text embedding at the end-of-text token,
    # and the config's defaults (49406, 49407) lie outside this small vocabulary.
    return {"hidden_size": width, "intermediate_size": 2 * width, "num_attention_heads": 4, "num_hidden_layers": 2,
            "vocab_size": len(tokenizer), "projection_dim": projection_dim, "max_position_embeddings": 77,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}


def _four_block_vae(latent_channels: int, shift_factor: float, scaling_factor: float):
    """The FLUX/SD3 image VAE at a tiny width: four blocks, so the pipelines' scale factor 2**(4-1) is 8."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(block_out_channels=[32] * 4, down_block_types=["DownEncoderBlock2D"] * 4,
                         up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=latent_channels,
                         sample_size=1024, use_quant_conv=False, use_post_quant_conv=False,
                         shift_factor=shift_factor, scaling_factor=scaling_factor)


def build_tiny_flux(out_dir: Path) -> None:
    """Save a tiny FluxPipeline (FLUX.1-schnell's layout) into out_dir."""
    from aibeats.tiny.sdxl import _byte_level_clip_tokenizer

    with atomic_path(Path(out_dir)) as folder:
        tokenizer = _byte_level_clip_tokenizer(folder / "tokenizer", "<|endoftext|>")
        # schnell's T5 tokenizer: up to 512 tokens (the pipeline refuses a longer max_sequence_length).
        tokenizer_2 = _offline_t5_tokenizer(model_max_length=512)
        pipeline = seeded(lambda: _random_pipeline(tokenizer, tokenizer_2))
        pipeline.save_pretrained(folder)


def _random_pipeline(tokenizer, tokenizer_2):
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline, FluxTransformer2DModel
    from transformers import CLIPTextConfig, CLIPTextModel

    transformer = FluxTransformer2DModel(
        # The pipeline packs 2x2 latent patches itself: 16 channels * 4 = 64 in, patch_size 1 in the model.
        patch_size=1, in_channels=LATENT_CHANNELS * 4, num_layers=1, num_single_layers=1,
        attention_head_dim=16, num_attention_heads=2,
        # The text widths the pipeline feeds in: T5's sequence and CLIP's pooled output.
        joint_attention_dim=T5_WIDTH, pooled_projection_dim=CLIP_WIDTH,
        # schnell is timestep-distilled without a guidance input (dev has guidance_embeds=True).
        guidance_embeds=False,
        # The 3 rotary axes (text/frame index, height, width) must add up to the head dim, like (16, 56, 56).
        axes_dims_rope=(4, 6, 6))
    # schnell's scheduler: a fixed shift of 1 and no resolution-dependent shifting, for 1-4 steps.
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=1.0, use_dynamic_shifting=False,
                                                base_shift=0.5, max_shift=1.15, base_image_seq_len=256,
                                                max_image_seq_len=4096)
    text_encoder = CLIPTextModel(CLIPTextConfig(**_clip_text_config(tokenizer, CLIP_WIDTH, CLIP_WIDTH)))
    return FluxPipeline(
        scheduler=scheduler, vae=_four_block_vae(LATENT_CHANNELS, VAE_SHIFT_FACTOR, VAE_SCALING_FACTOR),
        text_encoder=text_encoder, tokenizer=tokenizer,
        text_encoder_2=_t5_encoder(len(tokenizer_2), T5_WIDTH), tokenizer_2=tokenizer_2,
        transformer=transformer, image_encoder=None, feature_extractor=None)
