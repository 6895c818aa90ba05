"""The workflow with a full-size model: musicgen-small's architecture, random weights, makes a track via a worker."""

import pytest
import yaml

from aibeats import realsize
from aibeats.audio import read_wav
from aibeats.provenance import read_recipe

from workflow import DEMO_CONFIG, copy_workflow, run_ok

# 13 tokens: 3 go to the codebook delay, 10 EnCodec frames of 640 samples at 32 kHz remain, 0.2 s of audio.
N_TOKENS = 13
SAMPLING_RATE, SAMPLES_PER_TOKEN = 32000, 640


@pytest.fixture(scope="session")
def full_size_musicgen_dir(tmp_path_factory):
    # About 20-30 s to build, 2.4 GB on disk.
    folder = tmp_path_factory.mktemp("realsize") / "musicgen-small"
    realsize.build_realsize_model("musicgen", folder)
    return folder


@pytest.mark.slow
def test_a_full_size_musicgen_makes_a_track_through_the_workflow(full_size_musicgen_dir, tmp_path):
    workdir = copy_workflow(tmp_path / "repo")
    overrides = workdir / "full-size-music.yaml"
    overrides.write_text(yaml.safe_dump({"music": {"model_id": str(full_size_musicgen_dir), "n_music": 1,
                                                   "initial_music_tokens": N_TOKENS}}))

    run_ok(workdir, "music", "--configfile", str(DEMO_CONFIG), str(overrides))

    track = workdir / "results" / "demo" / "music" / "track_1.wav"
    assert track.is_file()
    assert read_recipe(track)["model_id"] == str(full_size_musicgen_dir)
    samples, sampling_rate = read_wav(track)
    assert sampling_rate == SAMPLING_RATE
    assert len(samples) == (N_TOKENS - 3) * SAMPLES_PER_TOKEN
    log = (workdir / "results" / "demo" / "logs" / "music" / "track_1.log").read_text()
    assert "made by the music worker" in log
