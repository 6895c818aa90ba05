# Snakemake adapter for rule extend_track.
import sys

# The package lives beside scripts/; in a stage's conda env it is not installed, so put it on the path.
sys.path.insert(0, f"{snakemake.scriptdir}/..")

from aibeats.jobs import run_job
from aibeats.stages import make_track_ext

# The device comes from the config rather than params: see generate_track.py.
run_job(snakemake.log[0], lambda: make_track_ext(
    snakemake.params.recipe, snakemake.config["music"]["device"], snakemake.input.track, snakemake.output[0],
    snakemake.params.history))
