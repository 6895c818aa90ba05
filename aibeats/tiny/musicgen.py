"""A tiny, randomly initialised MusicGen that loads through the same calls as facebook/musicgen-small, or as
facebook/musicgen-stereo-small (`channels=2`): there EnCodec stays mono, and the decoder predicts twice the
codebooks, left and right interleaved, which the model decodes one channel at a time."""

from pathlib import Path

import torch
from transformers import (
    EncodecConfig,
    EncodecFeatureExtractor,
    GenerationConfig,
    MusicgenConfig,
    MusicgenDecoderConfig,
    MusicgenForConditionalGeneration,
    MusicgenProcessor,
    T5Config,
    T5Tokenizer,
)

from aibeats.atomic import atomic_path
from aibeats.tiny import seeded

# musicgen-small's audio format: EnCodec at 32 kHz with a hop of 8*5*4*4 = 640 samples (50 frames per second),
# 2048 codes per codebook and 4 codebooks (2.2 kbps = 4 codebooks * 11 bits * 50 frames/s).
SAMPLING_RATE = 32000
UPSAMPLING_RATIOS = [8, 5, 4, 4]
CODEBOOK_SIZE = 2048
NUM_CODEBOOKS = 4
TARGET_BANDWIDTH_KBPS = 2.2
# The decoder's start and padding token sits just past the real codes, as in musicgen-small.
SPECIAL_AUDIO_TOKEN = CODEBOOK_SIZE
HIDDEN_SIZE = 16
# Fixed so that two builds give byte-identical weights, and the demo's outputs are reproducible.

# Enough pieces to tokenize any lower-case prompt: unknown words fall back to single letters.
_WORDS = ["lo", "fi", "music", "with", "a", "soothing", "melody", "beat", "piano", "jazz", "ambient", "drums"]
_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789-,.'"


def _tokenizer() -> T5Tokenizer:
    """A T5 tokenizer built from a vocab list: no sentencepiece model file is needed offline."""
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    pieces += [("\u2581" + word, -1.0) for word in _WORDS]
    pieces += [(letter, -3.0) for letter in _LETTERS]
    pieces += [("\u2581" + letter, -2.5) for letter in _LETTERS]
    return T5Tokenizer(vocab=pieces, extra_ids=0)


def _config(text_vocab_size: int, channels: int) -> MusicgenConfig:
    text_encoder = T5Config(vocab_size=text_vocab_size, d_model=HIDDEN_SIZE, d_kv=8, d_ff=32, num_layers=1,
                            num_heads=2, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
    audio_encoder = EncodecConfig(sampling_rate=SAMPLING_RATE, upsampling_ratios=UPSAMPLING_RATIOS,
                                  codebook_size=CODEBOOK_SIZE, target_bandwidths=[TARGET_BANDWIDTH_KBPS],
                                  hidden_size=HIDDEN_SIZE, num_filters=4, num_lstm_layers=1, use_causal_conv=False,
                                  use_conv_shortcut=False)
    # musicgen-stereo's decoder: audio_channels 2 and 8 codebooks (its left and right EnCodec codes); stated only
    # there, so that the mono model's saved config is what it always was.
    stereo = {"audio_channels": channels} if channels != 1 else {}
    decoder = MusicgenDecoderConfig(vocab_size=CODEBOOK_SIZE, num_codebooks=NUM_CODEBOOKS * channels, **stereo,
                                    hidden_size=HIDDEN_SIZE,
                                    ffn_dim=32, num_hidden_layers=1, num_attention_heads=2,
                                    max_position_embeddings=2048, pad_token_id=SPECIAL_AUDIO_TOKEN,
                                    bos_token_id=SPECIAL_AUDIO_TOKEN)
    return MusicgenConfig(text_encoder=text_encoder, audio_encoder=audio_encoder, decoder=decoder)


def generation_config() -> GenerationConfig:
    """musicgen-small's generation defaults: sampled top-k 250 with classifier-free guidance 3.0."""
    return GenerationConfig(do_sample=True, top_k=250, guidance_scale=3.0, max_length=1500,
                            decoder_start_token_id=SPECIAL_AUDIO_TOKEN, bos_token_id=SPECIAL_AUDIO_TOKEN,
                            pad_token_id=SPECIAL_AUDIO_TOKEN)


def offline_processor(channels: int = 1) -> MusicgenProcessor:
    """MusicGen's processor (EnCodec's feature extractor at 32 kHz, for mono or stereo audio prompts, and a T5
    tokenizer) built without downloads."""
    return MusicgenProcessor(
        feature_extractor=EncodecFeatureExtractor(feature_size=channels, sampling_rate=SAMPLING_RATE,
                                                  padding_side="left",
                                                  return_attention_mask=True),
        tokenizer=_tokenizer())


def randomise_codebooks(model):
    """The model, its EnCodec codebooks made random. They start as zeros (training fills them by k-means): left
    so, every code would decode to the same sound, and the audio would not depend on the generated tokens or the
    seed at all."""
    with torch.no_grad():
        for quantizer_layer in model.audio_encoder.quantizer.layers:
            quantizer_layer.codebook.embed.normal_()
            quantizer_layer.codebook.embed_avg.copy_(quantizer_layer.codebook.embed)
            quantizer_layer.codebook.cluster_size.fill_(1)
    return model


def build_tiny_musicgen(out_dir: Path, channels: int = 1) -> None:
    """Save a tiny MusicgenForConditionalGeneration (mono, or stereo with channels 2) and its MusicgenProcessor
    into out_dir."""
    out_dir = Path(out_dir)
    processor = offline_processor(channels)
    tokenizer = processor.tokenizer
    model = seeded(lambda: randomise_codebooks(MusicgenForConditionalGeneration(_config(len(tokenizer), channels))))
    model.generation_config = generation_config()

    with atomic_path(out_dir) as folder:
        model.save_pretrained(folder)
        processor.save_pretrained(folder)
