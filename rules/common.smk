# Validates the config, builds the project's tables and defines the input and params functions of the rules.
from pathlib import Path

from aibeats.config import validate_config
from aibeats.plan import Project
from aibeats.workers import stop_workers

# Updated in place: scripts read the same (validated, default-filled) dict as snakemake.config.
config.update(validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml"))

PROJECT = Project(config)
ROOT = str(PROJECT.root)
HISTORY = str(PROJECT.history_dir)
WORKERS = str(PROJECT.workers_dir)


wildcard_constraints:
    i=r"[1-9]\d*",
    j=r"[1-9]\d*",


def tiny_model(model_id):
    """The demo's tiny models are built by a rule of this workflow; other models load from the hub or disk."""
    return [model_id] if model_id.startswith("models/tiny/") else []


def recipe(stage):
    """A params function: the recipe of the item a job makes, with the attempt planned for its output.

    It takes only wildcards: Snakemake leaves params from functions of input or output out of its params
    rerun trigger, which would make config edits invisible.
    """

    def recipe_of_job(wildcards):
        index = int(wildcards.get("i") or wildcards.get("j"))
        return PROJECT.recipe(stage, index, PROJECT.attempt(PROJECT.output(stage, index)))

    return recipe_of_job


def clip_animations(wildcards):
    return [str(path) for path in PROJECT.clip_animations(int(wildcards.i))]
