# Validates the config, builds the project's tables and defines the input and params functions of the rules.
import os
import sys
from pathlib import Path

from aibeats.config import TINY_MODELS_DIR, validate_config
from aibeats.errors import ConfigError
from aibeats.plan import Project
from aibeats.workers import stop_workers

try:
    # Updated in place: scripts read the same (validated, default-filled) dict as snakemake.config.
    config.update(validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml"))
except ConfigError as error:
    # One clean line, where Snakemake would wrap the exception in its own traceback.
    sys.exit(f"ai-beats: {error}")

# Model workers watch this process and exit soon after it is gone, however it ended (kill -9 included).
os.environ["AIBEATS_WORKFLOW_PID"] = str(os.getpid())
# Each item's attempt is decided here, once per run: see aibeats.history for why never later.
PROJECT = Project.for_run(config, main_process=workflow.is_main_process)
ROOT = str(PROJECT.root)
HISTORY = str(PROJECT.history_dir)
WORKERS = str(PROJECT.workers_dir)


wildcard_constraints:
    i=r"[1-9]\d*",
    j=r"[1-9]\d*",


def tiny_model(model_id):
    """The demo's tiny models are built by a rule of this workflow; other models load from the hub or disk."""
    return [model_id] if model_id.startswith(TINY_MODELS_DIR) else []


def recipe(stage):
    """A params function: the recipe of the item a job makes, at the attempt this run makes it with.

    It takes only wildcards: Snakemake leaves params from functions of input or output out of its params
    rerun trigger, which would make config edits invisible.
    """

    def recipe_of_job(wildcards):
        return PROJECT.planned_recipe(stage, int(wildcards.get("i") or wildcards.get("j")))

    return recipe_of_job


def clip_animations(wildcards):
    return [str(path) for path in PROJECT.clip_animations(int(wildcards.i))]
