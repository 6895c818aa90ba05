# Snakemake adapter for rule generate_track.
import sys

# The package lives beside scripts/; in a stage's conda env it is not installed, so put it on the path.
sys.path.insert(0, f"{snakemake.scriptdir}/..")

from aibeats.jobs import run_job
from aibeats.stages import make_track

# The device comes from the config rather than params: running on another machine is not a change that
# should regenerate finished tracks.
run_job(snakemake.log[0], lambda: make_track(
    snakemake.params.recipe, snakemake.config["music"]["device"], snakemake.output[0], snakemake.params.history))
