"""Planning and scheduling: a dry run of a big project, and what Snakemake itself costs per job.

The dry run plans a project of 100 tracks and 500 images (every job of it: 1300 jobs) with the real model ids.
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

from bench.harness import REPO, Measurement, copy_workflow, snakemake, timed_snakemake, write_config

N_MUSIC, N_IMAGES_PER_MODIFIER = 100, 100
DRY_RUN_REPEATS = 3
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


def _dry_run(scratch: Path) -> list[Measurement]:
    workdir = copy_workflow(scratch / "dry-run", with_tiny_models=False)
    overrides = write_config(scratch / "big-project.yaml",
                             {"music": {"n_music": N_MUSIC}, "image": {"n_images": N_IMAGES_PER_MODIFIER}})
    result = snakemake(workdir, "--dry-run", "--configfile", "config.yaml", str(overrides))
    n_jobs = _jobs_planned(result.stdout + result.stderr)
    # The first run above also compiled the copied package; the timed ones are what a user sees on reruns.
    seconds = [timed_snakemake(workdir, "--dry-run", "--configfile", "config.yaml", str(overrides))
               for _ in range(DRY_RUN_REPEATS)]
    n_modifiers = len(yaml.safe_load((workdir / "config.yaml").read_text())["image"]["prompt_modifiers"])
    return [Measurement(f"snakemake -n, {N_MUSIC} tracks + {N_IMAGES_PER_MODIFIER * n_modifiers} images",
                        statistics.median(seconds), "s", "< 10",
                        note=f"{n_jobs} jobs; median of {DRY_RUN_REPEATS} (min {min(seconds):.2f} s)")]


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
