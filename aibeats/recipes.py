"""Recipes: everything that shapes one output, one frozen dataclass per stage.

A recipe is built from the config in one place (`build`), travels to the job as the rule's params
(`as_params`, a plain dict: Snakemake's params rerun trigger only compares plain values), comes back in the
script (`from_params`), and is stored inside the output file. A setting that is in a recipe regenerates
what it shapes when it changes, so a recipe holds only what its stage reads (tests/test_recipes.py checks it).

Key order: the dict's order is part of what Snakemake compares and of the bytes of each file's embedded
recipe, so it must never change for existing projects. Every recipe keeps its field order, except the
animation's, which earlier releases took from the config's own key order; `VideoRecipe` keeps doing so.
"""

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Protocol

from aibeats.items import (
    MAX_CHAPTER_TITLE,
    clip_animation_order,
    clip_keyframes,
    fill_clip,
    image_prompt,
    images_of_modifier,
    mix_starts,
    modifier_of_image,
    modifier_of_track,
    plan_mix,
    prompt_of_track,
)
from aibeats.music_backends import ACE_STEP, initial_seconds
from aibeats.video_backends import BACKENDS, animation_prompt

# What YouTube shows a thumbnail at (16:9).
THUMBNAIL_SIZE = (1280, 720)


class Project(Protocol):
    """What a recipe reads of its project (aibeats.plan.Project), named here so that this module need not import
    the plan, which imports it."""

    config: dict

    @property
    def crossfade_frames(self) -> int: ...

    @property
    def frames_per_animation(self) -> int: ...

    def indices(self, stage: str) -> list[int]: ...

    def file_name(self, stage: str, index: int) -> str: ...

    def planned_recipe(self, stage: str, index: int) -> "Recipe": ...


@dataclass(frozen=True)
class Recipe:
    """What every recipe holds and can do; each stage's recipe declares its own settings."""

    # Keyword-only, so that each stage's settings come first in its constructor, as they come first in its
    # params and files (see settings()).
    seed: int = field(kw_only=True)
    attempt: int = field(kw_only=True)
    # The config section its settings are read from, where they are named like the section's keys.
    section: ClassVar[str]

    @classmethod
    def build(cls, project: Project, index: int, seed: int, attempt: int) -> "Recipe":
        """The recipe of item `index` from the config; stages whose settings are not all config keys override it."""
        return cls(**cls.from_section(project.config[cls.section], seed, attempt))

    @classmethod
    def from_params(cls, params: dict) -> "Recipe":
        return cls(**params)

    def as_params(self) -> dict[str, Any]:
        """The recipe as a plain dict. An optional setting left at its default None is left out: a setting
        added to a stage this way leaves the recipes of files made before it, and so those files, as they were."""
        defaults = {f.name: f.default for f in fields(self)}
        return {name: getattr(self, name) for name in self.settings()
                if not (getattr(self, name) is None and defaults[name] is None)}

    @classmethod
    def settings(cls) -> list[str]:
        """The names of the values that shape an output, in order: the stage's own, then seed and attempt."""
        own = [f.name for f in fields(cls) if not f.metadata.get("bookkeeping") and f.name not in ("seed", "attempt")]
        return [*own, "seed", "attempt"]

    @classmethod
    def model_free(cls, section: dict) -> bool:
        """Whether the items this config section asks for are made without a model (so without a GPU or a
        worker), though the stage has one."""
        return False

    @classmethod
    def from_section(cls, section: dict, seed: int, attempt: int, **computed: Any) -> dict[str, Any]:
        """The recipe's values: each setting named like a key of its config section is that key's value, the
        others are computed. Only declared settings are taken, so a new config key joins no recipe by itself."""
        taken = {name: section[name] for name in cls.settings() if name in section and name not in computed}
        if taken.get("precision") == "auto":
            # today's default and the precision of every file made before the key existed: left out
            taken["precision"] = None
        return {**taken, **computed, "seed": seed, "attempt": attempt}


@dataclass(frozen=True)
class PromptedRecipe(Recipe):
    """A recipe whose model makes its output from a text prompt: those two come first."""

    prompt: str
    model_id: str


class _ByMusicBackend:
    """What tracks and their extensions share: each track's prompt (music.prompts), and MusicGen's recipe or, where
    music.backend (or a file's params) says ace_step, ACE-Step's."""

    # The recipe class of ACE-Step's kind of this item; None in ACE-Step's own classes.
    ace_step: ClassVar[type | None] = None

    @classmethod
    def _kind(cls, backend: str | None) -> type:
        return cls.ace_step if cls.ace_step is not None and backend == ACE_STEP else cls

    @classmethod
    def _computed(cls, music: dict) -> dict:
        """Settings computed from the section, beyond the prompt."""
        return {}

    @classmethod
    def build(cls, project: Project, i: int, seed: int, attempt: int) -> "Recipe":
        music = project.config["music"]
        kind = cls._kind(music["backend"])
        computed = {"prompt": prompt_of_track(music, i), **kind._computed(music)}
        return kind(**kind.from_section(music, seed, attempt, **computed))

    @classmethod
    def from_params(cls, params: dict) -> "Recipe":
        return cls._kind(params.get("backend"))(**params)


@dataclass(frozen=True)
class AceStepTrackRecipe(_ByMusicBackend, Recipe):
    """An ACE-Step track (music.backend ace_step) from text alone, initial_duration seconds long."""

    section: ClassVar[str] = "music"
    # First, so that the recipe says which kind of track it is (and the params tell the kinds apart).
    backend: str
    prompt: str
    model_id: str
    initial_duration: float
    inference_steps: int
    lyrics: str
    guidance_scale: float | None = None
    bpm: int | None = None
    keyscale: str | None = None
    timesignature: str | None = None
    precision: str | None = None

    @classmethod
    def _computed(cls, music: dict) -> dict:
        return {"initial_duration": initial_seconds(music)}


@dataclass(frozen=True)
class AceStepTrackExtRecipe(_ByMusicBackend, Recipe):
    """An ACE-Step track extended window by window, each repainting silence after the end of the music so far."""

    section: ClassVar[str] = "music"
    backend: str
    prompt: str
    model_id: str
    music_duration: float
    max_continuation_duration: float
    prompt_music_duration: float
    inference_steps: int
    guidance_scale: float | None = None
    bpm: int | None = None
    keyscale: str | None = None
    timesignature: str | None = None
    precision: str | None = None


@dataclass(frozen=True)
class TrackRecipe(_ByMusicBackend, PromptedRecipe):
    """A MusicGen track from the text prompt alone, initial_music_tokens long (or ACE-Step's, which it builds)."""

    ace_step: ClassVar[type | None] = AceStepTrackRecipe
    section: ClassVar[str] = "music"
    initial_music_tokens: int
    # The model's dtype (config `precision`); None: auto, as before the setting existed, so left out of params.
    precision: str | None = None


@dataclass(frozen=True)
class TrackExtRecipe(_ByMusicBackend, PromptedRecipe):
    """A track continued window by window, each with the end of the music so far as its audio prompt (or
    ACE-Step's, which it builds)."""

    ace_step: ClassVar[type | None] = AceStepTrackExtRecipe
    section: ClassVar[str] = "music"
    music_duration: float
    max_continuation_duration: float
    prompt_music_duration: float
    # The model's dtype (config `precision`); None: auto, as before the setting existed, so left out of params.
    precision: str | None = None


@dataclass(frozen=True)
class ImageRecipe(PromptedRecipe):
    """An image of a text-to-image family (aibeats.image_families); its prompt is the image prompt with the item's
    modifier."""

    inference_steps: int
    height: int
    width: int
    # The model's dtype (config `precision`); None: auto, as before the setting existed, so left out of params.
    precision: str | None = None
    # None: the family's default (0 for distilled models: what every image was made with before these existed),
    # left out of params like precision, so that images made before keep their recipes.
    guidance_scale: float | None = None
    negative_prompt: str | None = None
    max_sequence_length: int | None = None

    @classmethod
    def build(cls, project: Project, j: int, seed: int, attempt: int) -> "ImageRecipe":
        image = project.config["image"]
        return cls(**cls.from_section(image, seed, attempt, prompt=prompt_of_image(image, j)))


def prompt_of_image(image: dict, j: int) -> str:
    """Image j's prompt: the image prompt with its modifier."""
    modifiers = image["prompt_modifiers"]
    return image_prompt(image["prompt"], modifiers[modifier_of_image(j, len(modifiers))])


@dataclass(frozen=True)
class VideoRecipe(Recipe):
    """A Stable Video Diffusion animation of an image, continued and looped."""

    # Not a setting: animations were made by SVD before there was a choice, and their recipes stay as they were.
    backend: ClassVar[str] = "svd"
    model_id: str
    n_continuations: int
    loop_video: bool
    video_fps: int
    decode_chunk_size: int
    motion_bucket_id: int
    noise_aug_strength: float
    num_frames: int
    inference_steps: int
    max_side: int
    precision: str | None = None
    # The order of the settings as the config lists them: see the module docstring.
    key_order: tuple[str, ...] = field(default=(), compare=False, repr=False, metadata={"bookkeeping": True})

    @classmethod
    def build(cls, project: Project, j: int, seed: int, attempt: int) -> "VideoRecipe | KenBurnsRecipe":
        if cls.model_free(project.config["video"]):
            return KenBurnsRecipe.build(project, j, seed, attempt)
        if project.config["video"]["backend"] in BACKENDS:
            return PromptedVideoRecipe.build(project, j, seed, attempt)
        values = cls.from_section(project.config["video"], seed, attempt)
        settings_in_config_order = [key for key in project.config["video"] if key in values
                                    and not (key == "precision" and values[key] is None)]
        return cls(**values, key_order=(*settings_in_config_order, "seed", "attempt"))

    @classmethod
    def model_free(cls, section: dict) -> bool:
        return section["backend"] == KenBurnsRecipe.BACKEND

    @classmethod
    def from_params(cls, params: dict) -> "VideoRecipe | KenBurnsRecipe":
        if params.get("backend") == KenBurnsRecipe.BACKEND:
            return KenBurnsRecipe(**params)
        if params.get("backend") in BACKENDS:
            return PromptedVideoRecipe(**params)
        return cls(**params, key_order=tuple(params))

    def as_params(self) -> dict[str, Any]:
        order = self.key_order or self.settings()
        return {key: getattr(self, key) for key in order}


@dataclass(frozen=True)
class KenBurnsRecipe(Recipe):
    """An animation without a model (video.backend kenburns): a seeded camera move over the image, as many
    frames, of the same size, as an SVD animation with the same settings."""

    BACKEND: ClassVar[str] = "kenburns"
    section: ClassVar[str] = "video"
    # First, so that the recipe says which kind of animation it is (and the params tell the two apart).
    backend: str
    n_continuations: int
    loop_video: bool
    video_fps: int
    num_frames: int
    max_side: int
    kenburns_zoom: list[float]
    kenburns_pan: float


@dataclass(frozen=True)
class PromptedVideoRecipe(Recipe):
    """An animation by a model that takes a prompt with the image (video.backend wan or ltx,
    aibeats.video_backends): the image's own prompt plus video.motion_prompt."""

    section: ClassVar[str] = "video"
    # First, so that the recipe says which kind of animation it is (and the params tell the kinds apart).
    backend: str
    prompt: str
    model_id: str
    n_continuations: int
    # true, false or seamless (aibeats.items.SEAMLESS_LOOP)
    loop_video: bool | str
    video_fps: int
    num_frames: int
    inference_steps: int
    max_side: int
    # The backend's published default where video.guidance_scale is null: null and that value make one recipe.
    guidance_scale: float
    motion_prompt: str | None = None
    negative_prompt: str | None = None
    precision: str | None = None

    @classmethod
    def build(cls, project: Project, j: int, seed: int, attempt: int) -> "PromptedVideoRecipe":
        video = project.config["video"]
        backend = BACKENDS[video["backend"]]
        guidance = video["guidance_scale"] if video["guidance_scale"] is not None else backend.guidance_scale
        prompt = animation_prompt(prompt_of_image(project.config["image"], j), video["motion_prompt"])
        return cls(**cls.from_section(video, seed, attempt, prompt=prompt, guidance_scale=guidance))


@dataclass(frozen=True)
class ClipRecipe(Recipe):
    """A track's clip: its extended track looped and faded, over its animations in a seeded order."""

    # (animation file name, frames taken from it), in playing order
    animations: list[list]
    video_fps: int
    music_duration: float
    n_music_loops: int
    fade_out_duration: float
    # None keeps the track's own level, as the first releases' clips did
    loudness_lufs: float | None = None
    true_peak_db: float | None = None
    # With cut_on_beats the job plans `animations` anew from the track's beats, cycling through this order (the
    # seeded order of every animation the clip may show); None: the animations play whole, as they first did.
    cut_on_beats: bool | None = None
    animation_order: list[str] | None = None

    @classmethod
    def build(cls, project: Project, i: int, seed: int, attempt: int) -> "ClipRecipe":
        music, image, video = project.config["music"], project.config["image"], project.config["video"]
        loops = project.config["audio_clip"]["n_music_loops"]
        n_modifiers = len(image["prompt_modifiers"])
        clip_frames = round(music["music_duration"] * loops * video["video_fps"])
        candidates = images_of_modifier(modifier_of_track(i, n_modifiers), image["n_images"], n_modifiers)
        order = clip_animation_order(seed, candidates)
        animations = [[project.file_name("video", j), frames]
                      for j, frames in fill_clip(order, project.frames_per_animation, clip_frames)]
        clip = project.config["audio_clip"]
        # The ceiling belongs to the loudness target: without one, the track keeps its own level and peaks.
        true_peak_db = clip["true_peak_db"] if clip["loudness_lufs"] is not None else None
        # Named only when the clip cuts on the beats: every candidate of the track's modifier, a long list.
        on_beats = ({"cut_on_beats": True, "animation_order": [project.file_name("video", j) for j in order]}
                    if clip["cut_on_beats"] else {"cut_on_beats": None})
        return cls(**cls.from_section(clip, seed, attempt, animations=animations, video_fps=video["video_fps"],
                                      music_duration=music["music_duration"], true_peak_db=true_peak_db,
                                      **on_beats))

    @property
    def frames(self) -> int:
        return sum(frames for _, frames in self.animations)

    @property
    def showing(self) -> tuple:
        """What the clip's seed decides: which animations it shows, for how long, in which order."""
        return tuple(map(tuple, self.animations)), tuple(self.animation_order or ())

    @property
    def animation_names(self) -> list[str]:
        """Each animation the clip may show, once, sorted: with cut_on_beats, every one its plan can reach."""
        return sorted(self.animation_order or {name for name, _ in self.animations})


@dataclass(frozen=True)
class MixRecipe(Recipe):
    """The finished video: every clip in track order, each [first, end) of its frames, crossfaded."""

    section: ClassVar[str] = "mix"
    # [clip file name, first frame, end frame, its start in the mix in seconds]
    clips: list[list]
    crossfade_duration: float
    video_fps: int
    loudness_lufs: float
    true_peak_db: float
    audio_sample_rate: int
    # None: the animations' own size, stream-copied
    height: int | None = None

    @classmethod
    def build(cls, project: Project, index: int, seed: int, attempt: int) -> "MixRecipe":
        fps = project.config["video"]["video_fps"]
        crossfade_frames = project.crossfade_frames
        clips = [project.planned_recipe("audio_clip", i) for i in project.indices("audio_clip")]
        starts = mix_starts([clip.frames for clip in clips], crossfade_frames)[:-1]
        rows = [[project.file_name("audio_clip", i), None, None, start / fps]
                for i, start in zip(project.indices("audio_clip"), starts, strict=True)]
        recipe = cls(**cls.from_section(project.config["mix"], seed, attempt, clips=rows, video_fps=fps,
                                        crossfade_duration=crossfade_frames / fps))
        # Clips cut on the beat learn their animations' lengths, and so their keyframes, only when they are made.
        return recipe if project.config["audio_clip"]["cut_on_beats"] else recipe.cut_at(
            [clip.animations for clip in clips])

    def cut_at(self, clip_animations: list[list[list]]) -> "MixRecipe":
        """The recipe with the frames [first, end) the mix shows of each clip, given each clip's animations."""
        fps = self.video_fps
        frames = [sum(n for _, n in animations) for animations in clip_animations]
        spans = plan_mix(frames, [clip_keyframes(animations, fps) for animations in clip_animations],
                         round(self.crossfade_duration * fps))
        return replace(self, clips=[[name, first, end, start] for (name, _, _, start), (first, end)
                                    in zip(self.clips, spans, strict=True)])

    @property
    def placed(self) -> bool:
        """Whether the frames shown of each clip are known; see cut_at."""
        return self.clips[0][1] is not None


@dataclass(frozen=True)
class ChaptersRecipe(Recipe):
    """The chapter lines of the mix's description: where each track starts, and its title."""

    section: ClassVar[str] = "mix"
    # [start in seconds, title]
    chapters: list[list]
    mix_duration: float

    @classmethod
    def build(cls, project: Project, index: int, seed: int, attempt: int) -> "ChaptersRecipe":
        fps = project.config["video"]["video_fps"]
        modifiers = project.config["image"]["prompt_modifiers"]
        clip_frames = [project.planned_recipe("audio_clip", i).frames for i in project.indices("audio_clip")]
        *starts, end = mix_starts(clip_frames, project.crossfade_frames)
        titles = [_one_line(project.config["mix"]["chapter_titles"].format(
            track=i, modifier=modifiers[modifier_of_track(i, len(modifiers))],
            prompt=prompt_of_track(project.config["music"], i)))[:MAX_CHAPTER_TITLE]
            for i in project.indices("audio_clip")]
        return cls(chapters=[[start / fps, title] for start, title in zip(starts, titles, strict=True)],
                   mix_duration=end / fps, seed=seed, attempt=attempt)


def _one_line(title: str) -> str:
    """A chapter is one line: a line break (a YAML block modifier's, say) would start a line without a time,
    which YouTube takes for the end of the chapter list. Titles without one stay as they are."""
    return re.sub(r"\s*[\r\n]+\s*", " ", title).strip() if "\n" in title or "\r" in title else title


@dataclass(frozen=True)
class ThumbnailRecipe(Recipe):
    """The video's thumbnail: one image scaled to cover the frame, centre-cropped."""

    # Which image it shows is its input (mix.thumbnail_image): changing it remakes the thumbnail by itself.
    section: ClassVar[str] = "mix"
    width: int
    height: int

    @classmethod
    def build(cls, project: Project, index: int, seed: int, attempt: int) -> "ThumbnailRecipe":
        return cls(width=THUMBNAIL_SIZE[0], height=THUMBNAIL_SIZE[1], seed=seed, attempt=attempt)
