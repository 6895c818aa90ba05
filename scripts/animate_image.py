# Snakemake adapter for rule animate_image.
from stage_job import run_stage_job

run_stage_job(snakemake, "video")
