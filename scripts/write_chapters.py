# Snakemake adapter for rule write_chapters.
from stage_job import run_stage_job

run_stage_job(snakemake, "chapters")
