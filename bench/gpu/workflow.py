"""The workflow against the original tool's loop, for 20 SDXL-Turbo images at 1024x576 in 3 steps on the GPU.

There a job's fixed cost (Snakemake's job handling, a thin client, the history, the store, the recipe in the
PNG: 0.2-0.35 s on the CPU) is on the critical path against about 0.1 s of GPU work per image, so the ratio
tells whether the workflow needs thin-client image jobs side by side while the worker serialises the GPU.
It is bench/images.py's comparison (A B A B, paired ratios, the same pixels on both sides), with the
full-size SDXL-Turbo built on the GPU in fp16 and saved once to the machine's disk, as a user's download would
be; the dry run takes the tiny SDXL on the CPU.
"""

from pathlib import Path

from bench.harness import copy_workflow, ensure_tiny_models
from bench.images import ImageRuns, Size, run_size, size_measurements

# Every stage on the GPU: one device slot, so the image jobs get every core Snakemake is given, as the script.
ON_THE_GPU = {"music": {"device": "cuda"}, "video": {"device": "cuda"}}
DRY_RUN_SIZE = Size("dry run, tiny SDXL 64x128, 2 steps", 4, {})
# Rounds after the warm-up round: two on the GPU (its runs cost the check's time); the dry run, which checks the
# machinery and not the numbers, one without a warm-up.
ROUNDS = {True: 1, False: 2}


def save_full_size_sdxl(folder: Path, scratch: Path) -> Path:
    """SDXL-Turbo's published architecture with random weights, built on the GPU in fp16 and saved, so that the
    workflow's loader reads it like a download (fp16 weights in the plain files: loaded in fp16 on a GPU)."""
    import torch

    from bench.gpu.models import full_size_model

    pipe = full_size_model("sdxl", "cuda:0", torch.float16, scratch)
    pipe.save_pretrained(folder)
    del pipe
    torch.cuda.empty_cache()
    return folder


def compare_workflow_and_loop(scratch: Path, dry_run: bool) -> list[dict]:
    """bench/images' measurements of the workflow against the loop, as dicts for the check's report."""
    workdir = copy_workflow(scratch / "workflow", with_tiny_models=False)
    if dry_run:
        ensure_tiny_models(workdir, "sdxl")
        size = DRY_RUN_SIZE
    else:
        model = save_full_size_sdxl(scratch / "sdxl-turbo", scratch)
        size = Size("SDXL-Turbo 1024x576, 3 steps, on the GPU", 20,
                    {"model_id": str(model), "device": "cuda", "height": 576, "width": 1024, "inference_steps": 3},
                    ON_THE_GPU)
    runs = ImageRuns(workdir, scratch, size)
    rounds = run_size(runs, ROUNDS[dry_run], warm_up=not dry_run)
    return [measurement.as_dict() for measurement in size_measurements(runs, rounds)]
