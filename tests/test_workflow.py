"""The offline demo end to end: every output exists with the right durations, sizes and frame counts."""

import os
import re
from pathlib import Path

import pytest
import yaml

from aibeats.audio import read_wav
from aibeats.config import validate_config
from aibeats.items import animation_frame_count
from aibeats.plan import Project
from aibeats.video_io import probe

from workflow import and_review_page, copy_workflow, demo_config, parse_dry_run, planned_jobs, snakemake

pytestmark = pytest.mark.slow
SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


def demo_project() -> Project:
    return Project(validate_config(demo_config(), SCHEMA))


def test_demo_writes_every_file_of_every_stage(demo_run):
    project = demo_project()
    outputs = project.outputs_by_stage()
    assert [len(outputs[s]) for s in ("music", "music_continuation", "image", "video", "audio_clip")] == [2, 2, 4, 4, 2]
    for paths in outputs.values():
        for path in paths:
            assert (demo_run / path).stat().st_size > 0, path
    # one animation per image, named like it
    images = sorted(p.stem.split("_")[1] for p in (demo_run / project.root / "images").glob("img_*.png"))
    animations = sorted(p.stem.split("_")[1] for p in (demo_run / project.root / "animations").glob("anim_*.mp4"))
    assert images == animations == ["1", "2", "3", "4"]


def test_the_workers_stop_when_the_workflow_ends(demo_run):
    project = demo_project()
    assert not list((demo_run / project.workers_dir).glob("*.sock"))
    logs = sorted((demo_run / project.root / "logs" / "workers").glob("*.log"))
    assert [log.name.split("-")[0] for log in logs] == ["image", "music", "video"]
    for log in logs:
        lines = log.read_text().splitlines()
        assert len([line for line in lines if "model loaded" in line]) == 1, log
        assert lines[-1].startswith("asked to stop after"), log


def test_tracks_have_the_model_rate_and_extensions_last_music_duration(demo_run):
    project = demo_project()
    music = project.config["music"]
    for i in project.track_indices:
        track, rate = read_wav(demo_run / project.track(i))
        assert rate == 32000
        # initial_music_tokens 103 -> 100 codec frames at 50 frames/s: 2 s
        assert len(track) == 2 * rate
        extended, rate = read_wav(demo_run / project.track_ext(i))
        assert rate == 32000
        assert len(extended) == music["music_duration"] * rate


def test_animations_play_forward_then_back_at_video_fps(demo_run):
    project = demo_project()
    video = project.config["video"]
    expected_frames = animation_frame_count(video["num_frames"], video["n_continuations"], video["loop_video"])
    assert expected_frames == 2 * (4 + 3) - 2
    for j in project.image_indices:
        info = probe(demo_run / project.animation(j))
        assert info.n_frames == expected_frames
        assert info.fps == video["video_fps"]
        # 64x128 images keep their aspect ratio at max_side 128
        assert (info.width, info.height) == (128, 64)
        assert info.video_codec == "h264" and info.pix_fmt == "yuv420p"


def test_clips_last_music_duration_times_loops(demo_run):
    project = demo_project()
    fps = project.config["video"]["video_fps"]
    seconds = project.config["music"]["music_duration"] * project.config["audio_clip"]["n_music_loops"]
    for i in project.track_indices:
        info = probe(demo_run / project.clip(i))
        assert info.n_frames == seconds * fps
        assert abs(info.video_seconds - seconds) <= 1 / fps
        assert abs(info.audio_seconds - seconds) <= 1 / fps
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")


def test_deleting_an_image_plans_exactly_it_its_animation_the_clips_that_use_it_and_the_mix(demo_copy):
    project = demo_project()
    (demo_copy / project.image(3)).unlink()
    users = {f"clip_{i}.mp4" for i in project.track_indices
             if "anim_3.mp4" in {name for name, _ in project.clip_recipe(i, 0).animations}}
    assert users
    expected = {("generate_image", "img_3.png"), ("animate_image", "anim_3.mp4")}
    expected |= {("assemble_clip", clip) for clip in users} | {("mix_clips", "mix.mp4")}
    assert planned_jobs(demo_copy) == and_review_page(expected)


def test_a_finished_demo_has_nothing_left_to_do(demo_copy):
    assert planned_jobs(demo_copy) == set()


@pytest.mark.parametrize(
    ("target", "rule", "count"),
    [("music", "generate_track", 2), ("music_continuation", "extend_track", 2), ("image", "generate_image", 4),
     ("video", "animate_image", 4), ("audio_clip", "assemble_clip", 2)],
)
def test_stage_targets_plan_their_stage(demo_copy, target, rule, count):
    project = demo_project()
    for paths in project.outputs_by_stage().values():
        for path in paths:
            (demo_copy / path).unlink()
    jobs = planned_jobs(demo_copy, target)
    assert len([job for job in jobs if job[0] == rule]) == count
    # a stage target plans only its stage and what that stage is made from
    later = {"generate_track": 0, "extend_track": 1, "generate_image": 2, "animate_image": 3, "assemble_clip": 4}
    assert all(later[r] <= later[rule] for r, _ in jobs if r in later)


def test_a_bad_config_stops_before_any_job_naming_key_value_and_what_is_allowed(tmp_path):
    workdir = copy_workflow(tmp_path / "repo")
    (workdir / "bad.yaml").write_text(yaml.safe_dump({"image": {"prompt_modifiers": []}, "music": {"n_music": -2}}))
    result = snakemake(workdir, "--configfile", "profiles/demo/demo-config.yaml", "bad.yaml")
    assert result.returncode != 0
    assert "config key image.prompt_modifiers = [] is not allowed: it must list at least 1 entry" in result.stderr
    assert "config key music.n_music = -2 is not allowed: it must be at least 1" in result.stderr
    assert "Traceback" not in result.stderr and "ConfigError in file" not in result.stderr
    assert not (workdir / "results").exists()
    assert not (workdir / "models").exists()


def test_a_model_folder_that_does_not_exist_is_refused_before_anything_is_deleted(demo_copy):
    project = demo_project()
    before = {path: path.read_bytes() for path in (demo_copy / project.root).glob("*/*.*")}
    (demo_copy / "edit.yaml").write_text(yaml.safe_dump({"image": {"model_id": "./my-models/sdxl"}}))
    result = snakemake(demo_copy, "--configfile", "profiles/demo/demo-config.yaml", "edit.yaml")
    assert result.returncode != 0
    assert "ai-beats: config key image.model_id = './my-models/sdxl' is not allowed: there is no such folder" in (
        result.stderr)
    assert "Traceback" not in result.stderr
    assert {path: path.read_bytes() for path in (demo_copy / project.root).glob("*/*.*")} == before


def test_a_corrupt_intermediate_fails_its_consumer_with_a_message_naming_it(demo_copy):
    project = demo_project()
    image = demo_copy / project.image(2)
    image.write_bytes(b"\x89PNG\r\n\x1a\n this is no longer an image")
    result = snakemake(demo_copy)
    assert result.returncode != 0
    assert f"ai-beats: {project.image(2)}: not a readable image" in result.stderr
    assert "delete it to regenerate it" in result.stderr
    # the animation of the corrupt image was not written; the other files stay
    assert (demo_copy / project.animation(1)).exists()
    assert "anim_2.mp4" in result.stderr
    # the workers stop after a failed run too
    assert not list((demo_copy / project.workers_dir).glob("*.sock"))


def test_a_file_another_tool_made_in_place_of_an_intermediate_is_used_with_a_note(demo_copy):
    """An edited or replaced track (a WAV saved by an audio editor holds no recipe) is the user's to make."""
    import numpy as np
    from scipy.io import wavfile

    project = demo_project()
    track = demo_copy / project.track_ext(1)
    rate, samples = wavfile.read(track)
    wavfile.write(track, rate, (samples // 2).astype(np.int16))
    result = snakemake(demo_copy, str(project.clip(1)))
    assert result.returncode == 0, result.stderr
    assert (f"ai-beats: note: {project.track_ext(1)} holds no ai-beats recipe (another tool made it, or replaced "
            f"it): {project.clip(1)} is made from it as it is") in result.stderr


def test_each_worker_computes_on_the_threads_its_rule_declares(demo_run):
    """A worker takes the threads of the job that starts it (all cores here), not what it inherits."""
    result = snakemake(demo_run, "--dry-run", "--forceall")
    declared = {job.rule: job.threads for job in parse_dry_run(result.stdout + result.stderr)}
    logs = sorted((demo_run / demo_project().root / "logs" / "workers").glob("*.log"))
    assert {log.name.split("-")[0] for log in logs} == {"music", "image", "video"}
    rule_of_family = {"music": "generate_track", "image": "generate_image", "video": "animate_image"}
    for log in logs:
        threads = re.search(r"torch threads: (\d+)", log.read_text())
        assert threads and int(threads[1]) == declared[rule_of_family[log.name.split("-")[0]]] == os.cpu_count(), log
