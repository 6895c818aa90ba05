"""A tiny, randomly initialised SDXL pipeline that loads like stabilityai/sdxl-turbo."""

import json
from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.tiny import seeded


def _byte_level_clip_tokenizer(folder: Path, pad_token: str):
    """A CLIP tokenizer with only byte-level pieces: no vocabulary file to download, yet the real class."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in printable]
    pieces = [chr(b) for b in printable] + [chr(256 + n) for n in range(len(extra))]
    vocab = {piece: i for i, piece in enumerate(pieces + [p + "</w>" for p in pieces])}
    vocab |= {"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    # model_max_length 77 like the real one: SDXL overflows an integer with the "infinite" default.
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77,
                         pad_token=pad_token)


def build_tiny_sdxl(out_dir: Path) -> None:
    """Save a tiny StableDiffusionXLPipeline (with an sdxl-turbo scheduler) into out_dir."""
    with atomic_path(Path(out_dir)) as folder:
        tokenizer = _byte_level_clip_tokenizer(folder / "tokenizer", "<|endoftext|>")
        tokenizer_2 = _byte_level_clip_tokenizer(folder / "tokenizer_2", "!")
        pipeline = seeded(lambda: _random_pipeline(tokenizer, tokenizer_2))
        pipeline.save_pretrained(folder)


def _random_pipeline(tokenizer, tokenizer_2):
    from diffusers import (
        AutoencoderKL,
        EulerAncestralDiscreteScheduler,
        StableDiffusionXLPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    # The special token ids must be the tokenizer's: CLIP pools the text embedding at the end-of-text token,
    # and the config's defaults (49406, 49407) lie outside this small vocabulary.
    text = {"hidden_size": 32, "intermediate_size": 37, "num_attention_heads": 4, "num_hidden_layers": 2,
            "vocab_size": len(tokenizer), "projection_dim": 32, "max_position_embeddings": 77,
            "bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id}
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, cross_attention_dim=64,
        # SDXL's micro-conditioning: 6 size/crop numbers embedded, plus the pooled text embedding
        addition_embed_type="text_time", addition_time_embed_dim=8, projection_class_embeddings_input_dim=6 * 8 + 32)
    # Four blocks, like the real VAE, so the latent is 8 times smaller than the image.
    vae = AutoencoderKL(block_out_channels=[32] * 4, down_block_types=["DownEncoderBlock2D"] * 4,
                        up_block_types=["UpDecoderBlock2D"] * 4, latent_channels=4, sample_size=64)
    # sdxl-turbo's scheduler: Euler ancestral over trailing timesteps, for 1-4 steps.
    scheduler = EulerAncestralDiscreteScheduler(timestep_spacing="trailing", beta_schedule="scaled_linear",
                                                beta_start=0.00085, beta_end=0.012, steps_offset=1)
    return StableDiffusionXLPipeline(
        vae=vae, text_encoder=CLIPTextModel(CLIPTextConfig(**text)),
        text_encoder_2=CLIPTextModelWithProjection(CLIPTextConfig(**text)), tokenizer=tokenizer,
        tokenizer_2=tokenizer_2, unet=unet, scheduler=scheduler)
