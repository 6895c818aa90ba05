"""Copies of the workflow's checkout, for running the real workflow somewhere else (the tests, the benchmarks)."""

import shutil
from pathlib import Path

# The checkout this package was imported from (an editable install points here).
REPO = Path(__file__).resolve().parent.parent
# What a user's checkout holds that the workflow needs; results/, models/ and .snakemake/ are per copy.
WORKFLOW_FILES = ["Snakefile", "config.yaml", "rules", "scripts", "schemas", "envs", "profiles", "report", "aibeats"]


def copy_workflow(destination: Path, source: Path = REPO) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        if (source / name).is_dir():
            shutil.copytree(source / name, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source / name, destination / name)
    return destination
