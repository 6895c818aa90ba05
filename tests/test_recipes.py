"""Recipes hold only what their stage reads: a setting in a recipe that its job never reads would regenerate
files when it changes without changing them. Each stage's job runs here on the demo's models and files, with
a recipe that records which of its settings are read."""

from pathlib import Path

import pytest

from aibeats.config import validate_config
from aibeats.generate import generate
from aibeats.pipeline import STAGES
from aibeats.plan import Project
from aibeats.recipes import Recipe, VideoRecipe
from aibeats.stages import maker_of

from workflow import demo_config

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DEMO = Project(validate_config(demo_config(), SCHEMA))
ON_BEATS = Project(validate_config(
    {**demo_config(), "audio_clip": {**demo_config()["audio_clip"], "cut_on_beats": True}}, SCHEMA))
KENBURNS = Project(validate_config(
    {**demo_config(), "video": {**demo_config()["video"], "backend": "kenburns"}}, SCHEMA))
IN_PROCESS = {"enabled": False, "idle_timeout": 60, "start_timeout": 600, "models_fit_together": False}


class ReadRecorder:
    """Stands in for a recipe and notes each setting read from it."""

    def __init__(self, recipe: Recipe):
        self._recipe = recipe
        self.read: set[str] = set()

    def __getattr__(self, name: str):
        if name in type(self._recipe).settings():
            self.read.add(name)
        return getattr(self._recipe, name)


def inputs_of(stage: str, project: Project = DEMO) -> dict:
    return {"music": {}, "music_continuation": {"track": DEMO.track(1)}, "image": {},
            "video": {"image": DEMO.image(1)},
            "audio_clip": {"track": DEMO.track_ext(1), "animations": project.clip_animations(1)},
            "mix": {"clips": DEMO.outputs("audio_clip")}, "chapters": {}, "thumbnail": {"image": DEMO.image(1)}}[stage]


CASES = {**{stage: (stage, DEMO) for stage in STAGES}, "audio_clip cut on beats": ("audio_clip", ON_BEATS),
         "video kenburns": ("video", KENBURNS)}


@pytest.mark.parametrize("case", list(CASES))
def test_each_stage_reads_every_setting_of_its_recipe(demo_copy, monkeypatch, tmp_path, case):
    stage, project = CASES[case]
    monkeypatch.chdir(demo_copy)  # the demo's model ids and inputs are relative to its folder
    recipe = ReadRecorder(project.recipe(stage, 1, 0))
    output = tmp_path / Path(STAGES[stage].file(1)).name
    if not STAGES[stage].uses_model(project.config):
        maker_of(stage)(None, recipe, inputs_of(stage, project), output, tmp_path / "history")
    else:
        generate(stage, recipe, inputs_of(stage, project), output, tmp_path / "history", device="cpu",
                 workers=IN_PROCESS, workers_dir=tmp_path / ".workers")
    assert output.stat().st_size > 0
    # Every setting the recipe carries (an optional one left at None is not carried: see Recipe.as_params)
    assert set(recipe._recipe.as_params()) <= recipe.read


def test_the_animation_recipe_keeps_the_key_order_of_the_config():
    """Earlier releases stored it in that order, in Snakemake's metadata and inside each animation."""
    recipe = DEMO.recipe("video", 1, 0)
    params = recipe.as_params()
    assert list(params)[:3] == ["model_id", "num_frames", "n_continuations"]
    again = VideoRecipe.from_params(params)
    assert again == recipe and list(again.as_params()) == list(params)
