"""music.prompts: a tracklist of moods taken in turn by the tracks, like the image modifiers; chapter titles may
name a track's prompt."""

from pathlib import Path

import pytest

from aibeats.config import validate_config
from aibeats.errors import ConfigError
from aibeats.plan import Project

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
MOODS = ["rainy night lo-fi", "coffee shop jazz hop", "late train ambient"]


def project(music: dict, mix: dict | None = None) -> Project:
    return Project(validate_config({"music": {"n_music": 5, **music}, "mix": mix or {}}, SCHEMA))


def prompts(tracks: Project, stage: str) -> list[str]:
    return [tracks.planned_recipe(stage, i).prompt for i in tracks.track_indices]


def test_three_prompts_over_five_tracks_are_taken_in_turn():
    tracks = project({"prompts": MOODS})
    assert prompts(tracks, "music") == [MOODS[0], MOODS[1], MOODS[2], MOODS[0], MOODS[1]]
    # each extension continues its track with the track's own prompt
    assert prompts(tracks, "music_continuation") == prompts(tracks, "music")


def test_without_a_tracklist_every_track_takes_music_prompt_as_before():
    one = project({"prompt": "jazzy lo-fi"})
    assert set(prompts(one, "music")) == {"jazzy lo-fi"}
    # a tracklist of that one prompt makes the very same recipes
    assert all(project({"prompt": "jazzy lo-fi", "prompts": ["jazzy lo-fi"]}).planned_recipe("music", i)
               == one.planned_recipe("music", i) for i in one.track_indices)


def test_a_prompt_added_to_the_tracklist_changes_only_the_tracks_that_take_it():
    before, after = project({"prompts": MOODS}), project({"prompts": [*MOODS, "city rooftop chill"]})
    changed = [i for i in before.track_indices
               if before.planned_recipe("music", i) != after.planned_recipe("music", i)]
    # track 4 takes the new prompt, track 5 the first; no track is renumbered
    assert changed == [4, 5]


def test_chapter_titles_may_name_each_tracks_prompt():
    tracks = project({"prompts": MOODS}, {"chapter_titles": "{track}. {prompt}"})
    titles = [title for _, title in tracks.planned_recipe("chapters", 1).chapters]
    assert titles == [f"{i}. {MOODS[(i - 1) % 3]}" for i in range(1, 6)]


@pytest.mark.parametrize(("music", "mix", "expected"), [
    ({"prompts": []}, {}, "config key music.prompts = [] is not allowed: it must list at least 1 entry"),
    ({}, {"chapter_titles": "{track} {mood}"},
     "config key mix.chapter_titles = '{track} {mood}' is not allowed: it may only use {track}, {modifier} and "
     "{prompt} (KeyError('mood'))"),
])
def test_a_bad_tracklist_or_title_is_refused_in_one_line(music, mix, expected):
    with pytest.raises(ConfigError) as raised:
        project(music, mix)
    assert str(raised.value) == expected
