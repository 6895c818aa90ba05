"""Every variant a project made, kept by what made it, so that undoing an edit restores files instead of
regenerating them.

`{project}/.store/` holds each generated file named by a key over everything that determines the file: its stage,
its recipe (settings, seed, attempt), the content of its inputs and the library versions. Undo a config edit, or pin
an earlier attempt back, and the jobs Snakemake plans find their files here. An entry is served only if the recipe
stored inside it matches the job's exactly; one that is unreadable or does not match is dropped.

- Videos are kept as hard links: no extra space while the file itself exists, which for a long project's clips
  and mix is most of the store. Videos are written anew by the tools that change them, never in place.
- Sounds and images are kept as copies (clones, sharing their blocks until one changes, where the filesystem can):
  an audio or image editor that saves a file in place would otherwise change the kept variant with it.
- The store keeps at most `workers.store_gb` of the space its entries really take: an entry that is a hard link
  of an existing file takes none. The least recently used entries go first (restoring one counts as a use).

A worker that looks ahead (aibeats.look_ahead) makes the run's next items straight into the store, under the
keys their jobs will compute; a job then only claims its file, as it would restore an earlier variant.
"""

import hashlib
import json
import os
import shutil
import time
from contextlib import suppress
from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.errors import AiBeatsError

# Files that carry their recipe inside, so that an entry can be checked before it is served.
_CHECKABLE = (".wav", ".png", ".mp4")
# Files that editors save in place: kept and restored as copies, not links (see the module's docstring).
_COPIED = (".wav", ".png")
# Linux's ioctl that clones a file's blocks (btrfs, XFS, bcachefs): a copy that takes no space until one changes.
_FICLONE = 0x40049409
# Settings a job may decide itself from its inputs (a clip's cuts on the beat, the mix's cut points): planned as
# a placeholder, stored as made. They need no comparison: the key holds the plan and the inputs' content.
_DECIDED_BY_THE_JOB = {"animations", "clips"}
# A half-written file (a worker killed in the middle of its look-ahead) is removed once it has not grown for this
# long: one that is still being written grows every few seconds at most.
_LEFTOVER_SECONDS = 3600


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_key(stage: str, recipe: dict, inputs: dict, versions: dict) -> str:
    """What determines a file: its stage, its recipe, its inputs' content and the library versions."""
    files = {name: [_file_digest(Path(path)) for path in (paths if isinstance(paths, list) else [paths])]
             for name, paths in sorted(inputs.items())}
    material = json.dumps({"stage": stage, "recipe": recipe, "inputs": files, "versions": versions}, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


class Store:
    def __init__(self, folder: Path, limit_bytes: int):
        self.folder, self.limit_bytes = Path(folder), limit_bytes

    def entry(self, key: str, output: Path) -> Path:
        """Where the file for key lies in the store: the key, with the output's suffix."""
        return self.folder / f"{key}{Path(output).suffix}"

    def restore(self, key: str, output: Path, recipe: dict) -> bool:
        """Put the stored file for key at output (atomically) if there is one whose recipe is the job's."""
        entry = self.entry(key, output)
        if entry.suffix not in _CHECKABLE or not entry.is_file():
            return False
        # Only now: reading a recipe imports PIL, and for a sound or a video numpy and scipy, which a job that finds
        # nothing here never needs.
        from aibeats.provenance import read_recipe

        try:
            stored = read_recipe(entry)
            matches = all(stored.get(name) == value for name, value in recipe.items()
                          if name not in _DECIDED_BY_THE_JOB)
        except (AiBeatsError, OSError, ValueError):
            matches = False
        if not matches:
            print(f"dropped {entry} from the store: its recipe is unreadable or not this job's", flush=True)
            entry.unlink(missing_ok=True)
            return False
        with atomic_path(Path(output)) as temporary:
            _place(entry, temporary)
        # A use, for the eviction order; and the output must look newer than its inputs to Snakemake.
        os.utime(entry)
        os.utime(output)
        return True

    def keep(self, key: str, output: Path) -> None:
        """Add a file just made (a hard link or a copy), then evict the least recently used entries past the limit."""
        if self.limit_bytes <= 0 or Path(output).suffix not in _CHECKABLE:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        entry = self.entry(key, output)
        with suppress(OSError):
            # placed from this very entry (by a job's restore or a worker's claim of what it made ahead)
            if os.path.samefile(entry, output) or entry.stat().st_size == Path(output).stat().st_size:
                return
        with atomic_path(entry) as temporary:
            _place(Path(output), temporary)
        self.evict()

    def evict(self) -> None:
        """Remove the least recently used entries past the limit."""
        entries = []
        # Hidden names are files being written (aibeats.atomic): a worker's look-ahead, or another job's keep.
        for entry in self.folder.glob("[!.]*"):
            with suppress(OSError):  # another job may evict the same entry
                stat = entry.stat()
                # a hard link of a file that still exists takes no space of its own
                entries.append((stat.st_mtime, stat.st_size if stat.st_nlink == 1 else 0, entry))
        total = sum(size for _, size, _ in entries)
        for _, size, entry in sorted(entries):
            if total <= self.limit_bytes:
                break
            if not size:
                continue
            entry.unlink(missing_ok=True)
            total -= size
        for leftover in self.folder.glob(".*.tmp-*"):
            with suppress(OSError):
                if time.time() - leftover.stat().st_mtime > _LEFTOVER_SECONDS:
                    leftover.unlink()


def _place(source: Path, destination: Path) -> None:
    """destination as a hard link of source, or for the files editors change in place a copy of it."""
    if source.suffix not in _COPIED:
        os.link(source, destination)
        return
    with open(source, "rb") as reading, open(destination, "wb") as writing:
        try:
            import fcntl

            fcntl.ioctl(writing.fileno(), _FICLONE, reading.fileno())
        except (ImportError, OSError):
            shutil.copyfileobj(reading, writing, 1 << 20)
    shutil.copystat(source, destination)


def restore_item(store: Store, key: str, output: str | Path, recipe, history_dir: str | Path) -> bool:
    """Place an item's file from the store if it holds one for key, and record its attempt as its maker would."""
    from aibeats.history import item_of, record_attempt

    if not store.restore(key, Path(output), recipe.as_params()):
        return False
    record_attempt(Path(history_dir), item_of(output), recipe.attempt, recipe.seed)
    return True
