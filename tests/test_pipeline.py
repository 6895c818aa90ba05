"""The stage declaration: every place that names a stage's facts agrees with it."""

import re
from pathlib import Path

import pytest

from aibeats.config import load_schema, validate_config
from aibeats.history import item_of
from aibeats.pipeline import STAGES, attempts_pattern, stage_of_rule
from aibeats.plan import Project
from aibeats.seeds import derive_seed

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "schemas" / "config.schema.yaml"


def test_the_schema_allows_exactly_the_declared_item_names_as_attempts():
    assert load_schema(SCHEMA)["properties"]["attempts"]["propertyNames"]["pattern"] == attempts_pattern()
    assert validate_config({"attempts": {"track_2_ext": 1, "anim_10": 0}}, SCHEMA)["attempts"]["anim_10"] == 0
    pattern = re.compile(attempts_pattern())
    assert all(pattern.match(name) for name in ("track_2", "track_2_ext", "img_3", "anim_10", "clip_1"))
    assert not any(pattern.match(name) for name in ("track_0", "img_3_ext", "anim", "image_3", "clip_1.mp4"))


def test_the_history_names_each_output_by_its_declared_item():
    project = Project(validate_config({}, SCHEMA))
    for stage in STAGES.values():
        assert re.fullmatch(stage.item_pattern, item_of(project.output(stage.name, 7)))


@pytest.mark.parametrize(("stage", "file"), [
    ("music", "music/track_3.wav"), ("music_continuation", "music/track_3_ext.wav"),
    ("image", "images/img_3.png"), ("video", "animations/anim_3.mp4"), ("audio_clip", "clips/clip_3.mp4"),
    ("mix", "mix/mix.mp4"), ("chapters", "mix/chapters.txt"), ("thumbnail", "mix/thumbnail.png")])
def test_file_names_stay_as_every_earlier_release_wrote_them(stage, file):
    assert STAGES[stage].file(3) == file


def test_seeds_stay_as_every_earlier_release_derived_them():
    """A change here would re-roll every file of every existing project."""
    project = Project(validate_config({"seed": 42}, SCHEMA))
    first_release = ("music", "music_continuation", "image", "video", "audio_clip")
    assert [project.recipe(stage, 1, 0).seed for stage in first_release] == [
        derive_seed(42, name, 1, 0) for name in ("track", "track_ext", "image", "animation", "clip")]
    # img_3 of the demo as the first release made it, and its first re-roll
    assert (project.recipe("image", 3, 0).seed, project.recipe("image", 3, 1).seed) == (266431153, 2031589535)


def test_rules_map_back_to_their_stage():
    assert {stage_of_rule(stage.rule).name for stage in STAGES.values()} == set(STAGES)
    assert stage_of_rule("build_tiny_model") is None
