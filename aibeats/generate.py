"""The entry point of every model job: make one item, through a warm model worker or in this process."""

import os
from pathlib import Path

from aibeats.pipeline import STAGES
from aibeats.recipes import Recipe


# A job's facts come from three places (its recipe and paths, the config's device, the worker settings): past
# the item itself they are keyword-only.
def generate(stage: str, recipe: Recipe, inputs: dict, output: str | Path, history_dir: str | Path, *,  # noqa: PLR0913
             device: str | list[str], workers: dict, workers_dir: str | Path, threads: int | None = None,
             store: dict | None = None, offload: str = "none") -> None:
    """Make the output of one generating stage (music, music_continuation, image or video).

    With workers enabled this process stays thin (no torch import): a worker that keeps the model loaded
    makes the item. Both paths run the same maker, so the files are identical; so does offload (config
    `offload` of image and video), which changes where weights wait, not what is computed. store (the project's store of
    variants: folder, limit_bytes, and the item's key) lets the worker claim an item it made ahead, and look ahead
    (aibeats.look_ahead) into it.
    """
    family = STAGES[stage].family  # both music stages share one MusicGen model, and so one worker
    # None: auto, the precision of files made before the setting existed
    precision = recipe.precision or "auto"
    if workers["enabled"]:
        from aibeats.workers import request_item

        # Paths stay as Snakemake gave them (relative to the workdir, which the worker shares): they end up in
        # the files' recipes, which must not depend on where the project folder lies.
        request = {"stage": stage, "recipe": recipe.as_params(), "inputs": {k: str(v) for k, v in inputs.items()},
                   "output": str(output), "history": str(history_dir), "workdir": os.getcwd()}
        # Look-ahead keeps what it makes in the store: a store that keeps nothing turns it off.
        if store and store["limit_bytes"] > 0:
            request |= {"store": store, "look_ahead": workers["look_ahead"]}
        # a worker computes on the threads of the job that starts it
        log = request_item(family, recipe.model_id, device, request, Path(workers_dir), {**workers, "threads": threads},
                           precision=precision, offload=offload)
        print(f"made by the {family} worker; its log: {log}")
        return

    from aibeats.devices import device_slots, use_threads
    from aibeats.model_errors import load_model_or_explain
    from aibeats.stages import MAKERS
    from aibeats.workers.locks import hold_slot

    slots = device_slots(device)
    # The slot's lock, as a worker's job holds it: one model job at a time per device, whichever stage it is of.
    with hold_slot(Path(workers_dir), slots, warm=()) as index:
        use_threads(threads)
        model = load_model_or_explain(family, recipe.model_id, slots[index].device, precision, offload)
        MAKERS[stage](model, recipe, inputs, Path(output), Path(history_dir))
