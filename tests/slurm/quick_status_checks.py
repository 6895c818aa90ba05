"""`python -m snakemake`, as the SLURM tests run it: with status checks at most STATUS_CHECK_SECONDS apart.

After each round of status checks in which no job finished, the SLURM plugin waits 10 s longer before the next
(up to 180 s; fixed in its code, no setting changes it). That spares a busy cluster's scheduler; on the one-node
test cluster it is most of a run's wall time, spent after the jobs have ended. Everything else is the plugin's.
"""

import sys

from snakemake.cli import main
from snakemake_interface_executor_plugins.executors.remote import RemoteExecutor

STATUS_CHECK_SECONDS = 2
_interval = RemoteExecutor.next_seconds_between_status_checks


@_interval.setter
def _capped_interval(executor: RemoteExecutor, seconds) -> None:
    _interval.fset(executor, None if seconds is None else min(seconds, STATUS_CHECK_SECONDS))


RemoteExecutor.next_seconds_between_status_checks = _capped_interval

if __name__ == "__main__":
    sys.exit(main())
