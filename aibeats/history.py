"""Which attempt each item is at, so that deleting a file re-rolls it with a fresh seed, and nothing else does.

The history is one small JSON file per item under `{project}/history/`. It is not a declared Snakemake
output, so Snakemake never deletes it; one file per item means jobs that finish together never write the
same file, which also holds on a cluster's shared filesystem where file locks are unreliable.

A record holds `attempt` and `seed`, the attempt that made the item's current (or last deleted) file, and
`planned`, the attempt a regeneration that has not finished yet is to use. The attempt of a run is decided
once, when the workflow starts (`settle_record`, in Snakemake's main process only), because Snakemake itself
deletes outputs before it regenerates them: a file that is missing later in a run may be missing because
Snakemake is about to remake it, not because the user deleted it. Every other reader (the params of a job,
evaluated again just before it runs, or by a cluster job on its node) reads the settled record
(`planned_attempt`) and never looks at which files exist.
"""

import json
from collections.abc import Callable
from pathlib import Path

from aibeats.atomic import atomic_path


def item_of(output: str | Path) -> str:
    """The item an output file holds: its name without extension (img_3, track_2_ext)."""
    return Path(output).name.split(".")[0]


def _record_path(history_dir: Path, item: str) -> Path:
    return Path(history_dir) / f"{item}.json"


def read_record(history_dir: Path, item: str) -> dict:
    """The item's record, or {} when it was never made nor planned."""
    try:
        return json.loads(_record_path(history_dir, item).read_text())
    except FileNotFoundError:
        return {}


def _write_record(history_dir: Path, item: str, record: dict) -> None:
    # Atomic, so that a crash never leaves half a record.
    with atomic_path(_record_path(history_dir, item)) as temporary:
        temporary.write_text(json.dumps(record))


def recorded_attempt(history_dir: Path, item: str) -> int | None:
    """The attempt that made the item's current (or last deleted) file, or None if it was never made."""
    return read_record(history_dir, item).get("attempt")


def planned_attempt(record: dict) -> int:
    """The attempt a settled record plans: a pending regeneration's, else the current file's, else 0."""
    return record.get("planned", record.get("attempt", 0))


def settle_record(record: dict, output_exists: bool, made_by_file: Callable[[], dict | None],
                  reroll: Callable[[int], int] = lambda attempt: attempt + 1) -> dict:
    """The item's record as a run that starts now must see it; only this looks at whether the file exists.

    - An existing file keeps its attempt: a regeneration for a changed recipe or input, or a forced one, makes
      the same variant under the new settings. Where the record is lost or a regeneration was under way, the
      recipe inside the file (`made_by_file`: its attempt and seed, or None) says which attempt made it.
    - A missing file that a regeneration was planned for (a crash, a failed job) keeps that plan.
    - A missing file that was made before and nothing planned since was deleted by the user: a later attempt,
      `reroll(attempt)`: the next one, or for a clip the next one that shows its animations differently.
    """
    if output_exists:
        if "attempt" in record and "planned" not in record:
            return record
        found = made_by_file()
        if found is not None:
            return found
        # A file without a recipe (chapters.txt, or one another tool made) keeps what the history says; with no
        # history left, the attempt a regeneration was under way for, else the first.
        return {"attempt": planned_attempt(record), **{key: value for key, value in record.items()
                                                       if key != "planned"}}
    if "planned" in record or "attempt" not in record:
        return record
    return {**record, "planned": reroll(record["attempt"])}


def settle_history(history_dir: Path, outputs: dict[str, Path], made_by_file: Callable[[Path], dict | None],
                   pinned: dict[str, int],
                   reroll: Callable[[str, int], int] = lambda item, attempt: attempt + 1) -> dict[str, int]:
    """Settle every item's record for a run that starts now; returns each item's attempt for this run.

    The settled records are written back, so that the jobs of this run (and a cluster job reading them on
    its node) plan the same attempts, a crash before an item is remade keeps its plan, and `aibeats status`
    can tell which attempt each job will use. A pinned item plans its pin.
    """
    attempts = {}
    for item, output in outputs.items():
        record = read_record(history_dir, item)
        settled = settle_record(record, Path(output).exists(), lambda output=output: made_by_file(output),
                                lambda attempt, item=item: reroll(item, attempt))
        if item in pinned and planned_attempt(settled) != pinned[item]:
            settled = {**settled, "planned": pinned[item]}
        if settled != record:
            _write_record(history_dir, item, settled)
        attempts[item] = planned_attempt(settled)
    return attempts


def read_history(history_dir: Path, items: list[str]) -> dict[str, int]:
    """Each item's attempt from the settled records alone, for processes other than Snakemake's main one."""
    return {item: planned_attempt(read_record(history_dir, item)) for item in items}


def record_started(history_dir: Path, item: str, attempt: int) -> None:
    """Mark a regeneration as under way before making it: if it fails or is killed, the next run keeps the
    attempt rather than taking the missing file for one the user deleted."""
    record = read_record(history_dir, item)
    if record.get("planned") != attempt:
        _write_record(history_dir, item, {**record, "planned": attempt})


def record_attempt(history_dir: Path, item: str, attempt: int, seed: int) -> None:
    """Remember the attempt that made an item, once its file is in place; no regeneration is pending now."""
    _write_record(history_dir, item, {"attempt": attempt, "seed": seed})
