"""Reading Snakemake's plans: its detailed summary (for `aibeats status`) and its dry-run text (for the tests)."""

from aibeats.status import format_status, parse_summary

from workflow import parse_dry_run

SUMMARY = "\n".join("\t".join(row) for row in [
    ("output_file", "date", "rule", "log-file(s)", "input-file(s)", "shellcmd", "status", "plan"),
    ("models/tiny/sdxl", "-", "build_tiny_model", "", "", "", "ok", "no update"),
    ("results/demo/images/img_1.png", "-", "generate_image", "", "", "", "ok", "no update"),
    ("results/demo/images/img_3.png", "-", "generate_image", "", "", "", "missing", "update pending"),
    ("results/demo/animations/anim_3.mp4", "-", "animate_image", "", "", "", "ok", "update pending"),
    ("results/demo/clips/clip_2.mp4", "-", "assemble_clip", "", "", "", "params changed", "update pending"),
])


def test_the_summary_gives_each_file_its_stage_state_and_plan():
    rows = {row.output.rsplit("/", 1)[-1]: row for row in parse_summary("Building DAG of jobs...\n" + SUMMARY)}
    assert set(rows) == {"sdxl", "img_1.png", "img_3.png", "anim_3.mp4", "clip_2.mp4"}
    assert (rows["img_3.png"].exists, rows["img_3.png"].update_pending) == (False, True)
    assert rows["anim_3.mp4"].reason == "made from a file that is remade"
    assert rows["clip_2.mp4"].reason == "params changed"


def test_status_counts_per_stage_and_names_what_is_remade(tmp_path):
    text = format_status(parse_summary(SUMMARY))
    assert "image: 2 files, 1 exists, 1 missing, 1 to regenerate" in text
    assert "  img_3.png: missing (attempt 0)" in text
    assert "audio_clip: 1 file, 1 exists, 0 missing, 1 to regenerate" in text
    assert text.splitlines()[-1] == "tiny models: 1 file, 1 exists, 0 missing, 0 to regenerate"


def test_the_dry_run_text_gives_each_job_its_rule_outputs_reason_and_resources():
    text = """Job stats:
[Wed Nov 25 15:46:35 2026]
localrule generate_image:
    input: models/tiny/sdxl
    output: results/demo/images/img_3.png
    log: results/demo/logs/images/img_3.log
    jobid: 7
    reason: Missing output files: results/demo/images/img_3.png
    wildcards: j=3
    resources: tmpdir=/tmp, gpu=1
rule all:
    input: results/demo/images/img_3.png
    jobid: 0
"""
    (job,) = parse_dry_run(text)
    assert (job.rule, job.outputs, job.resources["gpu"]) == ("generate_image", ("results/demo/images/img_3.png",), "1")
    assert job.reason.startswith("Missing output files")
