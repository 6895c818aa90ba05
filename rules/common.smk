# Validates the config, builds the project's tables and defines the input and params functions of the rules.
import sys
from pathlib import Path

from aibeats.collector import collect_less_while_planning
from aibeats.config import TINY_MODELS_DIR, model_slots, validate_config
from aibeats.errors import AiBeatsError, ConfigError
from aibeats.look_ahead import check_other_runs, remove_plan, write_plan
from aibeats.model_errors import check_models_before_jobs
from aibeats.pins import pins_path
from aibeats.pipeline import STAGES
from aibeats.plan import Project
from aibeats.versions import announce_versions
from aibeats.workers import Workflow, stop_workers

try:
    # Updated in place: scripts read the same (validated, default-filled) dict as snakemake.config.
    config.update(validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml"))
except ConfigError as error:
    # One clean line, where Snakemake would wrap the exception in its own traceback.
    sys.exit(f"ai-beats: {error}")

# Model workers watch this process and exit soon after it is gone, however it ended (kill -9 included).
Workflow.announce()
# Its jobs' store keys need the library versions: asked once here rather than in every job.
announce_versions()
# Each item's attempt is decided here, once per run: see aibeats.history for why never later.
try:
    PROJECT = Project.for_run(config, main_process=workflow.is_main_process)
except ConfigError as error:  # a pins file that is not one
    sys.exit(f"ai-beats: {error}")
ROOT = str(PROJECT.root)
HISTORY = str(PROJECT.history_dir)
WORKERS = str(PROJECT.workers_dir)
# Snakemake says only "Directory cannot be locked", which its advice answers with --unlock, also while the run
# that holds the lock is going.
if workflow.is_main_process:
    try:
        if note := check_other_runs(WORKERS, Workflow, unlocking="--unlock" in sys.argv):
            print(note, file=sys.stderr)
    except AiBeatsError as error:
        sys.exit(f"ai-beats: {error}")
# As many model jobs at once as the model stages have device slots (`device: auto` is every GPU), each job on a
# free slot (aibeats.workers.locks); `--resources gpu=N` says otherwise.
MODEL_SLOTS = model_slots(config)
if "gpu" not in workflow.global_resources:
    workflow.register_resource("gpu", MODEL_SLOTS)
REVIEW_PAGE = f"{ROOT}/review.html"
REVIEW_REPORT_FOLDER = f"{ROOT}/report/review"


wildcard_constraints:
    i=r"[1-9]\d*",
    j=r"[1-9]\d*",


def check_models_or_exit(config, rules):
    try:
        check_models_before_jobs(config, rules, TINY_MODELS_DIR)
    except AiBeatsError as error:
        sys.exit(f"ai-beats: {error}")


# The facts a stage's rules declare, read from the stage's declaration in aibeats/pipeline.py.


def output_of(stage):
    return f"{ROOT}/{STAGES[stage].output_pattern}"


def reported(stage):
    """A stage's output, marked for Snakemake's report (`snakemake --report report.zip`) under the stage's title,
    with its recipe as the caption (called from rules/, which the caption's path is relative to)."""
    return report(output_of(stage), category=STAGES[stage].title, caption="../report/item.rst")


def log_of(stage):
    """The job's log, named like its output: logs/images/img_3.log."""
    return f"{ROOT}/logs/{STAGES[stage].output_pattern.rsplit('.', 1)[0]}.log"


def targets_of(stage):
    """Every file of a stage, for its target rule (`snakemake image`)."""
    return [str(path) for path in PROJECT.outputs(stage)]


def gpus_of(stage):
    """One device slot for a stage whose items load a model; the gpu resource holds one per slot."""
    return 1 if STAGES[stage].uses_model(config) else 0


def threads_of(stage):
    """For a stage whose items load a model, the cores shared out among the device slots: its jobs run one at a
    time per slot anyway, and on a CPU torch computes on the threads it is given. Every core for the mix too,
    which encodes its pieces side by side and comes last. One for the rest. On SLURM the profile sets them per
    rule to the allocation's cpus_per_task."""
    if STAGES[stage].uses_model(config):
        return max(1, workflow.cores // MODEL_SLOTS)
    return workflow.cores if STAGES[stage].parallel else 1


def env_of(stage):
    return f"../envs/{STAGES[stage].env}.yaml"


def tiny_model(stage):
    """The demo's tiny models are built by a rule of this workflow; other models load from the hub or disk."""
    model_id = config[STAGES[stage].config_section]["model_id"]
    return [model_id] if STAGES[stage].uses_model(config) and model_id.startswith(TINY_MODELS_DIR) else []


def recipe(stage):
    """A params function: the recipe of the item a job makes, at the attempt this run makes it with.

    It takes only wildcards: Snakemake leaves params from functions of input or output out of its params
    rerun trigger, which would make config edits invisible.
    """

    def recipe_of_job(wildcards):
        wildcard = STAGES[stage].wildcard
        return PROJECT.planned_recipe(stage, int(wildcards[wildcard]) if wildcard else 1).as_params()

    return recipe_of_job


def clip_animations(wildcards):
    return [str(path) for path in PROJECT.clip_animations(int(wildcards.i))]


def kept_items(wildcards):
    """The pins file, when items are kept: the review page shows them."""
    pins = pins_path(PROJECT.root)
    return [str(pins)] if pins.exists() else []


def thumbnail_image(wildcards):
    return str(PROJECT.output("image", config["mix"]["thumbnail_image"]))
