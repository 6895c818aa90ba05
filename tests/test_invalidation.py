"""Exact invalidation: after a full demo run, each change plans exactly the jobs whose output it changes.

Each case changes a copy of the finished run (deletes a file, adds a track, edits a script) and compares the
jobs of a real `snakemake --dry-run` with the expected set. Config edits are run for real, twice, in
tests/test_settle.py.
"""

from pathlib import Path

import pytest
import yaml

from aibeats.config import validate_config
from aibeats.plan import Project

from workflow import and_review_page, demo_config, planned_jobs

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DEMO = Project(validate_config(demo_config(), SCHEMA))


def edited_config(workdir: Path, edit: dict) -> list[str]:
    """Command-line args that layer `edit` over the demo config, like a user's own config file would."""
    (workdir / "edit.yaml").write_text(yaml.safe_dump(edit))
    return ["--configfile", "profiles/demo/demo-config.yaml", "edit.yaml"]


def clips_using(animation: str, project: Project = DEMO) -> set[tuple[str, str]]:
    return {("assemble_clip", project.clip(i).name) for i in project.track_indices
            if animation in {name for name, _ in project.clip_recipe(i, 0).animations}}


MIX = {("mix_clips", "mix.mp4")}


def test_delete_an_animation_rebuilds_it_its_clips_and_the_mix_not_its_image(demo_copy):
    (demo_copy / DEMO.animation(4)).unlink()
    assert planned_jobs(demo_copy) == and_review_page({("animate_image", "anim_4.mp4")} | clips_using("anim_4.mp4")
                                                      | MIX)


def test_one_more_track_adds_its_track_extension_and_clip_and_remakes_the_mix_and_chapters(demo_copy):
    args = edited_config(demo_copy, {"music": {"n_music": 3}})
    assert planned_jobs(demo_copy, *args) == and_review_page(
        {("generate_track", "track_3.wav"), ("extend_track", "track_3_ext.wav"), ("assemble_clip", "clip_3.mp4"),
         ("write_chapters", "chapters.txt")} | MIX)


def test_editing_a_comment_in_any_script_reruns_nothing(demo_copy):
    for script in (demo_copy / "scripts").glob("*.py"):
        script.write_text(script.read_text() + "\n# a comment added by a user\n")
    assert planned_jobs(demo_copy) == set()


def test_editing_a_conda_env_reruns_nothing(demo_copy):
    for env in (demo_copy / "envs").glob("*.yaml"):
        env.write_text(env.read_text() + "\n# a comment added by a user\n")
    assert planned_jobs(demo_copy) == set()
