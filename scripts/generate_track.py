# Snakemake adapter for rule generate_track.
import sys

# The package lives beside scripts/; in a stage's conda env it is not installed, so put it on the path.
sys.path.insert(0, f"{snakemake.scriptdir}/..")

from aibeats.jobs import run_stage_job

run_stage_job(snakemake, "music")
