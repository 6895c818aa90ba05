"""MusicGen: load a model, generate a track from a text prompt, extend a track window by window."""

import math
from dataclasses import dataclass

import numpy as np
import torch
from transformers import AutoProcessor, MusicgenForConditionalGeneration

from aibeats.continuation import join_continuation, plan_continuation_windows
from aibeats.devices import dtype_for
from aibeats.errors import ConfigError

# How long the end of the track so far fades into the window's re-encoded prompt: long enough that the fade's
# own slope is inaudible, short enough to stay within one note, so the two versions barely drift apart.
CROSSFADE_SECONDS = 0.05


@dataclass
class MusicModel:
    """A loaded MusicGen and the audio format it makes."""

    processor: object
    model: MusicgenForConditionalGeneration
    device: str
    sampling_rate: int
    frame_rate: int  # EnCodec frames (one token per codebook) per second of audio

    @property
    def samples_per_frame(self) -> int:
        return self.sampling_rate // self.frame_rate

    @property
    def codebook_delay(self) -> int:
        """Tokens generated before the first complete frame: the delay pattern staggers each codebook by one step."""
        return self.model.config.decoder.num_codebooks - 1


def load_music_model(model_id: str, device: str, precision: str = "auto") -> MusicModel:
    """Load a MusicGen model (hub id or local folder) on a resolved device: cpu, cuda or mps."""
    processor = AutoProcessor.from_pretrained(model_id)
    model = MusicgenForConditionalGeneration.from_pretrained(model_id, dtype=dtype_for(device, precision))
    # The language model runs in half precision on a GPU (or in the precision asked for), but EnCodec stays in
    # fp32, as audiocraft (MusicGen's reference code) keeps its compression model outside fp16 autocast: the
    # codec is a small share of the weights and of the time, and its output is the audio itself.
    model.audio_encoder.to(torch.float32)
    model.to(device).eval()
    audio_encoder = model.config.audio_encoder
    if audio_encoder.audio_channels != 1:
        raise ConfigError(f"config key music.model_id = {model_id!r} is not allowed: it makes "
                          f"{audio_encoder.audio_channels}-channel audio, and only mono MusicGen models are supported")
    return MusicModel(processor=processor, model=model, device=device, sampling_rate=audio_encoder.sampling_rate,
                      frame_rate=audio_encoder.frame_rate)


def _seed_sampling(seed: int) -> None:
    # generate() takes no torch.Generator: its sampling draws from the global generator of the device, so that
    # generator is seeded right before each call (torch.manual_seed seeds CPU, CUDA and MPS alike).
    torch.manual_seed(seed)


def generate_track(model: MusicModel, prompt: str, n_tokens: int, seed: int) -> np.ndarray:
    """Sample n_tokens of MusicGen for a text prompt: float32 mono audio of n_tokens - 3 frames (4 codebooks).

    Below 6 tokens transformers skips the codebook delay pattern, and the audio lasts n_tokens frames instead.
    """
    inputs = model.processor(text=[prompt], padding=True, return_tensors="pt").to(model.device)
    _seed_sampling(seed)
    audio = model.model.generate(**inputs, do_sample=True, max_new_tokens=n_tokens)
    return audio[0, 0].float().cpu().numpy()


def _window_seed(seed: int, index: int) -> int:
    # Hashed rather than seed + index, so that window 1 of one track does not repeat window 0 of the next seed.
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _continue_audio(model: MusicModel, prompt: str, audio_prompt: np.ndarray, new_frames: int, seed: int) -> np.ndarray:
    """The audio prompt, re-encoded by EnCodec, followed by new_frames of new music (float32 mono)."""
    inputs = model.processor(audio=audio_prompt, sampling_rate=model.sampling_rate, text=[prompt], padding=True,
                             return_tensors="pt")
    padding_mask = inputs["padding_mask"]
    inputs = inputs.to(model.device)
    inputs["input_values"] = inputs["input_values"].to(model.model.audio_encoder.dtype)
    _seed_sampling(seed)
    audio = model.model.generate(**inputs, do_sample=True, max_new_tokens=new_frames + model.codebook_delay)
    # batch_decode strips the prompt's left padding (none for a single prompt, but it is the documented way).
    return np.asarray(model.processor.batch_decode(audio.float().cpu(), padding_mask=padding_mask)[0][0],
                      dtype=np.float32)


def extend_track(model: MusicModel, prompt: str, track: np.ndarray, target_seconds: float,
                 max_continuation_seconds: float, prompt_seconds: float, seed: int) -> np.ndarray:
    """Continue a mono track with MusicGen until it lasts exactly target_seconds (float32 mono).

    Each window gives the last prompt_seconds of the audio so far as an audio prompt, with the text prompt.
    A track already longer than the target is cut to it.
    """
    rate, hop = model.sampling_rate, model.samples_per_frame
    audio = np.asarray(track, dtype=np.float32)
    windows = plan_continuation_windows(len(audio) / rate, target_seconds, max_continuation_seconds, prompt_seconds)
    for index, window in enumerate(windows):
        # Whole codec frames only: EnCodec pads a partial frame, and the re-encoded prompt would then be longer
        # than the audio it stands for, shifting the new music against the track.
        prompt_samples = math.floor(window.prompt_seconds * rate / hop) * hop
        if prompt_samples == 0:
            raise ValueError(f"a track of {len(audio)} samples is shorter than one MusicGen frame ({hop} samples)")
        new_frames = math.ceil(window.new_seconds * model.frame_rate - 1e-6)
        window_audio = _continue_audio(model, prompt, audio[-prompt_samples:], new_frames, _window_seed(seed, index))
        audio = join_continuation(audio, window_audio, prompt_samples, round(CROSSFADE_SECONDS * rate))
    return audio[:round(target_seconds * rate)]
