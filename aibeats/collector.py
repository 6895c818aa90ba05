"""Python's cycle collector in Snakemake's own process, which plans a project's jobs."""

import gc

# A collection of the youngest objects after this many more allocations than deallocations (Python's default:
# 700). Planning allocates a hundred or so objects per job, nearly all of them alive until the run ends.
_ALLOCATIONS_PER_COLLECTION = 100_000


def collect_less_while_planning() -> None:
    """Keep the collector from walking the plan's objects again and again: it took about a tenth of a dry run of
    5505 jobs (bench/RESULTS.md). What parsing made (modules, rules, the project's tables) lives as long as the
    process, so it is frozen out of collections; the objects planning makes are collected 140 times less often.

    Only Snakemake's process parses the Snakefile: jobs and workers keep Python's defaults.
    """
    gc.freeze()
    gc.set_threshold(_ALLOCATIONS_PER_COLLECTION)
