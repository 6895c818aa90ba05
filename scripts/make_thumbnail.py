# Snakemake adapter for rule make_thumbnail.
from stage_job import run_stage_job

run_stage_job(snakemake, "thumbnail")
