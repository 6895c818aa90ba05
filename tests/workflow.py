"""Running the real workflow from tests: copies of the repository, snakemake runs and dry-run plans."""

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from aibeats.checkout import REPO, WORKFLOW_FILES, copy_workflow

__all__ = ["REPO", "WORKFLOW_FILES", "copy_workflow"]
DEMO_CONFIG = REPO / "profiles" / "demo" / "demo-config.yaml"
# The demo project's folders of generated files.
GENERATED = ("music", "images", "animations", "clips", "mix")
# Jobs bundled into a group are listed indented under it.
_JOB_HEADER = re.compile(r"^\s*(?:local)?rule (\w+):$")
_FIELD = re.compile(r"^\s+(\w+): (.*)$")


@dataclass(frozen=True)
class PlannedJob:
    rule: str
    outputs: tuple[str, ...]
    reason: str
    resources: dict[str, str]
    threads: int


def parse_dry_run(text: str) -> list[PlannedJob]:
    """The jobs of a `snakemake --dry-run` listing; target rules without outputs are left out."""
    jobs, rule, fields = [], None, {}

    def close():
        if rule and "output" in fields:
            resources = dict(item.split("=", 1) for item in fields.get("resources", "").split(", ") if "=" in item)
            jobs.append(PlannedJob(rule, tuple(fields["output"].split(", ")), fields.get("reason", ""), resources,
                                   int(fields.get("threads", 1))))

    for line in text.splitlines():
        if header := _JOB_HEADER.match(line):
            close()
            rule, fields = header.group(1), {}
        elif rule and (field := _FIELD.match(line)):
            fields[field.group(1)] = field.group(2)
        elif rule and line and not line[0].isspace():
            close()
            rule, fields = None, {}
    close()
    return jobs


def copy_run(source: Path, destination: Path) -> Path:
    """A copy of a finished run, with mtimes and Snakemake's metadata, so dry runs there see the same state, and
    with its hard links (the store's entries of the videos are links of them, taking no space of their own)."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(source), str(destination)], check=True)
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




# The review page and its copy for the report: remade whenever any output is (it shows them all).
REVIEW_JOBS = {("write_review_page", "review.html"), ("write_review_page", "review")}


def and_review_page(jobs: set[tuple[str, str]]) -> set[tuple[str, str]]:
    """The jobs, and the review page's when there are any."""
    return jobs | REVIEW_JOBS if jobs else jobs


def planned_jobs(workdir: Path, *args: str) -> set[tuple[str, str]]:
    """(rule, output file name) of each job a dry run plans; target rules without outputs are left out."""
    result = run_ok(workdir, "--dry-run", *args)
    return {(job.rule, Path(output).name) for job in parse_dry_run(result.stdout + result.stderr)
            for output in job.outputs}


def demo_config() -> dict:
    return yaml.safe_load(DEMO_CONFIG.read_text())


def file_hashes(workdir: Path, folders: tuple[str, ...] = GENERATED) -> dict[str, str]:
    """sha256 of every generated file of the demo project in workdir, by its place in it (images/img_3.png)."""
    root = workdir / "results" / "demo"
    return {f"{folder}/{path.name}": hashlib.sha256(path.read_bytes()).hexdigest()
            for folder in folders for path in sorted((root / folder).glob("*.*"))}
