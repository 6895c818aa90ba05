# Snakemake adapter for rule build_tiny_model.
from stage_job import run_job

from aibeats.tiny import build_tiny_model

run_job(snakemake.log[0], lambda: build_tiny_model(snakemake.wildcards.family, snakemake.output[0]))
