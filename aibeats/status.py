"""What exists, what is missing and what a rerun would regenerate and why, per stage.

Read from Snakemake itself, through the one listing it makes for machines: `--detailed-summary`, a table with a
row per output file (its rule, its status and whether an update is pending). Snakemake 9's Python API has no
call that returns the planned jobs as data, and its dry run is text for people; the summary is planned with the
same arguments, rerun triggers and profiles as a run, so it shows exactly what `snakemake` would do.
"""

import csv
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from aibeats.history import item_of, planned_attempt, read_record
from aibeats.pipeline import STAGES, TINY_MODEL_RULE, stage_of_rule

# How Snakemake's summary says a file is absent, and that its job will run.
_MISSING = "missing"
_UPDATE_PENDING = "update pending"


@dataclass(frozen=True)
class SummaryRow:
    output: str
    rule: str
    # Snakemake's word for the file's state: ok, missing, params changed, set of input files changed, ...
    status: str
    update_pending: bool

    @property
    def exists(self) -> bool:
        return self.status != _MISSING

    @property
    def reason(self) -> str:
        """Why the file is remade: its own status, or, where that is fine, because what it is made from is."""
        return self.status if self.status != "ok" else "made from a file that is remade"


def parse_summary(text: str) -> list[SummaryRow]:
    """The rows of `snakemake --detailed-summary` (tab-separated, with a header row)."""
    lines = [line for line in text.splitlines() if "\t" in line]
    rows = csv.DictReader(lines, delimiter="\t")
    return [SummaryRow(row["output_file"], row["rule"], row["status"], row["plan"] == _UPDATE_PENDING)
            for row in rows if row.get("rule")]


def _snakemake(args: list[str], workdir: Path) -> str:
    result = subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"snakemake {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


def _label(rule: str) -> str | None:
    stage = stage_of_rule(rule)
    if stage is not None:
        return stage.name
    return "tiny models" if rule == TINY_MODEL_RULE else None


def planned_attempt_of(row: SummaryRow) -> int | None:
    """The attempt the job for a stage's file will use, as Snakemake's run has just settled it in the history."""
    stage = stage_of_rule(row.rule)
    if stage is None:
        return None
    project_root = Path(row.output).parents[len(Path(stage.output).parts) - 1]
    return planned_attempt(read_record(project_root / "history", item_of(row.output)))


def _regenerated(row: SummaryRow) -> str:
    attempt = planned_attempt_of(row)
    return f"  {Path(row.output).name}: {row.reason}" + (f" (attempt {attempt})" if attempt is not None else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def format_status(rows: list[SummaryRow]) -> str:
    lines = []
    for label in [*STAGES, "tiny models"]:
        files = [row for row in rows if _label(row.rule) == label]
        if not files:
            continue
        missing = [row for row in files if not row.exists]
        rerun = [row for row in files if row.update_pending]
        existing = len(files) - len(missing)
        lines.append(f"{label}: {_count(len(files), 'file')}, {existing} exist{'s' if existing == 1 else ''}, "
                     f"{len(missing)} missing, {len(rerun)} to regenerate")
        lines += [_regenerated(row) for row in rerun]
        lines += [f"  {Path(row.output).name}: missing, but not requested by this run"
                  for row in missing if not row.update_pending]
    if not any(row.update_pending for row in rows):
        lines.append("Nothing to regenerate: every file is present and up to date.")
    return "\n".join(lines)


def project_status(snakemake_args: list[str], workdir: Path = Path(".")) -> str:
    return format_status(parse_summary(_snakemake(["--detailed-summary", "--quiet", *snakemake_args], workdir)))
