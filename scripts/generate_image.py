# Snakemake adapter for rule generate_image.
from stage_job import run_stage_job

run_stage_job(snakemake, "image")
