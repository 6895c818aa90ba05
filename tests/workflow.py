"""Running the real workflow from tests: copies of the repository, snakemake runs and dry-run plans."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from aibeats.status import parse_dry_run

REPO = Path(__file__).resolve().parent.parent
# What a user's checkout holds that the workflow needs; results/, models/ and .snakemake/ are per copy.
WORKFLOW_FILES = ["Snakefile", "config.yaml", "rules", "scripts", "schemas", "envs", "profiles", "aibeats"]
DEMO_CONFIG = REPO / "profiles" / "demo" / "demo-config.yaml"


def copy_workflow(destination: Path) -> Path:
    destination.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, destination / name)
    return destination


def copy_run(source: Path, destination: Path) -> Path:
    """A copy of a finished run, with mtimes and Snakemake's metadata, so dry runs there see the same state."""
    shutil.copytree(source, destination, symlinks=True)
    return destination


def run_module(workdir: Path, module: str, *args: str, timeout: int) -> subprocess.CompletedProcess:
    """`python -m module args` in workdir with this venv's tools first on PATH, as `make` would run them."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=timeout)


def snakemake(workdir: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return run_module(workdir, "snakemake", "--profile", "profiles/demo", *args, timeout=timeout)


def run_ok(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    result = snakemake(workdir, *args)
    assert result.returncode == 0, f"snakemake {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result




def planned_jobs(workdir: Path, *args: str) -> set[tuple[str, str]]:
    """(rule, output file name) of each job a dry run plans; target rules without outputs are left out."""
    result = run_ok(workdir, "--dry-run", *args)
    return {(job.rule, Path(output).name) for job in parse_dry_run(result.stdout + result.stderr)
            for output in job.outputs}


def demo_config() -> dict:
    return yaml.safe_load(DEMO_CONFIG.read_text())
