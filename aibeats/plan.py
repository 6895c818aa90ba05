"""What a project makes: its items, where they live, and the recipe (settings + seed) of each one.

The recipes are the Snakemake `params` of the rules, so they must hold exactly the values that shape an
output: a setting in a recipe regenerates what it shapes when it changes, and nothing else does.
"""

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from aibeats.history import item_of, read_history, settle_history
from aibeats.items import animation_frame_count
from aibeats.pins import read_pins
from aibeats.pipeline import STAGES, attempts_pattern
from aibeats.recipes import ClipRecipe, Recipe
from aibeats.seeds import derive_seed

# Enough later attempts to find another order of a clip's animations where there is one: with two animations
# each attempt has another with even odds, so one in 2**16 re-rolls would find none.
_CLIP_REROLL_TRIES = 16
_CLIP_ITEM = item_of(STAGES["audio_clip"].file(1)).rpartition("_")[0]


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
    """The validated config of one project, each item's attempt for this run, and everything derived from them.

    A project never changes once made (nor may its config), so what it derives is derived once: planning a
    run asks for the same recipes many times (a clip's as its job's params, for its input's animations, and
    for the mix and the chapters, which read every clip's), and a big project has thousands of items.
    """

    config: dict
    # Items missing here are new: attempt 0. Pins in config["attempts"] win over both.
    attempts: Mapping[str, int] = field(default_factory=dict)
    # Each recipe built so far, by (stage, index, attempt); not part of what the project is.
    _recipes: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    @classmethod
    def for_run(cls, config: dict, main_process: bool) -> "Project":
        """The project with every item's attempt decided once for this run.

        Only Snakemake's main process settles the history (it alone sees the files as the user left them);
        any other process (a cluster job on its node) reads what the main process settled.
        """
        # Items kept on the review page are pinned like the config's `attempts`, which win where both name one.
        config = {**config, "attempts": {**read_pins(cls(config).root, attempts_pattern()), **config["attempts"]}}
        project = cls(config)
        outputs = {item_of(path): path for paths in project.outputs_by_stage().values() for path in paths}
        if main_process:
            attempts = settle_history(project.history_dir, outputs, made_by_file, config["attempts"],
                                      project.reroll_attempt)
        else:
            attempts = read_history(project.history_dir, list(outputs))
        return cls(config, attempts)

    def reroll_attempt(self, item: str, attempt: int) -> int:
        """The attempt that replaces an item the user deleted: a new seed makes a new image, animation or track,
        but a clip's seed only orders its animations, and a track with two has two orders. So a clip takes the
        next attempt that shows them differently; one with a single animation can only say that it cannot."""
        name, _, number = item.rpartition("_")
        if name != _CLIP_ITEM or not number.isdigit():
            return attempt + 1
        i = int(number)
        deleted = self.clip_recipe(i, attempt).showing
        for later in range(attempt + 1, attempt + 1 + _CLIP_REROLL_TRIES):
            if self.clip_recipe(i, later).showing != deleted:
                return later
        print(f"ai-beats: {item} shows its animations in the only order there is: its re-roll makes the same clip. "
              "Re-roll one of its animations or images, or add image.n_images, for a new one.", file=sys.stderr)
        return attempt + 1

    @cached_property
    def root(self) -> Path:
        return Path(self.config["project_dir"]) / self.config["project_name"]

    @property
    def history_dir(self) -> Path:
        return self.root / "history"

    @property
    def workers_dir(self) -> Path:
        return self.root / ".workers"

    def indices(self, stage: str) -> list[int]:
        """The numbers of the items a stage makes: one per track, or one per image."""
        if STAGES[stage].items == "project":
            return [1]
        if STAGES[stage].items == "tracks":
            return list(range(1, self.config["music"]["n_music"] + 1))
        image = self.config["image"]
        return list(range(1, image["n_images"] * len(image["prompt_modifiers"]) + 1))

    @property
    def track_indices(self) -> list[int]:
        return self.indices("music")

    @property
    def image_indices(self) -> list[int]:
        return self.indices("image")

    def output(self, stage: str, index: int) -> Path:
        return self.root / STAGES[stage].file(index)

    def file_name(self, stage: str, index: int) -> str:
        """The name of an item's output file (anim_3.mp4): `output(stage, index).name`, without making a path."""
        return STAGES[stage].file(index).rsplit("/", 1)[-1]

    def outputs(self, stage: str) -> list[Path]:
        return [self.output(stage, index) for index in self.indices(stage)]

    def outputs_by_stage(self) -> dict[str, list[Path]]:
        return {stage: self.outputs(stage) for stage in STAGES}

    def track(self, i: int) -> Path:
        return self.output("music", i)

    def track_ext(self, i: int) -> Path:
        return self.output("music_continuation", i)

    def image(self, j: int) -> Path:
        return self.output("image", j)

    def animation(self, j: int) -> Path:
        return self.output("video", j)

    def clip(self, i: int) -> Path:
        return self.output("audio_clip", i)

    def attempt(self, stage: str, index: int) -> int:
        """The attempt this run makes an item with: its pin, else what the history settled at the start."""
        item = item_of(self.file_name(stage, index))
        pinned = self.config["attempts"]
        return pinned[item] if item in pinned else self.attempts.get(item, 0)

    @property
    def crossfade_frames(self) -> int:
        """How many frames consecutive clips overlap by in the mix: the crossfade, to the nearest frame."""
        return round(self.config["mix"]["crossfade_duration"] * self.config["video"]["video_fps"])

    @property
    def frames_per_animation(self) -> int:
        video = self.config["video"]
        return animation_frame_count(video["num_frames"], video["n_continuations"], video["loop_video"])

    def recipe(self, stage: str, index: int, attempt: int) -> Recipe:
        """The recipe of an item at an attempt (built once, then shared: recipes are frozen, never change it)."""
        key = (stage, index, attempt)
        if key not in self._recipes:
            declared = STAGES[stage]
            seed = derive_seed(self.config["seed"], declared.seed_name, index, attempt)
            self._recipes[key] = declared.recipe.build(self, index, seed, attempt)
        return self._recipes[key]

    def planned_recipe(self, stage: str, index: int) -> Recipe:
        """The recipe of an item at the attempt this run makes it with."""
        return self.recipe(stage, index, self.attempt(stage, index))

    def clip_recipe(self, i: int, attempt: int) -> ClipRecipe:
        return self.recipe("audio_clip", i, attempt)

    def inputs_of(self, stage: str, index: int) -> list[Path]:
        """The project files one item is made from, as its rule's input lists them (checked against Snakemake's
        own plan by tests/test_review.py): what re-rolling one of them regenerates it."""
        if stage == "music_continuation":
            return [self.track(index)]
        if stage == "video":
            return [self.image(index)]
        if stage == "audio_clip":
            return [self.track_ext(index), *self.clip_animations(index)]
        if stage == "mix":
            return self.outputs("audio_clip")
        if stage == "thumbnail":
            return [self.image(self.config["mix"]["thumbnail_image"])]
        return []

    def clip_animations(self, i: int) -> list[Path]:
        """The animation files clip i is made of (each once), for the clip rule's input.

        From the very recipe the clip's job gets as params, so its inputs and its plan never disagree.
        """
        return [self.root / "animations" / name for name in self.planned_recipe("audio_clip", i).animation_names]
