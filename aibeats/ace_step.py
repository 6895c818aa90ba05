"""ACE-Step 1.5 (music.backend ace_step, MIT): load it, make a track from text, extend a track window by window.

The pipeline makes 48 kHz stereo at 25 latent frames a second. It has no continuation of its own, but it repaints a
region of given audio: a window is the end of the track so far with silence after it, the silence repainted. The
whole window comes back re-synthesised (the pipeline does not paste the kept latents back, and sets each call's
peak to -1 dBFS), so, as with MusicGen's re-encoded prompt, only the new part is kept, crossfaded on from the
window's own version of the track's end (aibeats.continuation.join_continuation).
"""

from dataclasses import dataclass

import numpy as np

from aibeats.continuation import extend_by_windows


@dataclass(frozen=True)
class AceStepSettings:
    """What shapes an ACE-Step call besides the prompt and the length (config keys of music)."""

    inference_steps: int
    # None: the pipeline's own default (ignored by the turbo models, whose guidance is distilled)
    guidance_scale: float | None = None
    bpm: int | None = None
    keyscale: str | None = None
    timesignature: str | None = None
    # empty: instrumental
    lyrics: str = ""

    def options(self) -> dict:
        given = {"bpm": self.bpm, "keyscale": self.keyscale, "timesignature": self.timesignature,
                 "guidance_scale": self.guidance_scale}
        return {"num_inference_steps": self.inference_steps, **{k: v for k, v in given.items() if v is not None}}


@dataclass
class AceStepModel:
    """A loaded AceStepPipeline and the audio format it makes."""

    pipe: object
    device: str
    sampling_rate: int
    # Samples per latent frame: repainted regions start and end on frames.
    hop: int
    channels: int = 2


def load_ace_step(model_id: str, device: str, precision: str = "auto") -> AceStepModel:
    """An ACE-Step pipeline of a hub id or a local folder, on the device (already resolved)."""
    from diffusers import AceStepPipeline

    from aibeats.pretrained import pretrained_options

    pipe = AceStepPipeline.from_pretrained(model_id, **pretrained_options(model_id, device, precision)).to(device)
    pipe.set_progress_bar_config(disable=True)
    hop = round(pipe.sample_rate / pipe.latents_per_second)
    return AceStepModel(pipe=pipe, device=device, sampling_rate=pipe.sample_rate, hop=hop)


def _call(model: AceStepModel, prompt: str, seed: int, settings: AceStepSettings, lyrics: str, **task) -> np.ndarray:
    """One pipeline call as a track, (samples, channels) float32."""
    import torch

    from aibeats.pretrained import generator_for

    # The pipeline samples the source audio's latents from the global generator, not the one it is given.
    torch.manual_seed(seed)
    audio = model.pipe(prompt=prompt, lyrics=lyrics, generator=generator_for(model.device, seed),
                       **settings.options(), **task).audios
    return np.ascontiguousarray(audio[0].float().cpu().numpy().T)


def generate_track(model: AceStepModel, prompt: str, seconds: float, settings: AceStepSettings,
                   seed: int) -> np.ndarray:
    """A track from text alone, exactly `seconds` long (the pipeline makes whole latent frames; the rest is cut)."""
    audio = _call(model, prompt, seed, settings, settings.lyrics, audio_duration=seconds)
    return audio[:round(seconds * model.sampling_rate)]


def extend_track(model: AceStepModel, prompt: str, track: np.ndarray, target_seconds: float,  # noqa: PLR0913
                 max_continuation_seconds: float, prompt_seconds: float, *, settings: AceStepSettings,
                 seed: int) -> np.ndarray:
    """Continue a stereo track until it lasts exactly target_seconds: each window repaints silence after the last
    prompt_seconds of the audio so far. The lyrics were the first track's: the windows are instrumental."""
    import torch

    rate, hop = model.sampling_rate, model.hop

    def continue_window(context: np.ndarray, new_frames: int, window_seed: int) -> np.ndarray:
        source = np.concatenate([context, np.zeros((new_frames * hop, context.shape[1]), dtype=np.float32)])
        # the repainted region starts on the context's last frame boundary: half a frame in, so that the
        # pipeline's rounding down lands on it
        start = (len(context) // hop + 0.5) / (rate / hop)
        return _call(model, prompt, window_seed, settings, "", task_type="repaint",
                     src_audio=torch.from_numpy(source.T.copy()), repainting_start=start, repainting_end=-1)

    return extend_by_windows(track, rate, hop, target_seconds, max_continuation_seconds=max_continuation_seconds,
                             prompt_seconds=prompt_seconds, seed=seed, model_name="ACE-Step",
                             continue_window=continue_window)
