"""One function per stage: make one item from its recipe with a loaded model, write it with its provenance.

Loading is separate from making so that a warm worker (aibeats.workers) loads a model once and makes many
items with it, through the very same functions a job uses in-process. Each maker records the attempt it
used only after its output is in place: a failed job leaves the history as it was, and the next run retries
the same attempt.
"""

import importlib
import tempfile
from pathlib import Path

from aibeats.errors import MediaError
from aibeats.history import item_of, record_attempt
from aibeats.items import SEAMLESS_LOOP, cut_clip_on_beats, seamless_loop_mismatch
from aibeats.music_backends import ACE_STEP, MUSICGEN
from aibeats.pipeline import STAGES
from aibeats.provenance import make_recipe
from aibeats.recipes import (
    AceStepTrackExtRecipe,
    AceStepTrackRecipe,
    ChaptersRecipe,
    ClipRecipe,
    ImageRecipe,
    KenBurnsRecipe,
    MixRecipe,
    PromptedVideoRecipe,
    ThumbnailRecipe,
    TrackExtRecipe,
    TrackRecipe,
    VideoRecipe,
)

# Where each family's loader lives; imported on demand, so a process only imports the libraries it uses.
LOADERS = {"music": "aibeats.music:load_music_model", "image": "aibeats.images:load_image_pipeline",
           "video": "aibeats.animation:load_video_pipeline"}


def load_model(family: str, model_id: str, device: str, precision: str = "auto", offload: str = "none"):
    """Load a model family's model on a device (already resolved: cpu, cuda or mps) in a precision, offloaded
    (image and video: config `offload`) or not."""
    module, function = LOADERS[family].split(":")
    # MusicGen's loader takes no offload: the largest MusicGen fits an 8 GB card whole (the schema has no key).
    offloaded = {"offload": offload} if offload != "none" else {}
    return getattr(importlib.import_module(module), function)(model_id, device, precision, **offloaded)


def _open_image(path: Path):
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError) as error:
        raise MediaError(f"{path}: not a readable image ({error}); delete it to regenerate it") from error


def _clip_animations(clip: Path) -> list[list]:
    """The animations a clip shows and the frames of each, as its stored recipe lists them."""
    from aibeats.provenance import read_recipe

    animations = read_recipe(clip).get("animations")
    if not isinstance(animations, list) or not animations:
        raise MediaError(f"{clip}: its recipe lists no animations (not a clip of ours?); delete it to regenerate it")
    return animations


def _finish(history_dir: Path | None, output: Path, recipe) -> None:
    # None: made ahead of its job into the store (aibeats.look_ahead); only the job that places it records it.
    if history_dir is not None:
        record_attempt(history_dir, item_of(output), recipe.attempt, recipe.seed)


def recipe_backend(recipe) -> str:
    """The music backend a track's recipe is of: MusicGen's recipes, made before there was a choice, name none."""
    return getattr(recipe, "backend", MUSICGEN)


def _ace_step_settings(recipe):
    from aibeats.ace_step import AceStepSettings

    return AceStepSettings(recipe.inference_steps, recipe.guidance_scale, recipe.bpm, recipe.keyscale,
                           recipe.timesignature, getattr(recipe, "lyrics", ""))


def make_track(model, recipe: TrackRecipe | AceStepTrackRecipe, inputs: dict, output: Path,
               history_dir: Path) -> None:
    from aibeats import audio, music

    if recipe_backend(recipe) == ACE_STEP:
        from aibeats import ace_step

        samples = ace_step.generate_track(model, recipe.prompt, recipe.initial_duration, _ace_step_settings(recipe),
                                          recipe.seed)
    else:
        samples = music.generate_track(model, recipe.prompt, recipe.initial_music_tokens, recipe.seed)
    audio.write_wav(output, samples, model.sampling_rate, make_recipe("music", **recipe.as_params()))
    _finish(history_dir, output, recipe)


def make_track_ext(model, recipe: TrackExtRecipe | AceStepTrackExtRecipe, inputs: dict, output: Path,
                   history_dir: Path) -> None:
    from aibeats import audio, music

    track = inputs["track"]
    samples, sampling_rate = audio.read_wav(track)
    if sampling_rate != model.sampling_rate:
        raise MediaError(f"{track}: sampled at {sampling_rate} Hz, but {recipe.model_id} works at "
                         f"{model.sampling_rate} Hz; delete it to regenerate it with this model")
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    if channels != model.channels:
        raise MediaError(f"{track}: has {channels} channel(s), but {recipe.model_id} makes {model.channels}; delete "
                         "it to regenerate it with this model")
    if recipe_backend(recipe) == ACE_STEP:
        from aibeats import ace_step

        extended = ace_step.extend_track(model, recipe.prompt, samples, recipe.music_duration,
                                         recipe.max_continuation_duration, recipe.prompt_music_duration,
                                         settings=_ace_step_settings(recipe), seed=recipe.seed)
    else:
        extended = music.extend_track(model, recipe.prompt, samples, recipe.music_duration,
                                      recipe.max_continuation_duration, recipe.prompt_music_duration, recipe.seed)
    audio.write_wav(output, extended, sampling_rate,
                    make_recipe("music_continuation", source=str(track), **recipe.as_params()))
    _finish(history_dir, output, recipe)


def make_image(model, recipe: ImageRecipe, inputs: dict, output: Path, history_dir: Path) -> None:
    from aibeats import images
    from aibeats.image_families import Guidance
    from aibeats.provenance import save_png

    image = images.generate_image(model, recipe.prompt, recipe.inference_steps, recipe.height, recipe.width,
                                  recipe.seed, Guidance(recipe.guidance_scale, recipe.negative_prompt,
                                                        recipe.max_sequence_length))
    save_png(image, output, make_recipe("image", **recipe.as_params()))
    _finish(history_dir, output, recipe)


def make_animation(model, recipe: VideoRecipe | PromptedVideoRecipe | KenBurnsRecipe, inputs: dict, output: Path,
                   history_dir: Path) -> None:
    """An animation of the image: by Stable Video Diffusion, Wan or LTX-Video, or a camera move over it (no
    model)."""
    from aibeats import animation, video_io

    image = _open_image(inputs["image"])
    if recipe.backend == KenBurnsRecipe.BACKEND:
        from aibeats.kenburns import kenburns_frames

        frames = kenburns_frames(image, max_side=recipe.max_side, num_frames=recipe.num_frames,
                                 n_continuations=recipe.n_continuations, loop_video=recipe.loop_video,
                                 seed=recipe.seed, zoom_range=tuple(sorted(recipe.kenburns_zoom)),
                                 pan=recipe.kenburns_pan)
    elif recipe.backend != VideoRecipe.backend:
        model_backend = animation.pipeline_backend(model)
        if model_backend != recipe.backend:
            raise MediaError(f"{recipe.model_id} is a {type(model).__name__}, not a model of video.backend "
                             f"{recipe.backend}; set video.model_id to one, or video.backend to {model_backend}")
        if (recipe.loop_video == SEAMLESS_LOOP) != animation.takes_a_last_frame(model):
            raise MediaError(seamless_loop_mismatch(recipe.model_id, recipe.loop_video))
        frames = animation.animate_image_with_prompt(
            model, image, recipe.prompt, max_side=recipe.max_side, num_frames=recipe.num_frames,
            n_continuations=recipe.n_continuations, loop_video=recipe.loop_video, fps=recipe.video_fps,
            guidance_scale=recipe.guidance_scale, negative_prompt=recipe.negative_prompt,
            inference_steps=recipe.inference_steps, seed=recipe.seed)
    else:
        frames = animation.animate_image(
            model, image, max_side=recipe.max_side, num_frames=recipe.num_frames,
            n_continuations=recipe.n_continuations, loop_video=recipe.loop_video, fps=recipe.video_fps,
            decode_chunk_size=recipe.decode_chunk_size, motion_bucket_id=recipe.motion_bucket_id,
            noise_aug_strength=recipe.noise_aug_strength, inference_steps=recipe.inference_steps, seed=recipe.seed)
    # What a seamless loop is for, measured on what it made (aibeats.animation.loop_seam)
    measured = ({"loop_seam": round(animation.loop_seam(frames), 3)} if recipe.loop_video == SEAMLESS_LOOP
                else {})
    video_io.write_animation(frames, output, recipe.video_fps,
                             make_recipe("video", source=str(inputs["image"]), **recipe.as_params(), **measured))
    _finish(history_dir, output, recipe)


def make_clip(model: None, recipe: ClipRecipe, inputs: dict, output: Path, history_dir: Path) -> None:
    """A clip needs no model: the extended track, looped and faded, over its animations by stream copy."""
    from aibeats import audio, video_io

    track = inputs["track"]
    samples, sampling_rate = audio.read_wav(track)
    # The clip's plan was made for music_duration: a track of another length (left from another config, or
    # not ours) would end before its pictures or after them.
    if abs(len(samples) / sampling_rate - recipe.music_duration) > 1 / sampling_rate:
        raise MediaError(f"{track}: lasts {len(samples) / sampling_rate:g} s, but music.music_duration is "
                         f"{recipe.music_duration:g} s; delete it to regenerate it")
    soundtrack = audio.fade_out(audio.loop_audio(samples, recipe.n_music_loops), sampling_rate,
                                recipe.fade_out_duration)
    if recipe.loudness_lufs is not None:
        from aibeats.loudness import normalize_loudness

        soundtrack = normalize_loudness(soundtrack, sampling_rate, recipe.loudness_lufs, recipe.true_peak_db,
                                        what=str(output))
    animations, made = recipe.animations, {}
    if recipe.cut_on_beats:
        from aibeats.beats import detect_beats

        made["beats"] = detect_beats(soundtrack, sampling_rate)
        animations = cut_clip_on_beats(recipe.animation_order, animations, recipe.video_fps, made["beats"])
    by_name = {Path(path).name: Path(path) for path in inputs["animations"]}
    stored = make_recipe("audio_clip", source=str(track), **{**recipe.as_params(), "animations": animations}, **made)
    video_io.assemble_clip([(by_name[name], frames) for name, frames in animations], soundtrack, sampling_rate,
                           recipe.video_fps, output, stored, true_peak_db=recipe.true_peak_db)
    _finish(history_dir, output, recipe)


def maker_of(stage: str):
    """The function that makes one item of a stage, as the stage's declaration names it."""
    module, function = STAGES[stage].maker.split(":")
    return getattr(importlib.import_module(module), function)




def make_mix(model: None, recipe: MixRecipe, inputs: dict, output: Path, history_dir: Path,
             threads: int = 1) -> None:
    """The finished video: the clips' audio crossfaded, each track at the mix's loudness, made and kept piece by
    piece (aibeats.mix_audio, in `{project}/.cache/mix/` beside the history); their video cut near each crossfade's
    middle by stream copy."""
    from aibeats import video_io
    from aibeats.mix_audio import MixAudioSettings, make_mix_audio

    by_name = {Path(path).name: Path(path) for path in inputs["clips"]}
    clips = [by_name[name] for name, *_ in recipe.clips]
    if not recipe.placed:
        recipe = recipe.cut_at([_clip_animations(clip) for clip in clips])
    rate = recipe.audio_sample_rate
    settings = MixAudioSettings(rate, recipe.loudness_lufs, recipe.true_peak_db,
                                round(recipe.crossfade_duration * rate))
    cache = Path(history_dir).parent / ".cache" / "mix"
    with tempfile.TemporaryDirectory() as scratch:
        stream = Path(scratch) / "mix.aac"
        audio = make_mix_audio(clips, settings, cache, stream, threads)
        print(f"audio: {audio.pieces_made} pieces made, {audio.pieces_kept} kept from the last mix; "
              f"{audio.loudness_lufs:.2f} LUFS, true peak {audio.true_peak_db:.2f} dBTP", flush=True)
        spans = [(clip, first, end) for clip, (_, first, end, _) in zip(clips, recipe.clips, strict=True)]
        video_io.assemble_mix(spans, stream, audio.samples, rate, recipe.video_fps, output,
                              make_recipe("mix", **recipe.as_params()), height=recipe.height)
    _finish(history_dir, output, recipe)


def make_chapters(model: None, recipe: ChaptersRecipe, inputs: dict, output: Path, history_dir: Path) -> None:
    """YouTube chapter lines; a broken YouTube rule is said in one warning, and the file is written anyway."""
    from aibeats.atomic import atomic_path
    from aibeats.items import format_chapter_time, youtube_chapter_rule_broken
    from aibeats.terminal import tell_user

    lines = [f"{format_chapter_time(start)} {title}" for start, title in recipe.chapters]
    with atomic_path(output) as temporary:
        temporary.write_text("\n".join(lines) + "\n")
    if warning := youtube_chapter_rule_broken([start for start, _ in recipe.chapters], recipe.mix_duration):
        tell_user(f"ai-beats: warning: {output}: {warning}")
    _finish(history_dir, output, recipe)


def make_thumbnail(model: None, recipe: ThumbnailRecipe, inputs: dict, output: Path, history_dir: Path) -> None:
    """The image scaled to cover width x height (Lanczos) and centre-cropped."""
    from PIL import Image

    from aibeats.provenance import save_png

    image = _open_image(inputs["image"])
    scale = max(recipe.width / image.width, recipe.height / image.height)
    size = (max(recipe.width, round(image.width * scale)), max(recipe.height, round(image.height * scale)))
    left, top = (size[0] - recipe.width) // 2, (size[1] - recipe.height) // 2
    thumbnail = image.resize(size, Image.Resampling.LANCZOS).crop((left, top, left + recipe.width,
                                                                   top + recipe.height))
    save_png(thumbnail, output, make_recipe("thumbnail", source=str(inputs["image"]), **recipe.as_params()))
    _finish(history_dir, output, recipe)


# Resolved once every function above exists: every stage's maker lives in this module.
MAKERS = {stage: maker_of(stage) for stage in STAGES}
