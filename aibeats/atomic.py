"""Write outputs under a temporary name and move them into place only when they are complete."""

import contextlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside `final` to write a file or a folder at; on success it replaces
    `final`, on error it is deleted.

    The temporary path keeps `final`'s suffix so that ffmpeg and PIL still infer the format from the name,
    and it lives in the same folder so that the rename is atomic. A job killed mid-write leaves only the hidden
    `.NAME.tmp-*` file, never a file at `final` that looks finished. The path is only named, not created
    (unlike mkstemp, whose 0600 mode would make outputs unreadable to the rest of a shared group): the writer
    creates it with the usual umask. A folder (a saved model) replaces an old folder at `final`: that step
    alone is two renames' worth, since a folder cannot be replaced in one.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.tmp-{secrets.token_hex(6)}{final.suffix}")
    try:
        yield temporary
        if temporary.is_dir() and final.is_dir():
            shutil.rmtree(final)
        os.replace(temporary, final)
        # Renaming a hard link onto another link of the same file does nothing, and leaves the temporary name.
        if os.path.lexists(temporary):
            _remove(temporary)
    except BaseException:
        _remove(temporary)
        raise
