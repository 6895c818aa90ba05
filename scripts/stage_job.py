"""What every stage's script does, in one place: each script is `run_stage_job(snakemake, STAGE)`.

Snakemake puts scripts/ on the module path of a script; this module then puts the repository there too, first,
so the package beside scripts/ is the one used (in a stage's conda env it is not installed at all).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aibeats.jobs import run_job, run_stage_job  # noqa: E402

__all__ = ["run_job", "run_stage_job"]
