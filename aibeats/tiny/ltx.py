"""A tiny, randomly initialised LTX-Video image-to-video pipeline, laid out like Lightricks' LTX-Video 0.9.1 in
diffusers format.

What is kept from the real model: 128 latent channels; a VAE that shrinks frames 32 times (a 4x4 patchify, then
three spatio-temporal halvings) and time 8 times (the same three halvings), so sides must be multiples of 32 (the
pipeline raises otherwise) and a video has 8k+1 frames (asked for n, it silently gives 8*((n-1)//8)+1); 0.9.1's
decoder, which is conditioned on a decode timestep and adds noise (the pipeline's `decode_timestep` and
`decode_noise_scale` then matter); a transformer over 1x1x1 patches whose cross-attention reads a T5-v1.1 encoder
through a caption projection; and the resolution-shifted flow-matching scheduler. Only widths and depths are tiny.
"""

from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.tiny import seeded
from aibeats.tiny.flux import _offline_t5_tokenizer, _t5_encoder

LATENT_CHANNELS = 128
T5_WIDTH = 32
# LTX's tokenizer is saved with a 128-token limit, the pipeline's default max_sequence_length.
TOKENIZER_MAX_LENGTH = 128


def build_tiny_ltx(out_dir: Path) -> None:
    """Save a tiny LTXImageToVideoPipeline into out_dir."""
    with atomic_path(Path(out_dir)) as folder:
        tokenizer = _offline_t5_tokenizer(model_max_length=TOKENIZER_MAX_LENGTH)
        pipeline = seeded(lambda: _random_pipeline(tokenizer))
        pipeline.save_pretrained(folder)


def _random_pipeline(tokenizer):
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )

    transformer = LTXVideoTransformer3DModel(
        in_channels=LATENT_CHANNELS, out_channels=LATENT_CHANNELS, patch_size=1, patch_size_t=1,
        num_attention_heads=2, attention_head_dim=16,
        # The cross-attention works at the model's own width (2048 = 32 heads x 64 in the real one); the caption
        # projection maps T5's width to it.
        cross_attention_dim=32, caption_channels=T5_WIDTH, num_layers=2,
        qk_norm="rms_norm_across_heads", norm_elementwise_affine=False, attention_bias=True,
        attention_out_bias=True)
    vae = AutoencoderKLLTXVideo(
        latent_channels=LATENT_CHANNELS,
        # Encoder: three halvings of time, height and width (the fourth block keeps its size), after a 4x4 patchify:
        # 4 * 2**3 = 32 in space, 2**3 = 8 in time. Four blocks plus the mid block, as in the real encoder.
        block_out_channels=(8, 8, 16, 16), layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, True, False), patch_size=4, patch_size_t=1,
        # 0.9.1's decoder: three upsampling blocks with residual depth-to-space upsampling, noise injected in the
        # first three stages, and the whole decoder conditioned on the decode timestep.
        decoder_block_out_channels=(8, 16, 32), decoder_layers_per_block=(1, 1, 1, 1),
        decoder_spatio_temporal_scaling=(True, True, True), decoder_inject_noise=(True, True, True, False),
        upsample_residual=(True, True, True), upsample_factor=(2, 2, 2), timestep_conditioning=True,
        encoder_causal=True, decoder_causal=False)
    # 0.9.1's scheduler: the shift grows with the number of latent tokens (mu from calculate_shift).
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05,
                                                base_image_seq_len=1024, max_image_seq_len=4096, shift_terminal=0.1)
    return LTXImageToVideoPipeline(scheduler=scheduler, vae=vae, text_encoder=_t5_encoder(len(tokenizer), T5_WIDTH),
                                   tokenizer=tokenizer, transformer=transformer)
