# Snakemake adapter for rule mix_clips.
from stage_job import run_stage_job

run_stage_job(snakemake, "mix")
