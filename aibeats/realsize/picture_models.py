"""The published architectures of the newer picture models (Wan, LTX-Video, FLUX.1, SD3.5), counted on the meta
device: no weights are allocated and nothing is downloaded, so the README's Hardware rows are computed, not copied.

Each config is the keyword arguments of the model's class as huggingface/diffusers' conversion scripts give them
(`scripts/convert_{wan,ltx,flux,sd3}_to_diffusers.py`), checked against the models' own repositories (Wan-Video's
`wan/configs/`, black-forest-labs/flux `src/flux/util.py`, open_clip's `ViT-H-14.json` and `ViT-bigG-14.json`).
"""

import importlib
from dataclasses import dataclass, field

T5_XXL = {"vocab_size": 32128, "d_model": 4096, "d_kv": 64, "d_ff": 10240, "num_layers": 24, "num_heads": 64,
          "feed_forward_proj": "gated-gelu", "tie_word_embeddings": False}
UMT5_XXL = {**T5_XXL, "vocab_size": 256384}
CLIP_L_TEXT = {"vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
               "num_attention_heads": 12, "max_position_embeddings": 77, "projection_dim": 768}
CLIP_BIG_G_TEXT = {"vocab_size": 49408, "hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32,
                   "num_attention_heads": 20, "max_position_embeddings": 77, "projection_dim": 1280}
VIT_H14 = {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32, "num_attention_heads": 16,
           "image_size": 224, "patch_size": 14, "projection_dim": 1024}
# FLUX.1's autoencoder, shared by SD3.5: 16 latent channels, no quantisation convolutions.
VAE_16 = {"down_block_types": ("DownEncoderBlock2D",) * 4, "up_block_types": ("UpDecoderBlock2D",) * 4,
          "block_out_channels": (128, 256, 512, 512), "layers_per_block": 2, "latent_channels": 16,
          "use_quant_conv": False, "use_post_quant_conv": False}
WAN_TRANSFORMER = {"attention_head_dim": 128, "cross_attn_norm": True, "freq_dim": 256, "patch_size": (1, 2, 2),
                   "qk_norm": "rms_norm_across_heads", "text_dim": 4096}


@dataclass(frozen=True)
class Part:
    name: str
    # "diffusers:Class" for a model built from keyword arguments; "transformers:Model:Config" from a config
    kind: str
    config: dict = field(repr=False)


T5_ENCODER = Part("text_encoder (T5-v1.1-xxl)", "transformers:T5EncoderModel:T5Config", T5_XXL)
MODELS = {
    "Wan2.1-I2V-14B": (
        Part("transformer", "diffusers:WanTransformer3DModel", {
            **WAN_TRANSFORMER, "num_attention_heads": 40, "num_layers": 40, "ffn_dim": 13824, "in_channels": 36,
            "out_channels": 16, "image_dim": 1280, "added_kv_proj_dim": 5120}),
        Part("vae", "diffusers:AutoencoderKLWan", {}),
        Part("text_encoder (umt5-xxl)", "transformers:UMT5EncoderModel:UMT5Config", UMT5_XXL),
        Part("image_encoder (ViT-H/14)", "transformers:CLIPVisionModelWithProjection:CLIPVisionConfig", VIT_H14)),
    "Wan2.2-TI2V-5B": (
        Part("transformer", "diffusers:WanTransformer3DModel", {
            **WAN_TRANSFORMER, "num_attention_heads": 24, "num_layers": 30, "ffn_dim": 14336, "in_channels": 48,
            "out_channels": 48}),
        Part("vae", "diffusers:AutoencoderKLWan", {
            "base_dim": 160, "decoder_base_dim": 256, "z_dim": 48, "is_residual": True, "in_channels": 12,
            "out_channels": 12, "patch_size": 2, "scale_factor_spatial": 16}),
        Part("text_encoder (umt5-xxl)", "transformers:UMT5EncoderModel:UMT5Config", UMT5_XXL)),
    "LTX-Video 0.9.1": (
        Part("transformer", "diffusers:LTXVideoTransformer3DModel", {}),
        Part("vae", "diffusers:AutoencoderKLLTXVideo", {
            "decoder_block_out_channels": (256, 512, 1024), "layers_per_block": (4, 3, 3, 3, 4),
            "decoder_layers_per_block": (5, 6, 7, 8), "decoder_spatio_temporal_scaling": (True, True, True),
            "decoder_inject_noise": (True, True, True, False), "upsample_residual": (True, True, True),
            "upsample_factor": (2, 2, 2), "timestep_conditioning": True}),
        T5_ENCODER),
    "FLUX.1-schnell": (
        Part("transformer", "diffusers:FluxTransformer2DModel", {"guidance_embeds": False}),
        Part("vae", "diffusers:AutoencoderKL", VAE_16),
        Part("text_encoder (CLIP-L)", "transformers:CLIPTextModel:CLIPTextConfig", CLIP_L_TEXT),
        T5_ENCODER),
    "FLUX.1-dev": (
        Part("transformer", "diffusers:FluxTransformer2DModel", {"guidance_embeds": True}),
        Part("vae", "diffusers:AutoencoderKL", VAE_16),
        Part("text_encoder (CLIP-L)", "transformers:CLIPTextModel:CLIPTextConfig", CLIP_L_TEXT),
        T5_ENCODER),
    "SD3.5 Large": (
        Part("transformer", "diffusers:SD3Transformer2DModel", {
            "sample_size": 128, "num_layers": 38, "attention_head_dim": 64, "num_attention_heads": 38,
            "caption_projection_dim": 2432, "pooled_projection_dim": 2048, "joint_attention_dim": 4096,
            "pos_embed_max_size": 192, "qk_norm": "rms_norm"}),
        Part("vae", "diffusers:AutoencoderKL", VAE_16),
        Part("text_encoder (CLIP-L)", "transformers:CLIPTextModelWithProjection:CLIPTextConfig", CLIP_L_TEXT),
        Part("text_encoder_2 (bigG)", "transformers:CLIPTextModelWithProjection:CLIPTextConfig", CLIP_BIG_G_TEXT),
        T5_ENCODER),
}


def part_model(part: Part):
    """A part's model, freshly initialised on torch's default device (the meta device allocates nothing)."""
    library, class_name, *config_class = part.kind.split(":")
    module = importlib.import_module(library)
    if config_class:
        return getattr(module, class_name)(getattr(module, config_class[0])(**part.config))
    return getattr(module, class_name)(**part.config)


def stored_values_of(model) -> int:
    """The numbers a model's checkpoint stores: its parameters and persistent buffers (SD3's position embedding
    is one)."""
    state = model.state_dict()
    buffers = sum(buffer.numel() for name, buffer in model.named_buffers() if name in state)
    return sum(parameter.numel() for parameter in model.parameters()) + buffers


def stored_values(part: Part) -> int:
    """What a part's checkpoint stores, counted on the meta device."""
    import torch

    with torch.device("meta"):
        return stored_values_of(part_model(part))
