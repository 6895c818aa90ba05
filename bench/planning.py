"""Planning and scheduling: dry runs of two big projects, and what Snakemake itself costs per job.

The dry runs plan every job of a project with the real model ids: 100 tracks and 500 images (1305 jobs), and
500 tracks and 2000 images (5505 jobs), where planning must stay under 10 s (issue 14). Each size is planned
once untimed (that run also compiles the copied package), then timed DRY_RUN_REPEATS times; the table gives
the median and the fastest, and how much of the CPUs other processes took meanwhile, which slows the runs.
The scheduling overhead is measured on a throwaway workflow of trivial jobs run with the workflow's own
profile (greedy scheduler, one `gpu` at a time like the model rules), so the time is Snakemake's alone:
`script:` jobs, the kind every rule of the workflow uses, and `run:` jobs for comparison.
"""

import re
import shutil
import statistics
import tempfile
from pathlib import Path

import yaml

from bench.harness import REPO, Measurement, Stopwatch, copy_workflow, snakemake, timed_snakemake, write_config

# (tracks, images per prompt modifier): with the config's 5 modifiers, 500 and 2000 images.
PROJECT_SIZES = [(100, 100), (500, 400)]
DRY_RUN_REPEATS = 3
# What planning the biggest project may take; a user waits for it before every run.
BIG_PROJECT_TARGET = "< 10"
# Jobs per throwaway workflow. Snakemake 9 spawns a whole `python -m snakemake` process for every `run:` job
# (executors/local.py, spawn_job), about 2 s each on this machine, so that kind gets fewer jobs.
N_TRIVIAL_JOBS = {"script": 200, "run": 20}

# A job per output file, each declaring one gpu like the model rules, so that they run one at a time.
_TRIVIAL_SNAKEFILE = """\
rule all:
    input:
        expand("out/{{n}}.txt", n=range({n_jobs})),


rule trivial_{kind}:
    output:
        "out/{{n}}.txt",
    resources:
        gpu=1,
    {action}
"""
_ACTIONS = {
    "script": 'script:\n        "trivial.py"',
    "run": 'run:\n        Path(output[0]).write_text("done")',
}
_TRIVIAL_SCRIPT = 'open(snakemake.output[0], "w").write("done")\n'


def _jobs_planned(dry_run_output: str) -> int:
    """The job count from the dry run's "Job stats" table (its `total` row)."""
    totals = re.findall(r"^total\s+(\d+)", dry_run_output, re.MULTILINE)
    if not totals:
        raise RuntimeError(f"no job count in the dry run's output:\n{dry_run_output[-2000:]}")
    return int(totals[-1])


def _dry_runs(scratch: Path, n_music: int, n_images_per_modifier: int) -> tuple[int, int, list[Stopwatch]]:
    """The jobs a dry run of the project plans, its images, and a stopwatch per timed dry run."""
    workdir = copy_workflow(scratch / f"dry-run-{n_music}", with_tiny_models=False)
    overrides = write_config(scratch / f"project-{n_music}.yaml",
                             {"music": {"n_music": n_music}, "image": {"n_images": n_images_per_modifier}})
    args = ("--dry-run", "--configfile", "config.yaml", str(overrides))
    # The first run also compiled the copied package; the timed ones are what a user sees on reruns.
    result = snakemake(workdir, *args)
    n_jobs = _jobs_planned(result.stdout + result.stderr)
    n_modifiers = len(yaml.safe_load((workdir / "config.yaml").read_text())["image"]["prompt_modifiers"])
    watches = []
    for _ in range(DRY_RUN_REPEATS):
        with Stopwatch() as watch:
            snakemake(workdir, *args)
        watches.append(watch)
    return n_jobs, n_images_per_modifier * n_modifiers, watches


def _dry_run(scratch: Path) -> list[Measurement]:
    measurements, medians = [], []
    for size, (n_music, n_images_per_modifier) in enumerate(PROJECT_SIZES):
        n_jobs, n_images, watches = _dry_runs(scratch, n_music, n_images_per_modifier)
        seconds = [watch.seconds for watch in watches]
        median = statistics.median(seconds)
        medians.append((n_jobs, median))
        load = max(watch.foreign_load for watch in watches)
        name = f"snakemake -n, {n_music} tracks + {n_images} images"
        measurements += [
            Measurement(name, median, "s", BIG_PROJECT_TARGET if size == len(PROJECT_SIZES) - 1 else None,
                        note=f"{n_jobs} jobs; median of {DRY_RUN_REPEATS}; other processes took up to "
                             f"{100 * load:.0f} % of the CPUs"),
            Measurement(f"{name}, fastest", min(seconds), "s", note=f"fastest of {DRY_RUN_REPEATS}")]
    (small_jobs, small), (big_jobs, big) = medians[0], medians[-1]
    measurements.append(Measurement("planning time per job", 1000 * (big - small) / (big_jobs - small_jobs), "ms",
                                    note=f"(median at {big_jobs} jobs - median at {small_jobs} jobs) / "
                                         f"{big_jobs - small_jobs} jobs"))
    return measurements


def _trivial_jobs(scratch: Path, kind: str) -> list[Measurement]:
    workdir = scratch / f"trivial-{kind}"
    (workdir / "profiles").mkdir(parents=True)
    shutil.copytree(REPO / "profiles" / "default", workdir / "profiles" / "default")
    header = "from pathlib import Path\n\n\n" if kind == "run" else ""
    n_jobs = N_TRIVIAL_JOBS[kind]
    (workdir / "Snakefile").write_text(header + _TRIVIAL_SNAKEFILE.format(n_jobs=n_jobs, kind=kind,
                                                                          action=_ACTIONS[kind]))
    (workdir / "trivial.py").write_text(_TRIVIAL_SCRIPT)
    full_run = timed_snakemake(workdir)
    # Start-up, parsing and the up-to-date check, without jobs: subtracted to leave the per-job share.
    nothing_to_do = timed_snakemake(workdir)
    per_job = (full_run - nothing_to_do) / n_jobs
    return [Measurement(f"{n_jobs} trivial `{kind}:` jobs, whole run", full_run, "s",
                        note=f"start-up and planning alone: {nothing_to_do:.2f} s"),
            Measurement(f"scheduling overhead per `{kind}:` job", per_job, "s",
                        note="(whole run - run with nothing to do) / jobs")]


def run() -> list[Measurement]:
    with tempfile.TemporaryDirectory(prefix="aibeats-bench-planning-") as scratch_name:
        scratch = Path(scratch_name)
        return [*_dry_run(scratch), *_trivial_jobs(scratch, "script"), *_trivial_jobs(scratch, "run")]
