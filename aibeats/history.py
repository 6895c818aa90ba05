"""Which attempt made each generated file, so that deleting a file re-rolls it with a fresh seed.

The history is one small JSON file per item under `{project}/history/`. It is not a declared Snakemake
output, so Snakemake never deletes it; one file per item means jobs that finish together never write the
same file, which also holds on a cluster's shared filesystem where file locks are unreliable.
"""

import json
import os
import tempfile
from pathlib import Path


def item_of(output: str | Path) -> str:
    """The item an output file holds: its name without extension (img_3, track_2_ext)."""
    return Path(output).name.split(".")[0]


def _record_path(history_dir: Path, item: str) -> Path:
    return Path(history_dir) / f"{item}.json"


def recorded_attempt(history_dir: Path, item: str) -> int | None:
    """The attempt that made the item's current (or last deleted) file, or None if it was never made."""
    try:
        return json.loads(_record_path(history_dir, item).read_text())["attempt"]
    except FileNotFoundError:
        return None


def planned_attempt(history_dir: Path, item: str, output_exists: bool, pinned: dict[str, int]) -> int:
    """The attempt a run should use for an item.

    An existing file keeps its attempt (so its seed, and therefore Snakemake's params, stay the same); a file
    that was made before but is missing now was deleted by the user, so it gets the next attempt.
    """
    if item in pinned:
        return pinned[item]
    attempt = recorded_attempt(history_dir, item)
    if attempt is None:
        return 0
    return attempt if output_exists else attempt + 1


def record_attempt(history_dir: Path, item: str, attempt: int, seed: int) -> None:
    """Remember the attempt that made an item; written atomically so a crash never leaves half a record."""
    history_dir = Path(history_dir)
    history_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=history_dir, prefix=f".{item}.", delete=False) as tmp:
        json.dump({"attempt": attempt, "seed": seed}, tmp)
    os.replace(tmp.name, _record_path(history_dir, item))
