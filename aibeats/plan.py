"""What a project makes: its items, where they live, and the recipe (settings + seed) of each one.

The recipes are the Snakemake `params` of the rules, so they must hold exactly the values that shape an
output: a setting in a recipe regenerates what it shapes when it changes, and nothing else does.
"""

import hashlib
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aibeats.animation import animation_frame_count
from aibeats.history import item_of, read_history, settle_history
from aibeats.seeds import derive_seed


def image_prompt(prompt: str, modifier: str) -> str:
    return f"{prompt}, {modifier}."


def modifier_of_image(j: int, n_modifiers: int) -> int:
    """Images take the modifiers in turn (img_1: first, img_2: second, ...).

    Interleaving, rather than giving each modifier a block of n_images numbers, means raising n_images only
    appends new numbers and never renumbers an existing image.
    """
    return (j - 1) % n_modifiers


def modifier_of_track(i: int, n_modifiers: int) -> int:
    """Track i is shown with the animations of one modifier, the tracks cycling through the modifiers."""
    return (i - 1) % n_modifiers


def images_of_modifier(modifier: int, n_images: int, n_modifiers: int) -> list[int]:
    return [modifier + 1 + k * n_modifiers for k in range(n_images)]


def plan_clip_animations(seed: int, animations: list[int], frames_per_animation: int,
                         clip_frames: int) -> list[tuple[int, int]]:
    """Which animations fill a clip, in order, and how many frames of each: (animation index, frames).

    The animations are shuffled by a per-animation random key rather than by shuffling the list, so adding an
    animation slots it in somewhere without reordering the others: a clip whose first animations stay the
    same keeps the same plan, and Snakemake does not rebuild it. The list is cycled until the frames cover
    the clip; the last animation is cut.
    """
    order = sorted(animations, key=lambda j: hashlib.sha256(f"{seed}:{j}".encode()).digest())
    plan: list[tuple[int, int]] = []
    remaining = clip_frames
    for j in itertools.cycle(order):
        if remaining <= 0:
            break
        frames = min(frames_per_animation, remaining)
        plan.append((j, frames))
        remaining -= frames
    return plan


def made_by_file(output: Path) -> dict | None:
    """The attempt and seed recorded inside a generated file, or None if it holds no readable recipe."""
    from aibeats.errors import MediaError
    from aibeats.provenance import read_recipe

    try:
        recipe = read_recipe(output)
        return {"attempt": int(recipe["attempt"]), "seed": int(recipe["seed"])}
    except (MediaError, KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Project:
    """The validated config of one project, each item's attempt for this run, and everything derived from them."""

    config: dict
    # Items missing here are new: attempt 0. Pins in config["attempts"] win over both.
    attempts: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def for_run(cls, config: dict, main_process: bool) -> "Project":
        """The project with every item's attempt decided once for this run.

        Only Snakemake's main process settles the history (it alone sees the files as the user left them);
        any other process (a cluster job on its node) reads what the main process settled.
        """
        project = cls(config)
        outputs = {item_of(path): path for paths in project.outputs_by_stage().values() for path in paths}
        if main_process:
            attempts = settle_history(project.history_dir, outputs, made_by_file)
        else:
            attempts = read_history(project.history_dir, list(outputs))
        return cls(config, attempts)

    @property
    def root(self) -> Path:
        return Path(self.config["project_dir"]) / self.config["project_name"]

    @property
    def history_dir(self) -> Path:
        return self.root / "history"

    @property
    def workers_dir(self) -> Path:
        return self.root / ".workers"

    @property
    def track_indices(self) -> list[int]:
        return list(range(1, self.config["music"]["n_music"] + 1))

    @property
    def image_indices(self) -> list[int]:
        image = self.config["image"]
        return list(range(1, image["n_images"] * len(image["prompt_modifiers"]) + 1))

    def track(self, i: int) -> Path:
        return self.root / "music" / f"track_{i}.wav"

    def track_ext(self, i: int) -> Path:
        return self.root / "music" / f"track_{i}_ext.wav"

    def image(self, j: int) -> Path:
        return self.root / "images" / f"img_{j}.png"

    def animation(self, j: int) -> Path:
        return self.root / "animations" / f"anim_{j}.mp4"

    def clip(self, i: int) -> Path:
        return self.root / "clips" / f"clip_{i}.mp4"

    def output(self, stage: str, index: int) -> Path:
        paths = {"music": self.track, "music_continuation": self.track_ext, "image": self.image,
                 "video": self.animation, "audio_clip": self.clip}
        return paths[stage](index)

    def outputs_by_stage(self) -> dict[str, list[Path]]:
        return {stage: [self.output(stage, index) for index in indices]
                for stage, indices in (("music", self.track_indices), ("music_continuation", self.track_indices),
                                       ("image", self.image_indices), ("video", self.image_indices),
                                       ("audio_clip", self.track_indices))}

    def attempt(self, stage: str, index: int) -> int:
        """The attempt this run makes an item with: its pin, else what the history settled at the start."""
        item = item_of(self.output(stage, index))
        pinned = self.config["attempts"]
        return pinned[item] if item in pinned else self.attempts.get(item, 0)

    def _seeded(self, stage: str, index: int, attempt: int) -> dict:
        return {"seed": derive_seed(self.config["seed"], stage, index, attempt), "attempt": attempt}

    def track_recipe(self, i: int, attempt: int) -> dict:
        music = self.config["music"]
        return {"prompt": music["prompt"], "model_id": music["model_id"],
                "initial_music_tokens": music["initial_music_tokens"], **self._seeded("track", i, attempt)}

    def track_ext_recipe(self, i: int, attempt: int) -> dict:
        music = self.config["music"]
        keys = ("prompt", "model_id", "music_duration", "max_continuation_duration", "prompt_music_duration")
        return {**{k: music[k] for k in keys}, **self._seeded("track_ext", i, attempt)}

    def image_recipe(self, j: int, attempt: int) -> dict:
        image = self.config["image"]
        modifiers = image["prompt_modifiers"]
        modifier = modifiers[modifier_of_image(j, len(modifiers))]
        return {"prompt": image_prompt(image["prompt"], modifier), "model_id": image["model_id"],
                "inference_steps": image["inference_steps"], "height": image["height"], "width": image["width"],
                **self._seeded("image", j, attempt)}

    def animation_recipe(self, j: int, attempt: int) -> dict:
        video = {k: v for k, v in self.config["video"].items() if k != "device"}
        return {**video, **self._seeded("animation", j, attempt)}

    @property
    def frames_per_animation(self) -> int:
        video = self.config["video"]
        return animation_frame_count(video["num_frames"], video["n_continuations"], video["loop_video"])

    def clip_recipe(self, i: int, attempt: int) -> dict:
        music, image, video = self.config["music"], self.config["image"], self.config["video"]
        loops = self.config["audio_clip"]["n_music_loops"]
        n_modifiers = len(image["prompt_modifiers"])
        clip_frames = round(music["music_duration"] * loops * video["video_fps"])
        seeded = self._seeded("clip", i, attempt)
        candidates = images_of_modifier(modifier_of_track(i, n_modifiers), image["n_images"], n_modifiers)
        plan = plan_clip_animations(seeded["seed"], candidates, self.frames_per_animation, clip_frames)
        return {"animations": [[self.animation(j).name, frames] for j, frames in plan], "video_fps": video["video_fps"],
                "music_duration": music["music_duration"], "n_music_loops": loops,
                "fade_out_duration": self.config["audio_clip"]["fade_out_duration"], **seeded}

    def recipe(self, stage: str, index: int, attempt: int) -> dict:
        recipes = {"music": self.track_recipe, "music_continuation": self.track_ext_recipe,
                   "image": self.image_recipe, "video": self.animation_recipe, "audio_clip": self.clip_recipe}
        return recipes[stage](index, attempt)

    def planned_recipe(self, stage: str, index: int) -> dict:
        """The recipe of an item at the attempt this run makes it with."""
        return self.recipe(stage, index, self.attempt(stage, index))

    def clip_animations(self, i: int) -> list[Path]:
        """The animation files clip i is made of (each once), for the clip rule's input.

        From the very recipe the clip's job gets as params, so its inputs and its plan never disagree.
        """
        recipe = self.planned_recipe("audio_clip", i)
        names = sorted({name for name, _ in recipe["animations"]})
        return [self.root / "animations" / name for name in names]
