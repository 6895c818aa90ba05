"""The workflow on a real one-node SLURM cluster, through snakemake's SLURM executor plugin and profiles/slurm.

Needs SLURM and munge: `bash tests/slurm/install-slurm.sh` (as root). Without them these tests are skipped,
except on CI (CI=true), where they must run and so fail.
"""

import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from aibeats.pipeline import REVIEW_RULE, STAGES, TINY_MODEL_RULE
from aibeats.provenance import read_recipe

from slurm.local_cluster import PARTITION, LocalSlurmCluster, missing_binaries
from workflow import copy_run, copy_workflow, demo_config

REPO = Path(__file__).resolve().parent.parent
SLURM_PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
TOY_WORKFLOW = Path(__file__).parent / "slurm" / "toy" / "Snakefile"
QUICK_STATUS_CHECKS = Path(__file__).parent / "slurm" / "quick_status_checks.py"
GPU_RULES = {stage.rule for stage in STAGES.values() if stage.needs_gpu}
CPU_RULES = {stage.rule for stage in STAGES.values() if not stage.needs_gpu} | {TINY_MODEL_RULE, REVIEW_RULE}
# Jobs here import torch and load tiny models: well under this, and two fit side by side on the node.
LOCAL_JOB_MEM_MB = 2000

MISSING = missing_binaries()
INSTALL_HINT = f"SLURM/munge missing ({', '.join(MISSING)}): install with `bash tests/slurm/install-slurm.sh` as root"
if MISSING and os.environ.get("CI") != "true":
    pytest.skip(INSTALL_HINT, allow_module_level=True)


@pytest.fixture(scope="session")
def local_slurm(tmp_path_factory):
    """A one-node cluster with one fake GPU for the whole session; afterwards its daemons' pids must be gone."""
    if MISSING:
        pytest.fail(f"CI must run the SLURM tests. {INSTALL_HINT}")
    cluster = LocalSlurmCluster(tmp_path_factory.mktemp("slurm"))
    started = time.monotonic()
    with cluster:
        print(f"local SLURM cluster started in {time.monotonic() - started:.1f} s, pids {cluster.pids}")
        yield cluster
    alive = [name for name, pid in cluster.pids.items() if _is_running(pid)]
    assert not alive, f"still running after stop(): {alive}"


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def local_profile(destination: Path) -> Path:
    """profiles/slurm fitted to the local node (its partition, 2 CPUs, small memory) and to quick tests."""
    profile = yaml.safe_load(SLURM_PROFILE.read_text())
    profile["default-resources"] = [f"slurm_partition={PARTITION}", f"mem_mb={LOCAL_JOB_MEM_MB}", "runtime=30"]
    for resources in profile["set-resources"].values():
        resources["mem_mb"] = min(resources["mem_mb"], LOCAL_JOB_MEM_MB)
        resources["cpus_per_task"] = 1
    profile["set-threads"] = dict.fromkeys(profile["set-threads"], 1)
    profile.update({
        "jobs": 10,
        "latency-wait": 5,
        "slurm-init-seconds-before-status-checks": 2,
        # No accounting here: nothing to guess an account from.
        "slurm-no-account": True,
        # The per-job SLURM logs tell which rules each SLURM job ran (see `slurm_jobs`).
        "slurm-keep-successful-logs": True,
    })
    destination.mkdir(parents=True, exist_ok=True)
    (destination / "config.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return destination


def run_snakemake(workdir: Path, cluster: LocalSlurmCluster, *args: str, timeout_s: int) -> float:
    """Runs snakemake to the end and returns its wall time; kills its process group once past the timeout.

    The SLURM plugin can wait forever when status checks fail, and ignores SIGTERM meanwhile. Its status checks
    come at most STATUS_CHECK_SECONDS apart here (slurm/quick_status_checks.py).
    """
    venv_bin = str(Path(sys.executable).parent)
    env = {**cluster.env, "PATH": f"{venv_bin}{os.pathsep}{cluster.env['PATH']}"}
    log = workdir / "snakemake.log"
    started = time.monotonic()
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, str(QUICK_STATUS_CHECKS), *args], cwd=workdir, env=env,
                                   stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            pytest.fail(f"snakemake still running after {timeout_s} s, killed:\n{_tail(log)}")
    assert returncode == 0, f"snakemake {' '.join(args)} failed:\n{_tail(log)}"
    return time.monotonic() - started


def _tail(log: Path, lines: int = 60) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class SlurmJob:
    job_id: str
    rules: set[str]
    gpus: int
    state: str
    time_limit: str


def slurm_jobs(workdir: Path, cluster: LocalSlurmCluster) -> list[SlurmJob]:
    """Every job the plugin submitted from `workdir`, as SLURM itself recorded it.

    Which rules a job ran comes from its log (`.snakemake/slurm_logs/**/<jobid>.log`, kept by the test
    profile); what it asked for comes from `scontrol show job`, so it is what sbatch really requested.
    """
    jobs = []
    for log in sorted((workdir / ".snakemake" / "slurm_logs").rglob("*.log")):
        rules = set(re.findall(r"^rule (\w+):$", log.read_text(errors="replace"), re.MULTILINE))
        record = subprocess.run(["scontrol", "show", "job", "--oneliner", log.stem], env=cluster.env,
                                capture_output=True, text=True, check=True).stdout
        gpus = re.search(r"TresPer(?:Job|Node)=\S*?gpu(?::\w+)?[:=](\d+)", record)
        jobs.append(SlurmJob(job_id=log.stem, rules=rules, gpus=int(gpus.group(1)) if gpus else 0,
                             state=re.search(r"JobState=(\w+)", record).group(1),
                             time_limit=re.search(r"TimeLimit=(\S+)", record).group(1)))
    return jobs


def job_environment(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_toy_workflow_bundles_gpu_jobs_and_asks_gpu_only_for_them(local_slurm, tmp_path):
    workdir = tmp_path / "toy"
    workdir.mkdir()
    shutil.copy(TOY_WORKFLOW, workdir / "Snakefile")
    profile = local_profile(tmp_path / "profile")
    # The profile's bundling, applied to the toy's GPU rules (runtime 5 per job, from --default-resources).
    elapsed = run_snakemake(workdir, local_slurm, "--profile", str(profile),
                            "--groups", "gpu_probe=probes", "gpu_extend=probes", "--group-components", "probes=2",
                            "--default-resources", f"slurm_partition={PARTITION}", "mem_mb=200", "runtime=5",
                            timeout_s=180)
    print(f"toy workflow through the SLURM plugin: {elapsed:.1f} s")

    gpu_jobs = [job_environment(workdir / f"gpu_{step}_{n}.txt") for step in ("probe", "extend") for n in (1, 2)]
    cpu_job = job_environment(workdir / "cpu_probe.txt")
    assert all(job.get("CUDA_VISIBLE_DEVICES") == "0" for job in gpu_jobs)
    assert len({job["SLURM_JOB_ID"] for job in gpu_jobs}) == 1, "GPU jobs not bundled into one submission"
    assert "CUDA_VISIBLE_DEVICES" not in cpu_job

    jobs = {job.job_id: job for job in slurm_jobs(workdir, local_slurm)}
    assert len(jobs) == 2
    bundle, cpu_submission = jobs[gpu_jobs[0]["SLURM_JOB_ID"]], jobs[cpu_job["SLURM_JOB_ID"]]
    # Four jobs stacked in series under the local gpu=1 limit: one GPU, their runtimes summed.
    assert (bundle.rules, bundle.gpus, bundle.time_limit) == ({"gpu_probe", "gpu_extend"}, 1, "00:20:00")
    assert (cpu_submission.rules, cpu_submission.gpus) == ({"cpu_probe"}, 0)
    assert {job.state for job in jobs.values()} == {"COMPLETED"}


def expected_demo_outputs(config: dict) -> list[str]:
    root = f"{config['project_dir']}/{config['project_name']}"
    tracks = range(1, config["music"]["n_music"] + 1)
    images = range(1, config["image"]["n_images"] * len(config["image"]["prompt_modifiers"]) + 1)
    return ([f"{root}/music/track_{i}.wav" for i in tracks] + [f"{root}/music/track_{i}_ext.wav" for i in tracks]
            + [f"{root}/images/img_{j}.png" for j in images] + [f"{root}/animations/anim_{j}.mp4" for j in images]
            + [f"{root}/clips/clip_{i}.mp4" for i in tracks])


@pytest.mark.slow
def test_demo_runs_on_slurm_with_gpus_for_model_rules_only(local_slurm, tmp_path):
    workdir = copy_workflow(tmp_path / "repo")
    profile = local_profile(tmp_path / "profile")
    # One image per prompt modifier: every rule and every bundle still runs, in half the node's time.
    fewer_images = {"n_images": 1}
    (workdir / "fewer-images.yaml").write_text(yaml.safe_dump({"image": fewer_images}))
    elapsed = run_snakemake(workdir, local_slurm, "--profile", str(profile),
                            "--configfile", "profiles/demo/demo-config.yaml", "fewer-images.yaml", timeout_s=540)
    print(f"demo workflow through the SLURM plugin: {elapsed:.1f} s")

    config = demo_config()
    config["image"].update(fewer_images)
    missing = [path for path in expected_demo_outputs(config) if not (workdir / path).is_file()]
    assert not missing

    jobs = slurm_jobs(workdir, local_slurm)
    assert {job.state for job in jobs} == {"COMPLETED"}
    assert {rule for job in jobs for rule in job.rules} == GPU_RULES | CPU_RULES
    for job in jobs:
        expected_gpus = 1 if job.rules & GPU_RULES else 0
        assert job.gpus == expected_gpus, f"SLURM job {job.job_id} ran {job.rules} with {job.gpus} GPUs"
        assert not (job.rules & GPU_RULES and job.rules & CPU_RULES)

    profile_groups = yaml.safe_load(SLURM_PROFILE.read_text())["group-components"]
    images_per_bundle = int(next(entry for entry in profile_groups if entry.startswith("images=")).split("=")[1])
    image_jobs = [job for job in jobs if "generate_image" in job.rules]
    assert len(image_jobs) == math.ceil(config["image"]["n_images"] / images_per_bundle)
    # Each track and its extension share one submission (group music).
    assert any({"generate_track", "extend_track"} <= job.rules for job in jobs)


@pytest.mark.slow
def test_a_deletion_and_an_edit_settle_through_slurm(local_slurm, demo_run, tmp_path):
    """Cluster jobs read the Snakefile again on the node, after the main process may have deleted outputs:
    they must use the attempts the main process planned, and the next run must find nothing to do."""
    workdir = copy_run(demo_run, tmp_path / "repo")
    profile = local_profile(tmp_path / "profile")
    root = workdir / "results" / "demo"

    def generated() -> dict[str, bytes]:
        return {path.name: path.read_bytes() for folder in ("music", "images", "animations", "clips")
                for path in (root / folder).iterdir()}

    before = generated()
    (root / "images" / "img_3.png").unlink()
    (workdir / "edit.yaml").write_text(yaml.safe_dump({"audio_clip": {"fade_out_duration": 1.0}}))
    args = ("--profile", str(profile), "--configfile", "profiles/demo/demo-config.yaml", "edit.yaml")
    run_snakemake(workdir, local_slurm, *args, timeout_s=540)

    after = generated()
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {"img_3.png", "anim_3.mp4", "clip_1.mp4", "clip_2.mp4"}
    attempts = {name: read_recipe(root / folder / name)["attempt"]
                for folder, name in (("images", "img_3.png"), ("animations", "anim_3.mp4"), ("clips", "clip_1.mp4"))}
    assert attempts == {"img_3.png": 1, "anim_3.mp4": 0, "clip_1.mp4": 0}

    run_snakemake(workdir, local_slurm, *args, timeout_s=300)
    assert "Nothing to be done" in (workdir / "snakemake.log").read_text()
    assert generated() == after
