"""A tiny, randomly initialised ACE-Step 1.5 pipeline that loads like ACE-Step/acestep-v15-xl-turbo-diffusers.

It keeps the real structure at a tiny width: an Oobleck VAE for 48 kHz stereo with the real hop of
2*4*4*6*10 = 1920 samples (25 latent frames a second), a Qwen3 text encoder (Qwen3-Embedding-0.6B's class, read
through its last hidden state for the caption and its embedding table alone for the lyrics), the condition encoder
(lyric and timbre encoders, the learnt null condition and the VAE's encoding of silence), the DiT over 2-frame
patches, the 5 Hz audio tokenizer and detokenizer that the cover task needs, and the flow-matching Euler scheduler
that the pipeline drives with its own sigmas.

What is smaller besides the widths: the latent has 8 channels rather than 64, because the Oobleck encoder's width
is twice the latent's and runs at the full 48 kHz, so 64 channels would cost seconds a clip on a CPU; the VAE's
channel multiples are flat (1 rather than 1..16). Like the XL turbo, the DiT is wider than the condition encoder
(48 against 32 here, 2560 against 2048 there) and is a turbo model: guidance is distilled, so the pipeline ignores
`guidance_scale` above 1 (with a warning: pass guidance_scale=1.0) and 8 steps is its default.
"""

import math
from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.tiny import seeded

SAMPLING_RATE = 48000
# The real VAE's hop: 1920 samples, 25 latent frames a second.
DOWNSAMPLING_RATIOS = [2, 4, 4, 6, 10]
HOP = math.prod(DOWNSAMPLING_RATIOS)
# Enough silence for a middle frame that the edges do not reach (see _condition_encoder).
SILENCE_FRAMES = 16
LATENT_CHANNELS = 8
TEXT_WIDTH = 32
ENCODER_WIDTH = 32
DIT_WIDTH = 48
HEAD_DIM = 8
# The real sliding window and rotary base of every ACE-Step attention stack.
SLIDING_WINDOW = 128
ROPE_THETA = 1_000_000.0
# Qwen's special tokens; the pipeline's templates end each text with <|endoftext|>.
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Words of typical captions and lyrics headers, kept whole like the template's words (see _word_merges).
_CAPTION_WORDS = ("lo-fi hip hop beat piano drums bass guitar synth jazz ambient pop rock electronic chill "
                  "melody vocals soft upbeat dreamy major minor [verse] [chorus] [bridge] # Languages en Lyric")


def build_tiny_ace_step(out_dir: Path) -> None:
    """Save a tiny AceStepPipeline (the XL turbo's layout) into out_dir."""
    with atomic_path(Path(out_dir)) as folder:
        pipeline = seeded(lambda: _random_pipeline(_offline_qwen_tokenizer()))
        pipeline.save_pretrained(folder)


def _byte_symbols() -> list[str]:
    """The 256 byte-level BPE symbols in byte order (GPT-2's mapping, which Qwen's tokenizer uses): printable
    bytes stand for themselves, the others for the characters from U+0100 on."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(others)) for b in range(256)]


def _word_merges(tokenizer, text: str) -> list[tuple[str, str]]:
    """BPE merges that build each word of text (as the tokenizer splits it) whole, left to right.

    With bytes alone the pipeline's prompt template would take some 170 tokens (about 50 with whole words, as with
    Qwen's real vocabulary), and its 256-token limit would cut the bpm, key and duration off any caption longer
    than some 80 characters.
    """
    merges = []
    for piece, _ in tokenizer.backend_tokenizer.pre_tokenizer.pre_tokenize_str(text):
        merges += [(piece[:end - 1], piece[end - 1]) for end in range(2, len(piece) + 1)]
    return list(dict.fromkeys(merges))


def _offline_qwen_tokenizer():
    """Qwen's byte-level BPE tokenizer (the real class) over every byte, the words of ACE-Step's prompt templates
    and Qwen's special tokens: nothing to download."""
    from diffusers.pipelines.ace_step import pipeline_ace_step as ace
    from transformers import Qwen2Tokenizer

    def tokenizer(merges):
        pieces = _byte_symbols() + [left + right for left, right in merges]
        vocab = {piece: i for i, piece in enumerate(pieces + SPECIAL_TOKENS)}
        # Qwen's tokens: end of text pads, <|im_end|> ends; no unknown token, since every byte has a piece.
        return Qwen2Tokenizer(vocab=vocab, merges=merges, unk_token=None, eos_token="<|im_end|>",
                              pad_token="<|endoftext|>", extra_special_tokens=SPECIAL_TOKENS[1:],
                              model_max_length=131072)

    templates = [ace.SFT_GEN_PROMPT, *ace.TASK_INSTRUCTIONS.values(), ace.AceStepPipeline._build_metadata_string()]
    corpus = "\n".join(templates + [_CAPTION_WORDS]).replace("<|endoftext|>", "")
    return tokenizer(_word_merges(tokenizer([]), corpus))


def _text_encoder(tokenizer):
    from transformers import Qwen3Config, Qwen3Model

    # Qwen3-Embedding-0.6B at a tiny width: grouped-query attention (2 queries per key), per-head q/k norms,
    # rotary base 1e6, tied embeddings, and <|endoftext|> as its begin, end and padding token.
    endoftext = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=TEXT_WIDTH, intermediate_size=2 * TEXT_WIDTH,
                         num_hidden_layers=2, num_attention_heads=TEXT_WIDTH // HEAD_DIM,
                         num_key_value_heads=TEXT_WIDTH // HEAD_DIM // 2, head_dim=HEAD_DIM,
                         max_position_embeddings=32768, tie_word_embeddings=True,
                         rope_parameters={"rope_type": "default", "rope_theta": ROPE_THETA},
                         bos_token_id=endoftext, eos_token_id=endoftext, pad_token_id=endoftext)
    return Qwen3Model(config)


def _vae():
    from diffusers import AutoencoderOobleck

    # The encoder's last layer gives a mean and a scale per latent channel, so its width is twice the latent's.
    return AutoencoderOobleck(encoder_hidden_size=2 * LATENT_CHANNELS, downsampling_ratios=DOWNSAMPLING_RATIOS,
                              channel_multiples=[1] * len(DOWNSAMPLING_RATIOS), decoder_channels=4,
                              decoder_input_channels=LATENT_CHANNELS, audio_channels=2, sampling_rate=SAMPLING_RATE)


def _attention(width: int) -> dict:
    """ACE-Step's attention settings at a width: 8-wide heads, 2 query heads per key head as in the real model."""
    return {"num_attention_heads": width // HEAD_DIM, "num_key_value_heads": width // HEAD_DIM // 2,
            "head_dim": HEAD_DIM, "rope_theta": ROPE_THETA, "sliding_window": SLIDING_WINDOW}


def _condition_encoder(vae):
    import torch
    from diffusers.pipelines.ace_step import AceStepConditionEncoder

    encoder = AceStepConditionEncoder(hidden_size=ENCODER_WIDTH, intermediate_size=2 * ENCODER_WIDTH,
                                      text_hidden_dim=TEXT_WIDTH, timbre_hidden_dim=LATENT_CHANNELS,
                                      num_lyric_encoder_hidden_layers=2, num_timbre_encoder_hidden_layers=2,
                                      **_attention(ENCODER_WIDTH))
    # The real converter bakes in the VAE's encoding of silence: the source of text2music, the filler of a
    # repainted span and the timbre reference when none is given. A long silence encodes to one frame repeated
    # (only some 6 frames at either end feel the padding), so a short one's middle frame is that frame.
    with torch.no_grad():
        silence = vae.encode(torch.zeros(1, 2, SILENCE_FRAMES * HOP)).latent_dist.mode()
    encoder.silence_latent.copy_(silence[:, :, SILENCE_FRAMES // 2, None].transpose(1, 2))
    return encoder


def _transformer():
    from diffusers import AceStepTransformer1DModel

    # Its input is the noisy latent, the source latent and the repaint mask side by side: 3 latents wide.
    return AceStepTransformer1DModel(hidden_size=DIT_WIDTH, intermediate_size=2 * DIT_WIDTH, num_hidden_layers=2,
                                     in_channels=3 * LATENT_CHANNELS, audio_acoustic_hidden_dim=LATENT_CHANNELS,
                                     patch_size=2, encoder_hidden_size=ENCODER_WIDTH, is_turbo=True,
                                     model_version="turbo", **_attention(DIT_WIDTH))


def _audio_tokenizers():
    """The 25 Hz -> 5 Hz audio tokenizer (a finite scalar quantizer of 8*8*8*5*5*5 codes) and its inverse."""
    from diffusers.pipelines.ace_step import AceStepAudioTokenDetokenizer, AceStepAudioTokenizer

    shared = {"hidden_size": ENCODER_WIDTH, "intermediate_size": 2 * ENCODER_WIDTH,
              "audio_acoustic_hidden_dim": LATENT_CHANNELS, "pool_window_size": 5,
              "num_attention_pooler_hidden_layers": 2, **_attention(ENCODER_WIDTH)}
    tokenizer = AceStepAudioTokenizer(**shared, fsq_dim=ENCODER_WIDTH, fsq_input_levels=[8, 8, 8, 5, 5, 5],
                                      fsq_input_num_quantizers=1)
    return tokenizer, AceStepAudioTokenDetokenizer(**shared)


def _random_pipeline(tokenizer):
    from diffusers import AceStepPipeline, FlowMatchEulerDiscreteScheduler

    vae = _vae()
    audio_tokenizer, audio_token_detokenizer = _audio_tokenizers()
    # The pipeline computes its shifted sigmas in [0, 1] itself: one train timestep and no shift of its own.
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1, shift=1.0)
    return AceStepPipeline(vae=vae, text_encoder=_text_encoder(tokenizer), tokenizer=tokenizer,
                           transformer=_transformer(), condition_encoder=_condition_encoder(vae), scheduler=scheduler,
                           audio_tokenizer=audio_tokenizer, audio_token_detokenizer=audio_token_detokenizer)
