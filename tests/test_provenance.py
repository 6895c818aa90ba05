import json
import os
import subprocess
import sys
from pathlib import Path

import imageio_ffmpeg
import numpy as np
import pytest
from PIL import Image

from aibeats.audio import write_wav
from aibeats.errors import MediaError
from aibeats.provenance import format_recipe, library_versions, make_recipe, read_recipe, save_png
from aibeats.versions import announce_versions
from aibeats.video_io import write_animation

SETTINGS = {"prompt": "Mystical Landscape, oil painting", "model_id": "stabilityai/sdxl-turbo", "inference_steps": 3,
            "height": 576, "width": 1024, "seed": 1234, "attempt": 2}


def gradient_image(width: int = 64, height: int = 32) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    return Image.fromarray(np.stack(np.broadcast_arrays(x[None, :], x[None, ::-1], 128 + 0 * x[None, :]), -1)
                           .repeat(height, axis=0))


def test_make_recipe_holds_stage_settings_and_versions():
    recipe = make_recipe("image", **SETTINGS)
    assert recipe["tool"] == "ai-beats" and recipe["stage"] == "image"
    assert {k: recipe[k] for k in SETTINGS} == SETTINGS
    assert recipe["versions"] == library_versions()
    assert {"python", "numpy", "ffmpeg"} <= recipe["versions"].keys()
    assert make_recipe("image", **SETTINGS) == recipe  # nothing that changes between runs, like a timestamp


def test_library_versions_do_not_import_torch():
    code = ("import sys; from aibeats import provenance, video_io, audio, atomic; "
            "v = provenance.library_versions(); assert 'torch' not in sys.modules, 'torch imported'; print(v)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "'ffmpeg'" in result.stdout


def test_a_job_takes_the_versions_its_snakemake_announced_when_it_runs_the_same_python(monkeypatch):
    monkeypatch.setenv("AIBEATS_LIBRARY_VERSIONS", "")  # restored afterwards: announce_versions sets it
    announce_versions()
    assert json.loads(os.environ["AIBEATS_LIBRARY_VERSIONS"])["versions"] == library_versions()
    # Announced versions are taken as they are, without asking ffmpeg again...
    announced = {"python": "3.0", "ffmpeg": "announced"}
    monkeypatch.setenv("AIBEATS_LIBRARY_VERSIONS", json.dumps({"prefix": sys.prefix, "versions": announced}))
    assert library_versions() == announced
    # ...but not by a job in another environment (a stage's conda env), whose libraries may differ.
    monkeypatch.setenv("AIBEATS_LIBRARY_VERSIONS", json.dumps({"prefix": "/other/env", "versions": announced}))
    assert library_versions()["ffmpeg"] != "announced"


def test_without_a_usable_ffmpeg_snakemake_announces_no_versions_and_goes_on():
    code = ("import os; from aibeats.versions import announce_versions; announce_versions(); "
            "print('AIBEATS_LIBRARY_VERSIONS' in os.environ)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "IMAGEIO_FFMPEG_EXE": "/no/such/ffmpeg"})
    assert (result.returncode, result.stdout.strip()) == (0, "False"), result.stderr


def test_png_recipe_round_trip_and_same_bytes_every_time(tmp_path: Path):
    recipe = make_recipe("image", **SETTINGS)
    first, second = tmp_path / "img_0.png", tmp_path / "img_1.png"
    save_png(gradient_image(), first, recipe)
    save_png(gradient_image(), second, recipe)
    assert first.read_bytes() == second.read_bytes()
    assert read_recipe(first) == recipe
    with Image.open(first) as image:
        assert np.array_equal(np.asarray(image), np.asarray(gradient_image()))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img_0.png", "img_1.png"]


def test_read_recipe_goes_by_content_not_name(tmp_path: Path):
    wav, mp4, png = tmp_path / "looks_like.png", tmp_path / "looks_like.wav", tmp_path / "looks_like.mp4"
    write_wav(wav, np.zeros(100, dtype=np.float32), 32000, make_recipe("music", seed=1))
    write_animation([gradient_image()] * 2, mp4, 6, make_recipe("video", seed=2))
    save_png(gradient_image(), png, make_recipe("image", seed=3))
    assert [read_recipe(path)["seed"] for path in (wav, mp4, png)] == [1, 2, 3]


def test_foreign_file_is_named(tmp_path: Path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    with pytest.raises(MediaError, match=r"notes\.png: not a PNG, WAV or MP4 file"):
        read_recipe(path)


@pytest.mark.parametrize("name", ["img_0.png", "track_0.wav", "anim_0.mp4"])
def test_file_without_recipe_is_named(tmp_path: Path, name: str):
    path = tmp_path / name
    if name.endswith(".png"):
        gradient_image().save(path)
    elif name.endswith(".wav"):
        write_wav(path, np.zeros(100, dtype=np.float32), 32000)
    else:
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-f", "lavfi",
                        "-i", "testsrc=size=64x48:rate=6", "-frames:v", "2", str(path)], check=True)
    with pytest.raises(MediaError, match=f"{name}: holds no ai-beats recipe"):
        read_recipe(path)


@pytest.mark.parametrize("name", ["img_0.png", "track_0.wav", "anim_0.mp4"])
def test_corrupt_file_is_named(tmp_path: Path, name: str):
    path = tmp_path / name
    if name.endswith(".png"):
        save_png(gradient_image(256, 256), path, {"seed": 1})
    elif name.endswith(".wav"):
        write_wav(path, np.zeros(100, dtype=np.float32), 32000, {"seed": 1})
    else:
        write_animation([gradient_image()] * 2, path, 6, {"seed": 1})
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(MediaError, match=name):
        read_recipe(path)


def test_missing_file_is_named(tmp_path: Path):
    with pytest.raises(MediaError, match="gone.png"):
        read_recipe(tmp_path / "gone.png")


def test_format_recipe_shows_how_the_file_was_made(tmp_path: Path):
    path = tmp_path / "img_3.png"
    text = format_recipe(path, make_recipe("image", **SETTINGS))
    assert text.splitlines()[0] == str(path)
    for expected in ("stage:    image", "prompt:   Mystical Landscape, oil painting", "seed:     1234 (attempt 2)",
                     "model:    stabilityai/sdxl-turbo", "inference_steps: 3", "width: 1024",
                     f"numpy {library_versions()['numpy']}"):
        assert expected in text


def test_the_files_ai_beats_did_not_make_are_told_from_its_own(tmp_path: Path):
    from scipy.io import wavfile

    from aibeats.audio import write_wav
    from aibeats.provenance import foreign_files

    ours, theirs, broken = tmp_path / "ours.wav", tmp_path / "theirs.wav", tmp_path / "broken.wav"
    write_wav(ours, np.zeros(100), 32000, {"stage": "music"})
    wavfile.write(theirs, 32000, np.zeros(100, dtype=np.int16))
    broken.write_bytes(b"not a wav")
    assert foreign_files([ours, theirs, broken, tmp_path]) == [theirs]
