"""The music backends (music.backend): MusicGen (musicgen, the default) and ACE-Step 1.5 (ace_step). Which one a
model is, told without loading it. This module loads no model."""

import json
from pathlib import Path

MUSICGEN, ACE_STEP = "musicgen", "ace_step"
# The kind of model each backend loads: transformers' model_type of MusicGen, the pipeline class of ACE-Step.
MODEL_KINDS = {MUSICGEN: "musicgen", ACE_STEP: "AceStepPipeline"}
# ACE-Step's default steps: 8, what its turbo models are distilled to.
ACE_STEP_INFERENCE_STEPS = 8


def is_ace_step(model_id: str) -> bool:
    """Whether a music model is ACE-Step's: a folder whose model_index.json names AceStepPipeline, or a hub id
    of ACE-Step's (ACE-Step/acestep-v15-...)."""
    index = Path(model_id, "model_index.json")
    if Path(model_id).is_dir():
        try:
            return json.loads(index.read_text()).get("_class_name") == MODEL_KINDS[ACE_STEP]
        except (OSError, ValueError, AttributeError):
            return False
    return "acestep" in model_id.lower().replace("-", "").replace("_", "")


def initial_seconds(music: dict) -> float:
    """How long a track is before its extension: music.initial_duration for ACE-Step, else (and where it is null)
    what MusicGen makes of music.initial_music_tokens."""
    from aibeats.continuation import initial_track_seconds

    if initial_from_duration(music):
        return music["initial_duration"]
    return initial_track_seconds(music["initial_music_tokens"])


def initial_from_duration(music: dict) -> bool:
    return music.get("backend") == ACE_STEP and music.get("initial_duration") is not None
