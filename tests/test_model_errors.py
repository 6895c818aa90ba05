"""Models that cannot be loaded: one line naming the model, its config key and what to do, within seconds.

The hub's errors come from real calls: to a fake hub on localhost that answers as huggingface.co does (gated,
no such repository, no such file, down), and to a port nobody listens on (offline).
"""

import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from huggingface_hub import constants
from huggingface_hub.errors import LocalEntryNotFoundError

from aibeats import model_errors, stages
from aibeats.model_errors import ModelError, check_hub, explain, load_model_or_explain

from workflow import file_hashes, snakemake

REPO = Path(__file__).resolve().parent.parent

# How huggingface.co answers a HEAD for a model's file, by repository: (status, X-Error-Code).
HUB_ANSWERS = {"gated/model": (401, "GatedRepo"), "nobody-here/no-such-model": (404, "RepoNotFound"),
               "some/dataset-not-model": (404, "EntryNotFound"), "down/model": (503, None),
               "cached/model": (503, None)}


class FakeHub(BaseHTTPRequestHandler):
    def do_HEAD(self):  # noqa: N802 - the name http.server calls
        status, error_code = HUB_ANSWERS["/".join(self.path.split("/")[1:3])]
        self.send_response(status)
        if error_code:
            self.send_header("X-Error-Code", error_code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def use_endpoint(monkeypatch, endpoint: str) -> None:
    # huggingface_hub reads HF_ENDPOINT when imported; this is what it derives from it.
    monkeypatch.setattr(constants, "ENDPOINT", endpoint)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", endpoint + "/{repo_id}/resolve/{revision}/{filename}")


@pytest.fixture
def fake_hub(monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    use_endpoint(monkeypatch, f"http://127.0.0.1:{server.server_address[1]}")
    yield
    server.shutdown()
    server.server_close()


@pytest.fixture
def offline(monkeypatch) -> str:
    """A hub endpoint where nobody listens; returns it."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    use_endpoint(monkeypatch, endpoint)
    return endpoint


def failure_of(family: str, model_id: str) -> str:
    with pytest.raises(ModelError) as failure:
        load_model_or_explain(family, model_id, "cpu")
    message = str(failure.value)
    assert "\n" not in message
    assert message.startswith(f"cannot load the {family} model {model_id!r} (config key {family}.model_id): ")
    return message


def test_a_folder_that_is_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    assert failure_of("music", str(tmp_path)).endswith(
        f"the folder {tmp_path} is not a music model (it has no config.json); set music.model_id to a folder that "
        "holds one, or to a Hugging Face hub id")
    assert f"the folder {tmp_path} is not a image model (it has no model_index.json)" in failure_of("image",
                                                                                                    str(tmp_path))


def test_a_path_that_is_neither_a_folder_nor_a_hub_id(tmp_path):
    assert failure_of("video", str(tmp_path / "no" / "model")).endswith(
        "there is no such folder, and it is not a Hugging Face hub id (owner/name) either; check video.model_id")


def test_a_hub_id_offline_without_a_cached_copy_fails_within_seconds(offline, monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    started = time.monotonic()
    message = failure_of("music", "facebook/musicgen-small")
    assert time.monotonic() - started < 5
    assert "the Hugging Face hub cannot be reached (" in message
    assert message.endswith("and no copy is cached; download it once with a network connection (hf download "
                            "facebook/musicgen-small), or set music.model_id to a folder that holds the model")


def test_offline_mode_without_a_cached_copy(monkeypatch, tmp_path):
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    assert "cannot be reached (Cannot reach https://huggingface.co/" in failure_of("image", "stabilityai/sdxl-turbo")


@pytest.mark.usefixtures("fake_hub")
def test_the_hub_answers_gated_or_not_found():
    assert failure_of("image", "gated/model").endswith(
        "the model is gated on the Hugging Face hub: accept its terms at https://huggingface.co/gated/model and "
        "log in (hf auth login, or set HF_TOKEN)")
    assert failure_of("video", "nobody-here/no-such-model").endswith(
        "there is no folder of that name and no such model on the Hugging Face hub (or it is private and you are "
        "not logged in): check video.model_id, or log in (hf auth login, or set HF_TOKEN)")
    assert failure_of("video", "some/dataset-not-model").endswith(
        "the hub repository has no model_index.json, so it is not a video model; set video.model_id to one that is")
    assert "the Hugging Face hub cannot be reached (" in failure_of("music", "down/model")


@pytest.mark.usefixtures("fake_hub")
def test_a_hub_that_does_not_answer_leaves_a_cached_copy_to_the_loader(tmp_path, monkeypatch, capsys):
    snapshot = tmp_path / "cache" / "models--cached--model" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    check_hub("music", "cached/model")
    assert "did not answer" in capsys.readouterr().out
    # a cached copy is no answer to a gated or missing repository
    with pytest.raises(Exception, match="Repository Not Found"):
        check_hub("music", "nobody-here/no-such-model")


def test_a_gpu_that_torch_cannot_use(tiny_musicgen_dir):
    """auto picks a GPU from what the system shows; when torch cannot use it, the device's key is named."""
    import torch

    usable = torch.cuda.device_count()  # 0 with this project's CPU-only torch on CI
    with pytest.raises(ModelError) as failure:
        load_model_or_explain("music", str(tiny_musicgen_dir), f"cuda:{usable}")
    assert str(failure.value) == (f"cannot load the music model on cuda:{usable} (config key music.device): torch can "
                                  f"use {usable} CUDA GPU(s) here; set music.device to cpu, or to a GPU that torch "
                                  "can use")


def test_the_hub_errors_wrapped_by_the_model_libraries_are_found():
    try:
        try:
            raise LocalEntryNotFoundError("Cannot find the requested files in the disk cache")
        except LocalEntryNotFoundError as error:
            raise OSError("We couldn't connect to 'https://huggingface.co' to load the files") from error
    except OSError as wrapped:
        message = explain("music", "facebook/musicgen-small", wrapped)
    assert "the Hugging Face hub cannot be reached (Cannot find the requested files in the disk cache)" in message


def test_an_unknown_failure_keeps_its_type_and_first_line_and_logs_its_traceback(tmp_path, monkeypatch, capsys):
    def out_of_memory(family, model_id, device, precision, offload):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore details")

    monkeypatch.setattr(stages, "load_model", out_of_memory)
    (tmp_path / "model_index.json").write_text("{}")
    assert failure_of("video", str(tmp_path)).endswith(
        "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB")
    assert "Traceback" in capsys.readouterr().err
    assert model_errors.CONFIG_KEYS.keys() == model_errors.MODEL_FILES.keys()


def test_an_in_process_job_prints_the_cause_as_its_one_line(tmp_path, offline):
    """Workers off: the job itself loads the model, and its error on the terminal is the same one line."""
    job = ("from aibeats.generate import generate; from aibeats.jobs import run_job; "
           "from aibeats.recipes import TrackRecipe; "
           "recipe = TrackRecipe('lo-fi', 'nobody-here/no-such-model', 53, seed=1, attempt=0); "
           "run_job('job.log', lambda: generate('music', recipe, "
           "{}, 'a.wav', 'history', device='cpu', workers={'enabled': False}, workers_dir='.workers'))")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", job], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO), "HF_ENDPOINT": offline})
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("ai-beats: cannot load the music model 'nobody-here/no-such-model' (config key "
                           "music.model_id): the Hugging Face hub cannot be reached")


@pytest.mark.slow
def test_a_model_that_cannot_load_fails_before_any_job_deletes_a_file(demo_copy, monkeypatch):
    """Snakemake deletes a job's outputs as the job starts: the models are checked before the first one."""
    before = file_hashes(demo_copy)
    (demo_copy / "video-model.yaml").write_text("video:\n  model_id: models/tiny/sdxl\n")
    result = snakemake(demo_copy, "--configfile", "profiles/demo/demo-config.yaml", "video-model.yaml")
    assert result.returncode != 0
    assert ("ai-beats: cannot load the video model 'models/tiny/sdxl' (config key video.model_id): it is a "
            "StableDiffusionXLPipeline, not a video model") in result.stderr
    assert file_hashes(demo_copy) == before

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    (demo_copy / "music-model.yaml").write_text("music:\n  model_id: nobody-here/not-cached\n")
    result = snakemake(demo_copy, "--configfile", "profiles/demo/demo-config.yaml", "music-model.yaml")
    assert result.returncode != 0
    assert ("ai-beats: cannot load the music model 'nobody-here/not-cached' (config key music.model_id): the "
            "Hugging Face hub cannot be reached") in result.stderr
    assert file_hashes(demo_copy) == before
