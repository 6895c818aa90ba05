# Snakemake adapter for rule build_tiny_model.
import sys

# The package lives beside scripts/; in a stage's conda env it is not installed, so put it on the path.
sys.path.insert(0, f"{snakemake.scriptdir}/..")

from aibeats.jobs import run_job
from aibeats.tiny import build_tiny_model

run_job(snakemake.log[0], lambda: build_tiny_model(snakemake.wildcards.family, snakemake.output[0]))
