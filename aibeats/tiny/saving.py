"""Saving a tiny model so that a killed build never leaves a folder that looks finished."""

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def saved_atomically(out_dir: Path) -> Iterator[Path]:
    """Yield a hidden folder beside out_dir to save into; it becomes out_dir only once the block succeeds."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    partial = out_dir.with_name(f".{out_dir.name}.tmp-{secrets.token_hex(6)}")
    try:
        yield partial
        shutil.rmtree(out_dir, ignore_errors=True)
        partial.rename(out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
