"""Running one Snakemake job: its output goes to the rule's log, and known errors end as one clear line."""

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from aibeats.errors import AiBeatsError
from aibeats.terminal import tell_user, use_terminal


def run_job(log_path: str | Path, job: Callable[[], None]) -> None:
    """Run job with stdout and stderr (of Python and of the libraries' C code) sent to log_path.

    A failure of ours (AiBeatsError: a bad input file, say) is also printed on the terminal as one line, since
    the user acts on it; anything else leaves its traceback in the log, which Snakemake names on failure.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    use_terminal(os.dup(2))
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log_path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            job()
        except AiBeatsError as error:
            tell_user(f"ai-beats: {error}")
            sys.exit(1)
        except Exception:
            traceback.print_exc()
            tell_user(f"ai-beats: job failed, see {log_path}")
            sys.exit(1)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()


def run_stage_job(snakemake, stage: str) -> None:
    """The whole of a stage's script: make the job's one output from its recipe, logging to the rule's log.

    The regeneration is marked as under way first, so that a failed or killed job keeps its attempt.
    """
    from aibeats.history import item_of, record_started
    from aibeats.pipeline import STAGES
    from aibeats.store import restore_item

    declared = STAGES[stage]
    params, output = snakemake.params, snakemake.output[0]
    recipe = declared.recipe.from_params(params.recipe)
    inputs = dict(snakemake.input.items())
    inputs.pop("model", None)  # the tiny model's folder: a dependency only, loaded by its id

    def make() -> None:
        record_started(params.history, item_of(output), recipe.attempt)
        store, key = _store_of(snakemake, stage, recipe, inputs)
        if restore_item(store, key, output, recipe, params.history):
            print(f"restored {output} from the store: made before with the same recipe and inputs, or ahead of "
                  "this job by its model's worker")
            return
        make_item(store, key)
        store.keep(key, Path(output))

    def make_item(store, key: str) -> None:
        from aibeats.provenance import foreign_files

        paths = [path for value in inputs.values() for path in ([value] if isinstance(value, str) else value)]
        for foreign in foreign_files(paths):
            tell_user(f"ai-beats: note: {foreign} holds no ai-beats recipe (another tool made it, or replaced it): "
                      f"{output} is made from it as it is")
        if not declared.uses_model(snakemake.config):
            from aibeats.stages import maker_of

            options = {"threads": snakemake.threads} if declared.parallel else {}
            maker_of(stage)(None, recipe, inputs, Path(output), Path(params.history), **options)
            return
        from aibeats.generate import generate

        # The device, offload and workers settings come from the config rather than params: running on another
        # machine, offloaded, or with workers on or off, is not a change that should regenerate finished outputs.
        section = snakemake.config[declared.config_section]
        generate(stage, recipe, inputs, output, params.history,
                 device=section["device"], workers=snakemake.config["workers"],
                 workers_dir=params.workers, threads=snakemake.threads,
                 store={"folder": str(store.folder), "limit_bytes": store.limit_bytes, "key": key},
                 offload=section.get("offload", "none"))

    run_job(snakemake.log[0], make)


def _store_of(snakemake, stage: str, recipe, inputs: dict):
    """The project's store of variants (aibeats.store) and this job's key in it."""
    from aibeats.store import Store, store_key
    from aibeats.versions import library_versions

    root = Path(snakemake.params.history).parent
    limit = round(snakemake.config["workers"]["store_gb"] * 1e9)
    return Store(root / ".store", limit), store_key(stage, recipe.as_params(), inputs, library_versions())
