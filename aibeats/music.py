"""MusicGen: load a model, generate a track from a text prompt, extend a track window by window."""

from dataclasses import dataclass

import numpy as np
import torch
from transformers import AutoProcessor, MusicgenForConditionalGeneration

from aibeats.continuation import extend_by_windows
from aibeats.devices import dtype_for
from aibeats.errors import ConfigError
from aibeats.music_backends import is_ace_step


@dataclass
class MusicModel:
    """A loaded MusicGen and the audio format it makes."""

    processor: object
    model: MusicgenForConditionalGeneration
    device: str
    sampling_rate: int
    frame_rate: int  # EnCodec frames (one token per codebook) per second of audio
    # 2 for the stereo models (musicgen-stereo-*): audio is then (samples, 2), else 1-D
    channels: int = 1

    @property
    def samples_per_frame(self) -> int:
        return self.sampling_rate // self.frame_rate

    @property
    def codebook_delay(self) -> int:
        """Tokens generated before the first complete frame: the delay pattern staggers each codebook of a channel
        by one step (a stereo model's left and right codebooks interleave, pair by pair)."""
        return self.model.config.decoder.num_codebooks // self.channels - 1

    def as_track(self, decoded) -> np.ndarray:
        """One decoded item, (channels, samples), as a track: 1-D when mono, else (samples, channels)."""
        audio = np.asarray(decoded, dtype=np.float32)
        return audio[0] if self.channels == 1 else np.ascontiguousarray(audio.T)


def load_music_model(model_id: str, device: str, precision: str = "auto"):
    """Load a MusicGen model (hub id or local folder) on a resolved device: cpu, cuda or mps; or an ACE-Step
    pipeline (aibeats.ace_step), which both music stages share the same way."""
    if is_ace_step(model_id):
        from aibeats.ace_step import load_ace_step

        return load_ace_step(model_id, device, precision)
    processor = AutoProcessor.from_pretrained(model_id)
    model = MusicgenForConditionalGeneration.from_pretrained(model_id, dtype=dtype_for(device, precision))
    # The language model runs in half precision on a GPU (or in the precision asked for), but EnCodec stays in
    # fp32, as audiocraft (MusicGen's reference code) keeps its compression model outside fp16 autocast: the
    # codec is a small share of the weights and of the time, and its output is the audio itself.
    model.audio_encoder.to(torch.float32)
    model.to(device).eval()
    audio_encoder = model.config.audio_encoder
    # The stereo models keep a mono EnCodec: their decoder says how many channels it predicts codes for.
    channels = model.config.decoder.audio_channels
    prompt_channels = processor.feature_extractor.feature_size
    if audio_encoder.audio_channels != 1 or channels not in (1, 2) or prompt_channels != channels:
        raise ConfigError(f"config key music.model_id = {model_id!r} is not allowed: its decoder makes {channels}-"
                          f"channel audio through a {audio_encoder.audio_channels}-channel EnCodec, and its "
                          f"processor takes {prompt_channels}-channel audio prompts; only MusicGen's mono and "
                          "stereo layouts are supported")
    return MusicModel(processor=processor, model=model, device=device, sampling_rate=audio_encoder.sampling_rate,
                      frame_rate=audio_encoder.frame_rate, channels=channels)


def _seed_sampling(seed: int) -> None:
    # generate() takes no torch.Generator: its sampling draws from the global generator of the device, so that
    # generator is seeded right before each call (torch.manual_seed seeds CPU, CUDA and MPS alike).
    torch.manual_seed(seed)


def generate_track(model: MusicModel, prompt: str, n_tokens: int, seed: int) -> np.ndarray:
    """Sample n_tokens of MusicGen for a text prompt: float32 audio (1-D mono, or (samples, 2) from a stereo
    model) of n_tokens - 3 frames (4 codebooks per channel).

    Below 6 tokens transformers skips the codebook delay pattern, and the audio lasts n_tokens frames instead.
    """
    inputs = model.processor(text=[prompt], padding=True, return_tensors="pt").to(model.device)
    _seed_sampling(seed)
    audio = model.model.generate(**inputs, do_sample=True, max_new_tokens=n_tokens)
    return model.as_track(audio[0].float().cpu().numpy())


def _continue_audio(model: MusicModel, prompt: str, audio_prompt: np.ndarray, new_frames: int, seed: int) -> np.ndarray:
    """The audio prompt, re-encoded by EnCodec, followed by new_frames of new music (float32, as a track)."""
    # the feature extractor takes (channels, samples), and one channel as 1-D
    inputs = model.processor(audio=audio_prompt.T, sampling_rate=model.sampling_rate, text=[prompt], padding=True,
                             return_tensors="pt")
    padding_mask = inputs["padding_mask"]
    inputs = inputs.to(model.device)
    inputs["input_values"] = inputs["input_values"].to(model.model.audio_encoder.dtype)
    _seed_sampling(seed)
    audio = model.model.generate(**inputs, do_sample=True, max_new_tokens=new_frames + model.codebook_delay)
    return model.as_track(_without_padding(audio[0].float().cpu().numpy(), padding_mask[0].numpy()))


def _without_padding(audio: np.ndarray, padding_mask: np.ndarray) -> np.ndarray:
    """One item's decoded audio, (channels, samples), without the audio prompt's left padding (none for a single
    prompt), as MusicgenProcessor.batch_decode strips it: the mask covers the prompt, the new music is kept.
    batch_decode itself fails on stereo, applying a one-row mask to two rows."""
    keep = np.pad(padding_mask, (0, audio.shape[-1] - len(padding_mask)), constant_values=1) != 0
    return audio[:, keep]


def extend_track(model: MusicModel, prompt: str, track: np.ndarray, target_seconds: float,
                 max_continuation_seconds: float, prompt_seconds: float, seed: int) -> np.ndarray:
    """Continue a track with MusicGen until it lasts exactly target_seconds (float32, mono 1-D or stereo
    (samples, 2), as the model makes them).

    Each window gives the last prompt_seconds of the audio so far as an audio prompt, with the text prompt.
    A track already longer than the target is cut to it.
    """
    def continue_window(context: np.ndarray, new_frames: int, window_seed: int) -> np.ndarray:
        return _continue_audio(model, prompt, context, new_frames, window_seed)

    return extend_by_windows(track, model.sampling_rate, model.samples_per_frame, target_seconds,
                             max_continuation_seconds=max_continuation_seconds, prompt_seconds=prompt_seconds,
                             seed=seed, model_name="MusicGen", continue_window=continue_window)
