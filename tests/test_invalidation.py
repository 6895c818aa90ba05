"""Exact invalidation: after a full demo run, each edit plans exactly the jobs whose output it changes.

Each case edits a copy of the finished run (deletes a file, changes the config, edits a script) and compares
the jobs of a real `snakemake --dry-run` with the expected set.
"""

from pathlib import Path

import pytest
import yaml

from aibeats.config import validate_config
from aibeats.plan import Project

from workflow import demo_config, planned_jobs

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DEMO = Project(validate_config(demo_config(), SCHEMA))


def edited_config(workdir: Path, edit: dict) -> list[str]:
    """Command-line args that layer `edit` over the demo config, like a user's own config file would."""
    (workdir / "edit.yaml").write_text(yaml.safe_dump(edit))
    return ["--configfile", "profiles/demo/demo-config.yaml", "edit.yaml"]


def clips_using(animation: str, project: Project = DEMO) -> set[tuple[str, str]]:
    return {("assemble_clip", project.clip(i).name) for i in project.track_indices
            if animation in {name for name, _ in project.clip_recipe(i, 0)["animations"]}}


def every(rule: str, paths) -> set[tuple[str, str]]:
    return {(rule, path.name) for path in paths}


STAGES = DEMO.outputs_by_stage()


def test_delete_an_animation_rebuilds_it_and_its_clips_not_its_image(demo_copy):
    (demo_copy / DEMO.animation(4)).unlink()
    assert planned_jobs(demo_copy) == {("animate_image", "anim_4.mp4")} | clips_using("anim_4.mp4")


def test_delete_a_track_rebuilds_it_its_extension_and_its_clip(demo_copy):
    (demo_copy / DEMO.track(2)).unlink()
    assert planned_jobs(demo_copy) == {("generate_track", "track_2.wav"), ("extend_track", "track_2_ext.wav"),
                                       ("assemble_clip", "clip_2.mp4")}


def test_change_one_prompt_modifier_rebuilds_only_its_images_animations_and_clips(demo_copy):
    modifiers = demo_config()["image"]["prompt_modifiers"]
    args = edited_config(demo_copy, {"image": {"prompt_modifiers": [modifiers[0], "ink drawing"]}})
    # the second modifier's images are img_2 and img_4
    expected = {("generate_image", "img_2.png"), ("generate_image", "img_4.png"),
                ("animate_image", "anim_2.mp4"), ("animate_image", "anim_4.mp4")}
    expected |= clips_using("anim_2.mp4") | clips_using("anim_4.mp4")
    assert planned_jobs(demo_copy, *args) == expected


def test_change_motion_bucket_rebuilds_animations_and_clips_only(demo_copy):
    args = edited_config(demo_copy, {"video": {"motion_bucket_id": 50}})
    assert planned_jobs(demo_copy, *args) == every("animate_image", STAGES["video"]) | every(
        "assemble_clip", STAGES["audio_clip"])


def test_change_music_prompt_rebuilds_music_and_clips_only(demo_copy):
    args = edited_config(demo_copy, {"music": {"prompt": "jazzy lo-fi with a warm bass"}})
    assert planned_jobs(demo_copy, *args) == (every("generate_track", STAGES["music"])
                                              | every("extend_track", STAGES["music_continuation"])
                                              | every("assemble_clip", STAGES["audio_clip"]))


def test_change_music_loops_rebuilds_clips_only(demo_copy):
    args = edited_config(demo_copy, {"audio_clip": {"n_music_loops": 2}})
    assert planned_jobs(demo_copy, *args) == every("assemble_clip", STAGES["audio_clip"])


def test_one_more_track_adds_its_track_extension_and_clip_only(demo_copy):
    args = edited_config(demo_copy, {"music": {"n_music": 3}})
    assert planned_jobs(demo_copy, *args) == {("generate_track", "track_3.wav"), ("extend_track", "track_3_ext.wav"),
                                              ("assemble_clip", "clip_3.mp4")}


def test_one_more_image_per_modifier_adds_images_and_rebuilds_only_changed_clips(demo_copy):
    edit = {"image": {"n_images": 3}}
    args = edited_config(demo_copy, edit)
    bigger = Project(validate_config({**demo_config(), "image": {**demo_config()["image"], **edit["image"]}},
                                     SCHEMA))
    new_images = [j for j in bigger.image_indices if j not in DEMO.image_indices]
    assert new_images == [5, 6]
    changed_clips = {("assemble_clip", bigger.clip(i).name) for i in DEMO.track_indices
                     if bigger.clip_recipe(i, 0) != DEMO.clip_recipe(i, 0)}
    expected = {("generate_image", f"img_{j}.png") for j in new_images}
    expected |= {("animate_image", f"anim_{j}.mp4") for j in new_images} | changed_clips
    assert planned_jobs(demo_copy, *args) == expected


def test_editing_a_comment_in_any_script_reruns_nothing(demo_copy):
    for script in (demo_copy / "scripts").glob("*.py"):
        script.write_text(script.read_text() + "\n# a comment added by a user\n")
    assert planned_jobs(demo_copy) == set()


def test_editing_a_conda_env_reruns_nothing(demo_copy):
    for env in (demo_copy / "envs").glob("*.yaml"):
        env.write_text(env.read_text() + "\n# a comment added by a user\n")
    assert planned_jobs(demo_copy) == set()
