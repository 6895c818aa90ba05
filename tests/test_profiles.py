"""What each profile asks for per rule, read from real Snakemake dry runs of the demo."""

import os

import pytest
import yaml

from aibeats.pipeline import REVIEW_RULE, STAGES, TINY_MODEL_RULE

from workflow import copy_workflow, parse_dry_run, snakemake

GPU_RULES = {stage.rule for stage in STAGES.values() if stage.needs_gpu}
CPU_RULES = {stage.rule for stage in STAGES.values() if not stage.needs_gpu} | {TINY_MODEL_RULE, REVIEW_RULE}
PARALLEL_RULES = {stage.rule for stage in STAGES.values() if stage.parallel}


def resources_by_rule(workdir, profile: str, *configfiles: str) -> dict[str, dict[str, str]]:
    result = snakemake(workdir, "--dry-run", "--profile", profile, "--configfile", "profiles/demo/demo-config.yaml",
                       *configfiles, timeout=120)
    assert result.returncode == 0, result.stderr
    by_rule: dict[str, dict[str, str]] = {}
    for job in parse_dry_run(result.stdout + result.stderr):
        assert by_rule.setdefault(job.rule, job.resources) == job.resources, f"{job.rule} varies per job"
    return by_rule


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("profiles") / "repo")


def test_workstation_profile_gives_gpu_rules_one_gpu_and_the_others_none(workdir):
    resources = resources_by_rule(workdir, "profiles/demo")
    assert set(resources) == GPU_RULES | CPU_RULES
    for rule in GPU_RULES:
        assert resources[rule]["gpu"] == "1", rule
    for rule in CPU_RULES:
        assert resources[rule].get("gpu", "0") == "0", rule


@pytest.mark.parametrize(
    ("rule", "mem_mb", "runtime"),
    [("generate_track", "16000", "20"), ("extend_track", "16000", "40"), ("generate_image", "24000", "10"),
     ("animate_image", "32000", "30")],
)
def test_slurm_profile_sizes_each_gpu_rule_for_the_real_models(workdir, rule, mem_mb, runtime):
    resources = resources_by_rule(workdir, "profiles/slurm")[rule]
    assert (resources["gpu"], resources["mem_mb"], resources["runtime"], resources["cpus_per_task"]) == (
        "1", mem_mb, runtime, "4")


def test_slurm_profile_asks_no_gpu_for_cpu_rules(workdir):
    resources = resources_by_rule(workdir, "profiles/slurm")
    for rule in CPU_RULES:
        assert resources[rule].get("gpu", "0") == "0", rule
    assert resources["assemble_clip"]["cpus_per_task"] == "2"


@pytest.mark.parametrize("profile", ["profiles/demo", "profiles/slurm"])
def test_camera_moves_ask_for_no_gpu_and_no_model(workdir, profile):
    (workdir / "kenburns.yaml").write_text("video:\n  backend: kenburns\n")
    resources = resources_by_rule(workdir, profile, "kenburns.yaml")
    assert resources["animate_image"].get("gpu", "0") == "0"
    assert resources["generate_image"]["gpu"] == "1"
    result = snakemake(workdir, "--dry-run", "--configfile", "profiles/demo/demo-config.yaml", "kenburns.yaml")
    # the tiny SVD is not even built
    assert "models/tiny/svd" not in result.stdout and "models/tiny/sdxl" in result.stdout


def test_the_preview_profile_writes_a_project_of_its_own_quickly(workdir):
    result = snakemake(workdir, "--dry-run", "--profile", "profiles/preview", "--configfile",
                       "profiles/demo/demo-config.yaml", timeout=120)
    assert result.returncode == 0, result.stderr
    jobs = parse_dry_run(result.stdout + result.stderr)
    outputs = [output for job in jobs if job.rule != TINY_MODEL_RULE for output in job.outputs]
    assert outputs and all(output.startswith("results/demo-preview/") for output in outputs)
    assert {job.resources.get("gpu") for job in jobs if job.rule == "animate_image"} == {"0"}


def test_model_rules_and_the_mix_compute_on_every_core_they_are_given(workdir):
    """All the workstation's cores (Snakemake caps threads at --cores); on SLURM the allocation's cpus_per_task,
    which the profile sets (a local dry run would cap them at this machine's cores). The mix encodes its audio
    pieces side by side; every other CPU rule is one thread."""
    result = snakemake(workdir, "--dry-run", "--forceall", "--configfile", "profiles/demo/demo-config.yaml",
                       timeout=120)
    threads = {job.rule: job.threads for job in parse_dry_run(result.stdout + result.stderr)}
    assert PARALLEL_RULES == {"mix_clips"}
    assert {rule: threads[rule] for rule in GPU_RULES | PARALLEL_RULES} == dict.fromkeys(
        GPU_RULES | PARALLEL_RULES, os.cpu_count())
    single = (CPU_RULES - PARALLEL_RULES) & set(threads)
    assert {rule: threads[rule] for rule in single} == dict.fromkeys(single, 1)
    slurm = yaml.safe_load((workdir / "profiles" / "slurm" / "config.yaml").read_text())
    assert {rule: slurm["set-threads"][rule] for rule in GPU_RULES | PARALLEL_RULES} == {
        rule: slurm["set-resources"][rule]["cpus_per_task"] for rule in GPU_RULES | PARALLEL_RULES}
