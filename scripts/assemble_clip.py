# Snakemake adapter for rule assemble_clip.
from stage_job import run_stage_job

run_stage_job(snakemake, "audio_clip")
