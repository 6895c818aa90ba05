"""The stages of the pipeline, each declared once.

Everything else derives a stage's facts from here: the rules (output, log, GPU, env, script), the targets, the
project's paths and seeds, the history's item names, the schema's `attempts` pattern (checked by a test),
`aibeats status`, the model families of the workers, and the profile and env tests. Adding a stage starts
with one entry in STAGES (see CONTRIBUTING.md).

This module imports nothing heavy: the thin client jobs read it too.
"""

import re
from dataclasses import dataclass

from aibeats.recipes import (
    ChaptersRecipe,
    ClipRecipe,
    ImageRecipe,
    MixRecipe,
    Recipe,
    ThumbnailRecipe,
    TrackExtRecipe,
    TrackRecipe,
    VideoRecipe,
)


@dataclass(frozen=True)
class Stage:
    # The stage's name wherever a user sees it: its target (`snakemake image`), its label in `aibeats status`
    # and in the recipe stored in each file, the stage key of `attempts`-style tables.
    name: str
    # The rule that makes one file, and its script under scripts/ (named like it).
    rule: str
    # The file one job makes, relative to the project folder; {index} is the item's number.
    output: str
    # Which numbers the stage makes: one file per track, one per image, or one for the project (no number).
    items: str
    # The config section that holds the stage's settings and its device.
    config_section: str
    # The model family a worker keeps loaded for the stage's jobs; None for stages without a model.
    family: str | None
    # Its conda env under envs/.
    env: str
    recipe: type[Recipe]
    # Where the function that makes one item lives (imported on demand: it pulls in the model libraries).
    maker: str
    # Kept from the first release, where the seed derivation named the stages this way: changing it would
    # re-roll every file of every existing project.
    seed_name: str
    # Its heading on the review page and its category in Snakemake's report.
    title: str
    # Whether its maker spreads its work over every core of its job (a `threads` argument); model stages do, by
    # their workers, whatever this says.
    parallel: bool = False

    @property
    def needs_gpu(self) -> bool:
        """Whether its jobs load a model, and so take a GPU (unless the config makes them model-free)."""
        return self.family is not None

    def uses_model(self, config: dict) -> bool:
        """Whether this config's items load a model: not animations with video.backend kenburns."""
        return self.needs_gpu and not self.recipe.model_free(config[self.config_section])

    @property
    def wildcard(self) -> str | None:
        return {"tracks": "i", "images": "j", "project": None}[self.items]

    @property
    def output_pattern(self) -> str:
        """The output with its Snakemake wildcard, relative to the project folder."""
        return self.output.format(index=f"{{{self.wildcard}}}") if self.wildcard else self.output

    def file(self, index: int) -> str:
        return self.output.format(index=index)

    @property
    def item_pattern(self) -> str:
        """A regular expression for the items it makes: output file names without extension (img_3)."""
        name = self.output.rsplit("/", 1)[-1].split(".")[0]
        return re.escape(name).replace(re.escape("{index}"), "[1-9][0-9]*")


STAGES: dict[str, Stage] = {stage.name: stage for stage in (
    Stage("music", rule="generate_track", output="music/track_{index}.wav", items="tracks", config_section="music",
          family="music", env="music", recipe=TrackRecipe, maker="aibeats.stages:make_track", seed_name="track",
          title="Tracks"),
    Stage("music_continuation", rule="extend_track", output="music/track_{index}_ext.wav", items="tracks",
          config_section="music", family="music", env="music", recipe=TrackExtRecipe,
          maker="aibeats.stages:make_track_ext", seed_name="track_ext", title="Extended tracks"),
    Stage("image", rule="generate_image", output="images/img_{index}.png", items="images", config_section="image",
          family="image", env="image", recipe=ImageRecipe, maker="aibeats.stages:make_image", seed_name="image",
          title="Images"),
    Stage("video", rule="animate_image", output="animations/anim_{index}.mp4", items="images",
          config_section="video", family="video", env="video", recipe=VideoRecipe,
          maker="aibeats.stages:make_animation", seed_name="animation", title="Animations"),
    Stage("audio_clip", rule="assemble_clip", output="clips/clip_{index}.mp4", items="tracks",
          config_section="audio_clip", family=None, env="clip", recipe=ClipRecipe, maker="aibeats.stages:make_clip",
          seed_name="clip", title="Clips"),
    Stage("mix", rule="mix_clips", output="mix/mix.mp4", items="project", config_section="mix", family=None,
          env="clip", recipe=MixRecipe, maker="aibeats.stages:make_mix", seed_name="mix", title="The mix",
          parallel=True),
    Stage("chapters", rule="write_chapters", output="mix/chapters.txt", items="project", config_section="mix",
          family=None, env="clip", recipe=ChaptersRecipe, maker="aibeats.stages:make_chapters",
          seed_name="chapters", title="Chapters"),
    Stage("thumbnail", rule="make_thumbnail", output="mix/thumbnail.png", items="project", config_section="mix",
          family=None, env="clip", recipe=ThumbnailRecipe, maker="aibeats.stages:make_thumbnail",
          seed_name="thumbnail", title="Thumbnail"),
)}

# The rule that builds the demo's tiny models: not a stage (it makes models, not project files), but listed
# by status and asked no GPU by the profiles.
TINY_MODEL_RULE = "build_tiny_model"
# The rule that writes the review page from every output: not a stage either (it generates nothing).
REVIEW_RULE = "write_review_page"


def stage_of_rule(rule: str) -> Stage | None:
    return next((stage for stage in STAGES.values() if stage.rule == rule), None)


def attempts_pattern() -> str:
    """What the config's `attempts` keys may be: the item names of every stage."""
    return "^(" + "|".join(stage.item_pattern for stage in STAGES.values()) + ")$"
