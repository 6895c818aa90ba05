"""Config edits settle: the first run remakes exactly what an edit affects, once, with the same variants; the
second run does nothing. Checked on real runs of the demo, by the jobs each run ran and the files' hashes."""

import json
from pathlib import Path

import pytest
import yaml

from aibeats.config import validate_config
from aibeats.plan import Project
from aibeats.provenance import read_recipe

from workflow import REVIEW_JOBS, demo_config, file_hashes, parse_dry_run, run_ok

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"
DEMO_CONFIG = demo_config()
DEMO = Project(validate_config(DEMO_CONFIG, SCHEMA))
MIX, CHAPTERS, THUMBNAIL = {"mix.mp4"}, {"chapters.txt"}, {"thumbnail.png"}


def hashes(workdir: Path) -> dict[str, str]:
    """sha256 of every generated file, by file name."""
    return {Path(place).name: digest for place, digest in file_hashes(workdir).items()}


def jobs_run(result) -> set[str]:
    """The output file names of the jobs a real run ran; the review page, remade whenever anything else is, is
    checked to be among them and left out."""
    ran = {Path(output).name for job in parse_dry_run(result.stdout + result.stderr) for output in job.outputs}
    review = {name for _, name in REVIEW_JOBS}
    assert not ran or review <= ran, f"the review page was not remade after {ran}"
    return ran - review


def edited(workdir: Path, edit: dict) -> list[str]:
    """Arguments that layer an edit over the demo config, the way the README tells users to add a config file."""
    (workdir / "edit.yaml").write_text(yaml.safe_dump(edit))
    return ["--configfile", "profiles/demo/demo-config.yaml", "edit.yaml"]


def merged(edit: dict) -> Project:
    config = {**DEMO_CONFIG, **{key: {**DEMO_CONFIG.get(key, {}), **value} for key, value in edit.items()}}
    return Project(validate_config(config, SCHEMA))


def clips_changed_by(after: Project) -> set[str]:
    return {DEMO.clip(i).name for i in DEMO.track_indices if after.clip_recipe(i, 0) != DEMO.clip_recipe(i, 0)}


def clips_using(animations: set[str]) -> set[str]:
    return {DEMO.clip(i).name for i in DEMO.track_indices
            if animations & {name for name, _ in DEMO.clip_recipe(i, 0).animations}}


def names(stage: str, project: Project = DEMO) -> set[str]:
    return {path.name for path in project.outputs_by_stage()[stage]}


def run_twice(workdir: Path, *args: str, forced: tuple[str, ...] = ()) -> tuple[set[str], dict[str, str],
                                                                                 dict[str, str]]:
    """Run (with `forced` options the first time only), then run again: the jobs of the first run, and the
    hashes before and after it. The second run must find nothing to do and change nothing."""
    before = hashes(workdir)
    first = jobs_run(run_ok(workdir, *forced, *args))
    after = hashes(workdir)
    second = run_ok(workdir, *args)
    assert jobs_run(second) == set(), f"the second run ran jobs:\n{second.stderr[-3000:]}"
    assert "Nothing to be done" in second.stdout + second.stderr
    assert hashes(workdir) == after
    return first, before, after


def changed(before: dict[str, str], after: dict[str, str]) -> set[str]:
    return {name for name in after if before.get(name) != after[name]}


def assert_attempts_kept(workdir: Path, files: set[str]) -> None:
    """Every regenerated file is still the variant it was: attempt 0 in the demo (by its history record, which
    a chapters text cannot hold inside)."""
    for name in files:
        record = json.loads((workdir / DEMO.history_dir / f"{name.split('.')[0]}.json").read_text())
        assert record["attempt"] == 0, name
        if not name.endswith(".txt"):
            assert read_recipe(next((workdir / DEMO.root).glob(f"*/{name}")))["attempt"] == 0, name


def with_mix(clips: set[str]) -> set[str]:
    """The clips an edit remakes, and the mix when there are any."""
    return clips | (MIX if clips else set())


MODIFIERS = DEMO_CONFIG["image"]["prompt_modifiers"]
# two more images per modifier: appended (img_5 to img_8), none renumbered
MORE_IMAGES_4 = merged({"image": {"n_images": 4}})

CASES = {
    # the second modifier's images are img_2 and img_4
    # the second modifier's images are img_2 and img_4; its name is in track 2's chapter title
    "prompt modifier": ({"image": {"prompt_modifiers": [MODIFIERS[0], "ink drawing"]}},
                        {"img_2.png", "img_4.png", "anim_2.mp4", "anim_4.mp4"} | CHAPTERS
                        | with_mix(clips_using({"anim_2.mp4", "anim_4.mp4"}))),
    "n_images 2 to 4": ({"image": {"n_images": 4}},
                        {f"img_{j}.png" for j in range(5, 9)} | {f"anim_{j}.mp4" for j in range(5, 9)}
                        | with_mix(clips_changed_by(MORE_IMAGES_4))),
    "n_music_loops 1 to 2": ({"audio_clip": {"n_music_loops": 2}}, with_mix(names("audio_clip")) | CHAPTERS),
    "motion_bucket_id": ({"video": {"motion_bucket_id": 50}}, names("video") | with_mix(names("audio_clip"))),
    "music prompt": ({"music": {"prompt": "jazzy lo-fi with a warm bass"}},
                     names("music") | names("music_continuation") | with_mix(names("audio_clip"))),
    "music_duration longer": ({"music": {"music_duration": 6}},
                              names("music_continuation") | with_mix(names("audio_clip")) | CHAPTERS),
    "music_duration shorter": ({"music": {"music_duration": 3}},
                               names("music_continuation") | with_mix(names("audio_clip")) | CHAPTERS),
    "fade_out_duration": ({"audio_clip": {"fade_out_duration": 1.0}}, with_mix(names("audio_clip"))),
    "clip loudness": ({"audio_clip": {"loudness_lufs": -18}}, with_mix(names("audio_clip"))),
    # the clips plan their cuts from the music; the mix learns where to cut from them; the chapters stay
    "cut on beats": ({"audio_clip": {"cut_on_beats": True}}, with_mix(names("audio_clip"))),
    "mix crossfade": ({"mix": {"crossfade_duration": 2}}, MIX | CHAPTERS),
    "mix loudness": ({"mix": {"loudness_lufs": -18}}, MIX),
    "chapter titles": ({"mix": {"chapter_titles": "{track}. {modifier}"}}, CHAPTERS),
    # a tracklist whose first prompt is the one every track had: track 1 stays, track 2 and what it feeds follow,
    # and the chapters name each track's mood
    "tracklist": ({"music": {"prompts": [DEMO.config["music"]["prompt"],
                                         "rainy night jazz hop"]},
                   "mix": {"chapter_titles": "{track}. {prompt}"}},
                  {"track_2.wav", "track_2_ext.wav", "clip_2.mp4"} | MIX | CHAPTERS),
    "thumbnail image": ({"mix": {"thumbnail_image": 2}}, THUMBNAIL),
}


@pytest.mark.parametrize("case", list(CASES))
def test_an_edit_remakes_exactly_what_it_affects_once_and_keeps_the_variants(demo_copy, case):
    edit, affected = CASES[case]
    ran, before, after = run_twice(demo_copy, *edited(demo_copy, edit))
    assert ran == affected
    assert changed(before, after) == affected
    assert_attempts_kept(demo_copy, affected)


def test_forcing_a_rule_remakes_the_same_variants_byte_for_byte(demo_copy):
    ran, before, after = run_twice(demo_copy, forced=("-R", "animate_image"))
    assert ran == names("video") | with_mix(names("audio_clip"))
    assert changed(before, after) == set()


@pytest.mark.parametrize(("deleted", "remade"), [
    # the mix alone
    ("mix/mix.mp4", MIX),
    # a track re-rolled: its extension, its clip and the mix follow; the chapters only read the config
    ("music/track_2.wav", {"track_2.wav", "track_2_ext.wav", "clip_2.mp4"} | MIX),
    # the thumbnail's image re-rolled: its animation, the clips that show it, the mix and the thumbnail follow
    ("images/img_1.png", {"img_1.png", "anim_1.mp4"} | with_mix(clips_using({"anim_1.mp4"})) | THUMBNAIL),
])
def test_a_deleted_file_remakes_itself_and_what_reads_it(demo_copy, deleted, remade):
    (demo_copy / DEMO.root / deleted).unlink()
    ran, before, after = run_twice(demo_copy)
    assert ran == remade
    assert changed(before, after) == remade


def test_a_deleted_image_is_rerolled_and_after_a_lost_history_rerolled_again(demo_copy):
    """A deleted image is made anew at the next attempt, what it feeds is remade at its own variant; with the
    history lost, it is rebuilt from the files, so a second deletion still re-rolls."""
    (demo_copy / DEMO.image(3)).unlink()
    ran, before, after = run_twice(demo_copy)
    rebuilt = {"img_3.png", "anim_3.mp4"} | with_mix(clips_using({"anim_3.mp4"}))
    assert ran == rebuilt
    assert changed(before, after) == rebuilt
    assert read_recipe(demo_copy / DEMO.image(3))["attempt"] == 1
    assert_attempts_kept(demo_copy, rebuilt - {"img_3.png"})
    rerolled = (demo_copy / DEMO.image(3)).read_bytes()
    for record in (demo_copy / DEMO.history_dir).iterdir():
        record.unlink()
    # nothing to remake: each file's attempt is read back from the recipe inside it
    ran, before, after = run_twice(demo_copy)
    assert ran == set() and after == before
    assert json.loads((demo_copy / DEMO.history_dir / "img_3.json").read_text())["attempt"] == 1
    # every item's record, the chapters' (a text file without a recipe) included
    assert {path.stem for path in (demo_copy / DEMO.history_dir).iterdir()} >= {"chapters", "mix", "thumbnail"}
    (demo_copy / DEMO.image(3)).unlink()
    ran, _, _ = run_twice(demo_copy)
    assert "img_3.png" in ran
    assert read_recipe(demo_copy / DEMO.image(3))["attempt"] == 2
    assert (demo_copy / DEMO.image(3)).read_bytes() != rerolled
