# Snakemake adapter for rule generate_track.
import sys

# The package lives beside scripts/; in a stage's conda env it is not installed, so put it on the path.
sys.path.insert(0, f"{snakemake.scriptdir}/..")

from aibeats.generate import generate
from aibeats.jobs import run_job

# The device and the workers settings come from the config rather than params: running on another
# machine, or with workers on or off, is not a change that should regenerate finished outputs.
run_job(snakemake.log[0], lambda: generate(
    "music", snakemake.params.recipe, {}, snakemake.output[0], snakemake.params.history,
    device=snakemake.config["music"]["device"], workers=snakemake.config["workers"],
    workers_dir=snakemake.params.workers))
