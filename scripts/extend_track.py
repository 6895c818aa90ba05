# Snakemake adapter for rule extend_track.
from stage_job import run_stage_job

run_stage_job(snakemake, "music_continuation")
