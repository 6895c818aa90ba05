# Snakemake adapter for rule extend_track.
import sys

# The package lives beside scripts/; in a stage's conda env it is not installed, so put it on the path.
sys.path.insert(0, f"{snakemake.scriptdir}/..")

from aibeats.generate import generate
from aibeats.jobs import run_job

# The device and the workers settings come from the config rather than params: see generate_track.py.
run_job(snakemake.log[0], lambda: generate(
    "music_continuation", snakemake.params.recipe, {"track": snakemake.input.track}, snakemake.output[0],
    snakemake.params.history, device=snakemake.config["music"]["device"], workers=snakemake.config["workers"],
    workers_dir=snakemake.params.workers))
