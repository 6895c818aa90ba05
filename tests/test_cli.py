"""The command line: `python -m aibeats inspect` and `python -m aibeats status` on a real demo run."""

import subprocess
from pathlib import Path

import pytest
import yaml

from workflow import run_module


def aibeats(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return run_module(workdir, "aibeats", *args, timeout=300)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "stage", "setting"),
    [("music/track_1.wav", "music", "initial_music_tokens: 103"),
     ("music/track_1_ext.wav", "music_continuation", "music_duration: 5"),
     ("images/img_2.png", "image", "inference_steps: 2"),
     ("animations/anim_2.mp4", "video", "motion_bucket_id: 127"),
     ("clips/clip_2.mp4", "audio_clip", "n_music_loops: 1")],
)
def test_inspect_prints_the_recipe_of_every_kind_of_output(demo_run, path, stage, setting):
    result = aibeats(demo_run, "inspect", f"results/demo/{path}")
    assert result.returncode == 0, result.stderr
    assert f"stage:    {stage}" in result.stdout
    assert "(attempt 0)" in result.stdout
    assert setting in result.stdout
    assert "torch 2.13.0" in result.stdout or stage == "audio_clip"
    model = {"music": "musicgen", "music_continuation": "musicgen", "image": "sdxl", "video": "svd"}.get(stage)
    if model:
        assert f"model:    models/tiny/{model}" in result.stdout


def test_inspect_names_a_file_that_is_not_ours(tmp_path):
    foreign = tmp_path / "holiday.png"
    foreign.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage")
    result = aibeats(tmp_path, "inspect", str(foreign))
    assert result.returncode == 1
    assert str(foreign) in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_status_lists_per_stage_what_is_missing_and_what_a_rerun_regenerates_and_why(demo_copy):
    (demo_copy / "results/demo/images/img_3.png").unlink()
    (demo_copy / "edit.yaml").write_text(yaml.safe_dump({"audio_clip": {"n_music_loops": 2}}))
    result = aibeats(demo_copy, "status", "--configfile", "profiles/demo/demo-config.yaml", "edit.yaml")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "music: 2 files, 2 exist, 0 missing, 0 to regenerate" in out
    assert "image: 4 files, 3 exist, 1 missing, 1 to regenerate" in out
    assert "video: 4 files, 4 exist, 0 missing, 1 to regenerate" in out
    assert "audio_clip: 2 files, 2 exist, 0 missing, 2 to regenerate" in out
    # with the attempt each job will use: a re-roll for the deleted image, the same variant for the rest
    assert "img_3.png: missing (attempt 1)" in out
    assert "anim_3.mp4: made from a file that is remade (attempt 0)" in out
    assert "clip_2.mp4: params changed (attempt 0)" in out
