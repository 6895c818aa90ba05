"""Write outputs under a temporary name and move them into place only when they are complete."""

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(final: Path) -> Iterator[Path]:
    """Yield a hidden temporary path beside `final`; on success it replaces `final`, on error it is deleted.

    The temporary file keeps `final`'s suffix so that ffmpeg and PIL still infer the format from the name,
    and it lives in the same folder so that the rename is atomic. A job killed mid-write leaves only the hidden
    `.NAME.tmp-*` file, never a file at `final` that looks finished. The path is only named, not created
    (unlike mkstemp, whose 0600 mode would make outputs unreadable to the rest of a shared group): the writer
    creates it with the usual umask.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    temporary = final.with_name(f".{final.name}.tmp-{secrets.token_hex(6)}{final.suffix}")
    try:
        yield temporary
        os.replace(temporary, final)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
