"""A tiny, randomly initialised Stable Video Diffusion pipeline that loads like the real img2vid model."""

from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.tiny import seeded


def build_tiny_svd(out_dir: Path) -> None:
    """Save a tiny StableVideoDiffusionPipeline into out_dir."""
    with atomic_path(Path(out_dir)) as folder:
        pipeline = seeded(lambda: _random_pipeline())
        pipeline.save_pretrained(folder)


def _random_pipeline():
    from diffusers import (
        AutoencoderKLTemporalDecoder,
        EulerDiscreteScheduler,
        StableVideoDiffusionPipeline,
        UNetSpatioTemporalConditionModel,
    )
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=2, num_attention_heads=4, image_size=224,
        intermediate_size=37, patch_size=32))
    feature_extractor = CLIPImageProcessor(crop_size=224, size={"shortest_edge": 224})
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"), cross_attention_dim=32,
        num_attention_heads=(2, 4),
        # fps, motion bucket and noise strength, each embedded in addition_time_embed_dim numbers
        projection_class_embeddings_input_dim=3 * 8, addition_time_embed_dim=8)
    # Channels in multiples of 32: the temporal decoder hard-codes GroupNorm(32).
    vae = AutoencoderKLTemporalDecoder(block_out_channels=[32] * 4, down_block_types=["DownEncoderBlock2D"] * 4,
                                       latent_channels=4)
    # The real model's scheduler: v-prediction with Karras sigmas, and the UNet conditioned on log-sigma
    # (continuous timesteps) rather than on a discrete step number.
    scheduler = EulerDiscreteScheduler(prediction_type="v_prediction", use_karras_sigmas=True,
                                       timestep_type="continuous", timestep_spacing="leading",
                                       beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                       steps_offset=1, interpolation_type="linear", sigma_max=700.0, sigma_min=0.002)
    return StableVideoDiffusionPipeline(vae=vae, image_encoder=image_encoder, unet=unet, scheduler=scheduler,
                                        feature_extractor=feature_extractor)
