"""One function per stage: load the model, make one item from its recipe, write it with its provenance.

Every function records the attempt it used only after the output is in place, so a failed job leaves the
history as it was and the next run retries the same attempt.
"""

from pathlib import Path

from aibeats.devices import resolve_device
from aibeats.errors import MediaError
from aibeats.history import record_attempt
from aibeats.provenance import make_recipe


def _open_image(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise MediaError(f"{path}: not a readable image ({error}); delete it to regenerate it") from error


def _finish(history_dir: Path, output: Path, recipe: dict) -> None:
    record_attempt(history_dir, Path(output).name.split(".")[0], recipe["attempt"], recipe["seed"])


def make_track(recipe: dict, device: str, output: Path, history_dir: Path) -> None:
    from aibeats import audio, music

    model = music.load_music_model(recipe["model_id"], resolve_device(device))
    samples = music.generate_track(model, recipe["prompt"], recipe["initial_music_tokens"], recipe["seed"])
    audio.write_wav(output, samples, model.sampling_rate, make_recipe("music", **recipe))
    _finish(history_dir, output, recipe)


def make_track_ext(recipe: dict, device: str, track: Path, output: Path, history_dir: Path) -> None:
    from aibeats import audio, music

    samples, sampling_rate = audio.read_wav(track)
    model = music.load_music_model(recipe["model_id"], resolve_device(device))
    if sampling_rate != model.sampling_rate:
        raise MediaError(f"{track}: sampled at {sampling_rate} Hz, but {recipe['model_id']} works at "
                         f"{model.sampling_rate} Hz; delete it to regenerate it with this model")
    extended = music.extend_track(model, recipe["prompt"], samples, recipe["music_duration"],
                                  recipe["max_continuation_duration"], recipe["prompt_music_duration"],
                                  recipe["seed"])
    audio.write_wav(output, extended, sampling_rate, make_recipe("music_continuation", source=str(track), **recipe))
    _finish(history_dir, output, recipe)


def make_image(recipe: dict, device: str, output: Path, history_dir: Path) -> None:
    from aibeats import images
    from aibeats.provenance import save_png

    pipe = images.load_image_pipeline(recipe["model_id"], resolve_device(device))
    image = images.generate_image(pipe, recipe["prompt"], recipe["inference_steps"], recipe["height"],
                                  recipe["width"], recipe["seed"])
    save_png(image, output, make_recipe("image", **recipe))
    _finish(history_dir, output, recipe)


def make_animation(recipe: dict, device: str, image_path: Path, output: Path, history_dir: Path) -> None:
    from aibeats import animation, video_io

    image = _open_image(image_path)
    pipe = animation.load_video_pipeline(recipe["model_id"], resolve_device(device))
    settings = {k: recipe[k] for k in ("max_side", "num_frames", "n_continuations", "loop_video",
                                       "decode_chunk_size", "motion_bucket_id", "noise_aug_strength",
                                       "inference_steps", "seed")}
    frames = animation.animate_image(pipe, image, fps=recipe["video_fps"], **settings)
    video_io.write_animation(frames, output, recipe["video_fps"],
                             make_recipe("video", source=str(image_path), **recipe))
    _finish(history_dir, output, recipe)


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
