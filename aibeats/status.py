"""What exists, what is missing and what a rerun would regenerate and why, per stage.

Everything here is read from Snakemake itself (its detailed summary and its dry run), so it shows exactly
what `snakemake` would do with the same arguments, rerun triggers and profiles included.
"""

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

STAGE_OF_RULE = {"generate_track": "music", "extend_track": "music_continuation", "generate_image": "image",
                 "animate_image": "video", "assemble_clip": "audio_clip", "build_tiny_model": "tiny models"}

# Jobs bundled into a group are listed indented under it.
_JOB_HEADER = re.compile(r"^\s*(?:local)?rule (\w+):$")
_FIELD = re.compile(r"^\s+(\w+): (.*)$")


@dataclass(frozen=True)
class PlannedJob:
    rule: str
    outputs: tuple[str, ...]
    reason: str
    resources: dict[str, str]


def parse_dry_run(text: str) -> list[PlannedJob]:
    """The jobs of a `snakemake --dry-run` listing; target rules without outputs are left out."""
    jobs, rule, fields = [], None, {}

    def close():
        if rule and "output" in fields:
            resources = dict(item.split("=", 1) for item in fields.get("resources", "").split(", ") if "=" in item)
            jobs.append(PlannedJob(rule, tuple(fields["output"].split(", ")), fields.get("reason", ""), resources))

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


def parse_summary(text: str) -> dict[str, tuple[str, bool]]:
    """output file -> (rule, exists) from `snakemake --detailed-summary`."""
    files = {}
    for line in text.splitlines()[1:]:
        columns = line.split("\t")
        if len(columns) >= 8:
            files[columns[0]] = (columns[2], columns[6] != "missing")
    return files


def _snakemake(args: list[str], workdir: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout + result.stderr


def project_status(snakemake_args: list[str], workdir: Path = Path(".")) -> str:
    files = parse_summary(_snakemake(["--detailed-summary", "--quiet", "all", *snakemake_args], workdir))
    planned = parse_dry_run(_snakemake(["--dry-run", *snakemake_args], workdir))
    reasons = {output: job.reason for job in planned for output in job.outputs}
    lines = []
    for stage in dict.fromkeys(STAGE_OF_RULE.values()):
        stage_files = [f for f, (rule, _) in files.items() if STAGE_OF_RULE.get(rule) == stage]
        if not stage_files:
            continue
        existing = [f for f in stage_files if files[f][1]]
        missing = [f for f in stage_files if not files[f][1]]
        rerun = [f for f in stage_files if f in reasons]
        lines.append(f"{stage}: {len(stage_files)} files, {len(existing)} exist, {len(missing)} missing, "
                     f"{len(rerun)} to regenerate")
        lines += [f"  {Path(f).name}: {reasons[f]}" for f in rerun]
        lines += [f"  {Path(f).name}: missing, but not requested by this run" for f in missing if f not in reasons]
    if not planned:
        lines.append("Nothing to regenerate: every file is present and up to date.")
    return "\n".join(lines)
