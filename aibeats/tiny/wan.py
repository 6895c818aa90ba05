"""Tiny, randomly initialised Wan image-to-video pipelines, laid out like Wan-AI/Wan2.1-I2V-14B-480P-Diffusers
(`build_tiny_wan_i2v`), Wan-AI/Wan2.1-FLF2V-14B-720P-Diffusers (`build_tiny_wan_flf2v`) and
Wan-AI/Wan2.2-TI2V-5B-Diffusers (`build_tiny_wan_ti2v`).

Both keep the real structure at a tiny width: a UMT5 text encoder (its sequence always padded to 512 tokens), a
WanTransformer3DModel over 1x2x2 patches, a causal 3D VAE that shrinks time 4 times (videos have 4k+1 frames; the
pipeline turns another count n into 4*(n//4)+1, with a warning) and the UniPC flow-matching scheduler of the
published repos. Both pipelines refuse sides that are not multiples of 16.

Wan 2.1 I2V: 16 latent channels, 8 times smaller frames, so sides are multiples of 16 (8 x the patch's 2). The
image also goes through a CLIP vision encoder whose penultimate hidden states the transformer reads through extra
key/value projections in every cross-attention (`added_kv_proj_dim`): those split the context as "everything but
the last 512 tokens is image", so keep max_sequence_length at 512, the default (a shorter one raises nothing but
sends the image tokens through the text projections).

Wan 2.1 FLF2V (first and last frame): the I2V model whose transformer reads two images' CLIP tokens, told
apart by a learnt position embedding over both (`pos_embed_seq_len`, 2 x 257 in the real one); the pipeline then
conditions the video's last frame on `last_image` as it does its first on `image`. A plain I2V model given a
last image fails in the transformer (twice the image tokens it was made for).

Wan 2.2 TI2V-5B: no image encoder; a VAE with 48 latent channels that patchifies 2x2 before three halvings (16
times smaller frames, so sides should be multiples of 32: the pipeline rounds others down with a warning, and 16
down to 0, which fails), and `expand_timesteps`: the first latent frame is the encoded image, held clean by a
per-token timestep of 0 (`last_image` is ignored). Saved as the published repository is, as a WanPipeline (text to
video) that WanImageToVideoPipeline.from_pretrained also loads.

Prompts need the `ftfy` package: Wan's prompt cleaning calls it unconditionally.
"""

import json
from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.tiny import seeded
from aibeats.tiny.flux import _offline_t5_tokenizer

TEXT_WIDTH = 32
# Wan's text context: the pipelines pad every prompt to 512 tokens, and the I2V attention relies on that length.
TEXT_LENGTH = 512
# Two heads of 12: the rotary embedding splits each head into time, height and width parts (4 + 4 + 4 here,
# 44 + 42 + 42 in the real 128-wide heads).
HEADS = 2
HEAD_DIM = 12
IMAGE_ENCODER_WIDTH = 16
# OpenCLIP ViT-H/14's input size (224) with far larger patches: 4 x 4 patches and the class token.
IMAGE_SIZE, IMAGE_PATCH = 224, 56
IMAGE_TOKENS = (IMAGE_SIZE // IMAGE_PATCH) ** 2 + 1


def build_tiny_wan_i2v(out_dir: Path) -> None:
    """Save a tiny Wan 2.1 image-to-video WanImageToVideoPipeline into out_dir."""
    _build(out_dir, _random_i2v_pipeline)


def build_tiny_wan_flf2v(out_dir: Path) -> None:
    """Save a tiny Wan 2.1 first-last-frame-to-video WanImageToVideoPipeline into out_dir."""
    _build(out_dir, lambda tokenizer: _random_i2v_pipeline(tokenizer, first_last=True))


def build_tiny_wan_ti2v(out_dir: Path) -> None:
    """Save a tiny Wan 2.2 TI2V-5B pipeline (text or image to video) into out_dir."""
    _build(out_dir, _random_ti2v_pipeline)


def _build(out_dir: Path, random_pipeline) -> None:
    with atomic_path(Path(out_dir)) as folder:
        tokenizer = _offline_t5_tokenizer(model_max_length=TEXT_LENGTH)
        pipeline = seeded(lambda: random_pipeline(tokenizer))
        pipeline.save_pretrained(folder)
        _record_processor_as_published(folder / "model_index.json")


def _record_processor_as_published(model_index: Path) -> None:
    """Name the image processor CLIPImageProcessor, as the published repository does.

    Without torchvision, transformers hands out CLIPImageProcessorPil and the saved model_index names that class,
    so the folder would depend on the machine that built it. transformers.CLIPImageProcessor loads the same saved
    settings on either kind of machine (as the PIL variant where torchvision is missing).
    """
    index = json.loads(model_index.read_text())
    if index.get("image_processor", [None])[0] == "transformers":
        index["image_processor"] = ["transformers", "CLIPImageProcessor"]
        model_index.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")


def _umt5_encoder(vocab_size: int):
    from transformers import UMT5Config, UMT5EncoderModel

    # umt5-xxl's shape at a tiny width: gated GELU, untied embeddings, pad 0 and end of sequence 1.
    config = UMT5Config(vocab_size=vocab_size, d_model=TEXT_WIDTH, d_kv=8, d_ff=2 * TEXT_WIDTH, num_layers=2,
                        num_heads=TEXT_WIDTH // 8, feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                        pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    return UMT5EncoderModel(config)


def _scheduler(flow_shift: float):
    from diffusers import UniPCMultistepScheduler

    # The published repos' scheduler: UniPC over flow-matching sigmas, the model predicting the flow.
    return UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True, num_train_timesteps=1000,
                                   flow_shift=flow_shift)


def _transformer(in_channels: int, out_channels: int, image_dim: int | None, **first_last):
    from diffusers import WanTransformer3DModel

    inner_dim = HEADS * HEAD_DIM
    return WanTransformer3DModel(**first_last,
        patch_size=(1, 2, 2), num_attention_heads=HEADS, attention_head_dim=HEAD_DIM, in_channels=in_channels,
        out_channels=out_channels, text_dim=TEXT_WIDTH, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, image_dim=image_dim,
        # The real I2V model projects the image tokens to keys and values at its own width (5120).
        added_kv_proj_dim=inner_dim if image_dim is not None else None)


def _random_i2v_pipeline(tokenizer, first_last: bool = False):
    from diffusers import AutoencoderKLWan, WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    # 16 latent channels; Wan 2.1's latent mean and std are the class defaults. Four levels, three halvings in
    # space (8 times), two of them also in time (4 times). The pipeline takes the scale factors from the config
    # values, not from the layers, so those are stated to agree.
    vae = AutoencoderKLWan(base_dim=4, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True], scale_factor_spatial=8, scale_factor_temporal=4)
    # The transformer's input: 16 noisy channels, 4 channels of the first-frame mask (one per frame of a 4-frame
    # latent step) and the 16 channels of the encoded conditioning video.
    # FLF2V: the first and the last image's tokens, in one sequence with a position embedding of its own.
    two_images = {"pos_embed_seq_len": 2 * IMAGE_TOKENS} if first_last else {}
    transformer = _transformer(in_channels=16 + 4 + 16, out_channels=16, image_dim=IMAGE_ENCODER_WIDTH, **two_images)
    image_encoder = CLIPVisionModel(CLIPVisionConfig(
        hidden_size=IMAGE_ENCODER_WIDTH, intermediate_size=2 * IMAGE_ENCODER_WIDTH, num_hidden_layers=2,
        num_attention_heads=2, image_size=IMAGE_SIZE, patch_size=IMAGE_PATCH))
    image_processor = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    # The 480P model's flow shift (720P uses 5).
    return WanImageToVideoPipeline(tokenizer=tokenizer, text_encoder=_umt5_encoder(len(tokenizer)), vae=vae,
                                   scheduler=_scheduler(flow_shift=3.0), image_processor=image_processor,
                                   image_encoder=image_encoder, transformer=transformer)


def _random_ti2v_pipeline(tokenizer):
    from diffusers import AutoencoderKLWan, WanPipeline

    z_dim = 48
    vae = AutoencoderKLWan(
        # Wan 2.2's VAE: residual blocks and a 2x2 patchify (12 = 3 colours x 4) before three halvings, so frames
        # shrink 16 times; a wider decoder than encoder (256 against 160 in the real one).
        base_dim=4, decoder_base_dim=8, z_dim=z_dim, is_residual=True, in_channels=12, out_channels=12, patch_size=2,
        dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True], scale_factor_spatial=16,
        scale_factor_temporal=4,
        # The published per-channel statistics would only shift and scale random latents: identity instead.
        latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim)
    # No image channels: the encoded image replaces the first latent frame instead of being concatenated.
    transformer = _transformer(in_channels=z_dim, out_channels=z_dim, image_dim=None)
    # TI2V-5B's flow shift, as the published conversion sets it.
    return WanPipeline(tokenizer=tokenizer, text_encoder=_umt5_encoder(len(tokenizer)), vae=vae,
                       scheduler=_scheduler(flow_shift=5.0), transformer=transformer, expand_timesteps=True)
