# Snakemake adapter for rule assemble_clip.
import sys

# The package lives beside scripts/; in a stage's conda env it is not installed, so put it on the path.
sys.path.insert(0, f"{snakemake.scriptdir}/..")

from aibeats.jobs import run_job
from aibeats.stages import make_clip

run_job(snakemake.log[0], lambda: make_clip(
    snakemake.params.recipe, snakemake.input.track, list(snakemake.input.animations), snakemake.output[0],
    snakemake.params.history))
