"""The entry point of every model job: make one item, through a warm model worker or in this process."""

import os
from pathlib import Path

# The model family each generating stage needs: both music stages use the same MusicGen model. Kept here,
# not in aibeats.stages, so that a thin client job imports neither numpy nor PIL.
FAMILY_OF_STAGE = {"music": "music", "music_continuation": "music", "image": "image", "video": "video"}


def generate(stage: str, recipe: dict, inputs: dict, output: str | Path, history_dir: str | Path, device: str,
             workers: dict, workers_dir: str | Path) -> None:
    """Make the output of one generating stage (music, music_continuation, image or video).

    With workers enabled this process stays thin (no torch import): a worker that keeps the model loaded
    makes the item. Both paths run the same maker, so the files are identical.
    """
    family = FAMILY_OF_STAGE[stage]
    if workers["enabled"]:
        from aibeats.workers import request_item

        # Paths stay as Snakemake gave them (relative to the workdir, which the worker moves to): they end up
        # in the files' recipes, which must not depend on where the project folder lies.
        request = {"stage": stage, "recipe": recipe, "inputs": {k: str(v) for k, v in inputs.items()},
                   "output": str(output), "history": str(history_dir), "workdir": os.getcwd()}
        log = request_item(family, recipe["model_id"], device, request, Path(workers_dir), workers)
        print(f"made by the {family} worker; its log: {log}")
        return

    from aibeats.devices import resolve_device
    from aibeats.stages import MAKERS, load_model

    model = load_model(family, recipe["model_id"], resolve_device(device))
    MAKERS[stage](model, recipe, inputs, Path(output), Path(history_dir))
