"""One function per stage: make one item from its recipe with a loaded model, write it with its provenance.

Loading is separate from making so that a warm worker (aibeats.workers) loads a model once and makes many
items with it, through the very same functions a job uses in-process. Each maker records the attempt it
used only after its output is in place: a failed job leaves the history as it was, and the next run retries
the same attempt.
"""

import importlib
from pathlib import Path

from aibeats.errors import MediaError
from aibeats.history import item_of, record_attempt
from aibeats.provenance import make_recipe

# Where each family's loader lives; imported on demand, so a process only imports the libraries it uses.
LOADERS = {"music": "aibeats.music:load_music_model", "image": "aibeats.images:load_image_pipeline",
           "video": "aibeats.animation:load_video_pipeline"}


def load_model(family: str, model_id: str, device: str):
    """Load a model family's model on a device (already resolved: cpu, cuda or mps)."""
    module, function = LOADERS[family].split(":")
    return getattr(importlib.import_module(module), function)(model_id, device)


def _open_image(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise MediaError(f"{path}: not a readable image ({error}); delete it to regenerate it") from error


def _finish(history_dir: Path, output: Path, recipe: dict) -> None:
    record_attempt(history_dir, item_of(output), recipe["attempt"], recipe["seed"])


def make_track(model, recipe: dict, inputs: dict, output: Path, history_dir: Path) -> None:
    from aibeats import audio, music

    samples = music.generate_track(model, recipe["prompt"], recipe["initial_music_tokens"], recipe["seed"])
    audio.write_wav(output, samples, model.sampling_rate, make_recipe("music", **recipe))
    _finish(history_dir, output, recipe)


def make_track_ext(model, recipe: dict, inputs: dict, output: Path, history_dir: Path) -> None:
    from aibeats import audio, music

    track = inputs["track"]
    samples, sampling_rate = audio.read_wav(track)
    if sampling_rate != model.sampling_rate:
        raise MediaError(f"{track}: sampled at {sampling_rate} Hz, but {recipe['model_id']} works at "
                         f"{model.sampling_rate} Hz; delete it to regenerate it with this model")
    extended = music.extend_track(model, recipe["prompt"], samples, recipe["music_duration"],
                                  recipe["max_continuation_duration"], recipe["prompt_music_duration"],
                                  recipe["seed"])
    audio.write_wav(output, extended, sampling_rate, make_recipe("music_continuation", source=str(track), **recipe))
    _finish(history_dir, output, recipe)


def make_image(model, recipe: dict, inputs: dict, output: Path, history_dir: Path) -> None:
    from aibeats import images
    from aibeats.provenance import save_png

    image = images.generate_image(model, recipe["prompt"], recipe["inference_steps"], recipe["height"],
                                  recipe["width"], recipe["seed"])
    save_png(image, output, make_recipe("image", **recipe))
    _finish(history_dir, output, recipe)


def make_animation(model, recipe: dict, inputs: dict, output: Path, history_dir: Path) -> None:
    from aibeats import animation, video_io

    image = _open_image(inputs["image"])
    settings = {k: recipe[k] for k in ("max_side", "num_frames", "n_continuations", "loop_video",
                                       "decode_chunk_size", "motion_bucket_id", "noise_aug_strength",
                                       "inference_steps", "seed")}
    frames = animation.animate_image(model, image, fps=recipe["video_fps"], **settings)
    video_io.write_animation(frames, output, recipe["video_fps"],
                             make_recipe("video", source=str(inputs["image"]), **recipe))
    _finish(history_dir, output, recipe)


MAKERS = {"music": make_track, "music_continuation": make_track_ext, "image": make_image, "video": make_animation}


def make_clip(recipe: dict, track: Path, animations: list[Path], output: Path, history_dir: Path) -> None:
    from aibeats import audio, video_io

    samples, sampling_rate = audio.read_wav(track)
    soundtrack = audio.fade_out(audio.loop_audio(samples, recipe["n_music_loops"]), sampling_rate,
                                recipe["fade_out_duration"])
    by_name = {Path(path).name: Path(path) for path in animations}
    ordered = [by_name[name] for name, _ in recipe["animations"]]
    n_frames = sum(frames for _, frames in recipe["animations"])
    video_io.assemble_clip(ordered, n_frames, soundtrack, sampling_rate, recipe["video_fps"], output,
                           make_recipe("audio_clip", source=str(track), **recipe))
    _finish(history_dir, output, recipe)
