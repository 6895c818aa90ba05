"""The user's terminal, as opposed to a job's log: where the one line they must read goes."""

import os
import sys

# Set by aibeats.jobs.run_job, which sends the job's own output to its log.
_terminal_fd: int | None = None


def use_terminal(descriptor: int | None) -> None:
    global _terminal_fd  # noqa: PLW0603 - one terminal per process
    _terminal_fd = descriptor


def tell_user(line: str) -> None:
    """Print a line in the job's log and, when the job's output goes to a log, on the terminal too."""
    print(line, file=sys.stderr, flush=True)
    if _terminal_fd is not None:
        os.write(_terminal_fd, f"{line}\n".encode())
