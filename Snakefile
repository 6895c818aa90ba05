# ai-beats: text -> music tracks -> extended tracks -> images -> animations -> one clip per track -> the mix.
# Every generated file is its own job: delete one and rerun to regenerate it (and what is built from it).
import sys

from snakemake.utils import min_version

from aibeats.config import read_config_file
from aibeats.errors import ConfigError

min_version("9.0")


# Snakemake's message for a config file it cannot parse names neither the file nor the line.
try:
    read_config_file("config.yaml")
except ConfigError as error:
    sys.exit(f"ai-beats: {error}")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"


# The default target asks for every generated file, not only the clips: Snakemake does not rebuild a deleted
# intermediate whose dependents still exist unless a target requests it.
rule all:
    default_target: True
    input:
        [path for stage in STAGES for path in targets_of(stage)],
        REVIEW_PAGE,
        REVIEW_REPORT_FOLDER,


# Before any job runs (a job's outputs are deleted as it starts): the models the jobs load, and the jobs about to
# run, for the workers to make ahead (aibeats.look_ahead). Neither is done by a dry run.
onstart:
    check_models_or_exit(config, {job.rule.name for job in workflow.dag.needrun_jobs()})
    write_plan(WORKERS, Workflow.of_this_job(), workflow.dag.needrun_jobs(), config)


# Warm model workers exit when the workflow ends, whatever its outcome.
onsuccess:
    stop_workers(WORKERS)
    remove_plan(WORKERS)


onerror:
    stop_workers(WORKERS)
    remove_plan(WORKERS)


include: "rules/tiny_models.smk"
include: "rules/music.smk"
include: "rules/music_continuation.smk"
include: "rules/image.smk"
include: "rules/video.smk"
include: "rules/audio_clip.smk"
include: "rules/mix.smk"
include: "rules/review.smk"


# Last, once every rule is parsed: Snakemake plans every job next.
collect_less_while_planning()
