"""The GPU check (bench/gpu) stays ready for the day a GPU is lent: its dry run on the CPU with the tiny models
goes through every stage and precision and writes its table, a budget stops it from starting what would not
fit, and the full-size models it builds on the GPU are the published architectures (built here on the meta
device: the same code, no memory)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def check(out: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", "gpu", "--dry-run", "--out", str(out), *options],
                          cwd=REPO, capture_output=True, text=True, timeout=600)


def test_the_dry_run_measures_every_model_in_two_precisions_and_the_workflow_and_writes_its_table(tmp_path):
    completed = check(tmp_path)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads((tmp_path / "results.json").read_text())
    newer = ("flux", "sd3", "ltx", "wan")
    # the 2023 models one by one; the newer ones all in bf16 (as published) before any in the other precision
    assert [(r["model"], r["precision"]) for r in report["results"]] == [
        *((model, precision) for model in ("sdxl", "svd", "musicgen") for precision in ("fp32", "bf16")),
        *((model, "bf16") for model in newer), *((model, "fp32") for model in newer)]
    assert all(r["skipped"] is None and r["finite"] is True for r in report["results"])
    items = {(r["model"], item) for r in report["results"] for item in r["seconds_per_item"]}
    assert items == {("sdxl", "image 128x64, 2 steps"), ("svd", "animation 128x64, 4 frames, 2 steps"),
                     ("musicgen", "track, 103 tokens"), ("musicgen", "continuation, one 1 s window"),
                     ("flux", "image 128x64, 2 steps"), ("sd3", "image 128x64, 2 steps"),
                     # the videos at 2 and 4 steps, and the settings' steps from those two
                     *((model, f"animation 128x64, {frames} frames, {timed}")
                       for model, frames in (("ltx", 9), ("wan", 5))
                       for timed in ("2 steps", "each step more", "4 steps (from the two above)"))}
    # a step more of a tiny model on the CPU is noise around 0; every item measured is time taken
    assert all(seconds > 0 for r in report["results"] for item, seconds in r["seconds_per_item"].items()
               if "each step more" not in item)
    assert all(isinstance(r["batch_equals_single"], bool) for r in report["results"] if r["model"] == "sdxl")
    table = (tmp_path / "results.md").read_text().splitlines()
    assert table[2].startswith("| model | precision | item | s per item |")
    assert len([line for line in table if line.startswith(("| sdxl", "| svd", "| musicgen"))]) == 8
    assert len([line for line in table if line.startswith(tuple(f"| {model} |" for model in newer))]) == 16
    assert report["environment"]["device"] == "cpu"
    # the workflow against the loop (bench/images.py's comparison), on 4 tiny images
    workflow = {m["name"].split(": ", 1)[1]: m for m in report["workflow"]["measurements"]}
    ratio = workflow["workflow / original per image, median of 1 rounds"]
    assert ratio["value"] > 0 and "same pixels on both sides: yes" in ratio["note"]
    assert workflow["workflow, per image"]["value"] > 0
    assert any(line.startswith("| dry run, tiny SDXL 64x128, 2 steps: workflow / original") for line in table)


def test_a_spent_budget_starts_nothing_more_and_fails_the_call(tmp_path):
    completed = check(tmp_path, "--budget", "0", "--models", "sdxl", "workflow")
    assert completed.returncode == 1
    report = json.loads((tmp_path / "results.json").read_text())
    assert report["workflow"]["skipped"].startswith("not started at")
    results = report["results"]
    assert [(r["model"], r["skipped"].startswith("not started at")) for r in results] == [("sdxl", True)] * 2


@pytest.mark.parametrize(("model", "pipeline", "billions"), [
    # the README's Hardware table, each part counted from its published architecture (test_picture_model_sizes)
    ("flux", "FluxPipeline", 16.9), ("sd3", "StableDiffusion3Pipeline", 13.8),
    ("ltx", "LTXImageToVideoPipeline", 7.6), ("wan", "WanImageToVideoPipeline", 11.4)])
def test_the_newer_picture_models_built_on_the_gpu_are_the_published_architectures(model, pipeline, billions,
                                                                                  tmp_path):
    import torch

    from aibeats.realsize.picture_models import MODELS, stored_values, stored_values_of
    from bench.gpu.pictures import PICTURE_MODELS, full_size_picture_pipeline

    pipe = full_size_picture_pipeline(model, "meta", torch.bfloat16, tmp_path)
    # the class the workflow loads the model with (Wan2.2-TI2V-5B is saved as a WanPipeline)
    assert type(pipe).__name__ == pipeline
    picture_model = PICTURE_MODELS[model]
    stored = {slot: stored_values_of(getattr(pipe, slot)) for slot in picture_model.slots}
    # each published part in its place, in the precision measured, the config overrides changing no weight
    assert stored == {slot: stored_values(part)
                      for slot, part in zip(picture_model.slots, MODELS[picture_model.published], strict=True)}
    assert all(getattr(pipe, slot).dtype == torch.bfloat16 for slot in picture_model.slots)
    assert round(sum(stored.values()) / 1e9, 1) == billions


@pytest.mark.parametrize("family", ["sdxl", "svd", "musicgen"])
def test_the_models_built_on_the_gpu_are_the_published_architectures(family, tmp_path):
    import torch

    from aibeats.realsize import count_parameters
    from bench.gpu.models import full_size_model

    model = full_size_model(family, "meta", torch.float16, tmp_path)
    if family == "musicgen":
        assert (model.sampling_rate, model.frame_rate, model.channels) == (32000, 50, 1)
        assert model.model.generation_config.guidance_scale == 3.0
        assert model.model.decoder.dtype == torch.float16 and model.model.audio_encoder.dtype == torch.float32
        assert sum(p.numel() for p in model.model.parameters()) == count_parameters(family)["total"]
        return
    expected = {"sdxl": "StableDiffusionXLPipeline", "svd": "StableVideoDiffusionPipeline"}[family]
    assert type(model).__name__ == expected
    for part, parameters in count_parameters(family).items():
        component = getattr(model, part)
        assert (sum(p.numel() for p in component.parameters()), component.dtype) == (parameters, torch.float16)
