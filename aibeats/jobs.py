"""Running one Snakemake job: its output goes to the rule's log, and known errors end as one clear line."""

import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from aibeats.errors import AiBeatsError


def run_job(log_path: str | Path, job: Callable[[], None]) -> None:
    """Run job with stdout and stderr (of Python and of the libraries' C code) sent to log_path.

    A failure of ours (AiBeatsError: a bad input file, say) is also printed on the terminal as one line, since
    the user acts on it; anything else leaves its traceback in the log, which Snakemake names on failure.
    """
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal = os.dup(2)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(log_path, "w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            job()
        except AiBeatsError as error:
            print(f"ai-beats: {error}", file=sys.stderr, flush=True)
            os.write(terminal, f"ai-beats: {error}\n".encode())
            sys.exit(1)
        except Exception:
            traceback.print_exc()
            sys.stderr.flush()
            os.write(terminal, f"ai-beats: job failed, see {log_path}\n".encode())
            sys.exit(1)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
