# Snakemake adapter for rule generate_image.
import sys

# The package lives beside scripts/; in a stage's conda env it is not installed, so put it on the path.
sys.path.insert(0, f"{snakemake.scriptdir}/..")

from aibeats.jobs import run_job
from aibeats.stages import make_image

# The device comes from the config rather than params: see generate_track.py.
run_job(snakemake.log[0], lambda: make_image(
    snakemake.params.recipe, snakemake.config["image"]["device"], snakemake.output[0], snakemake.params.history))
