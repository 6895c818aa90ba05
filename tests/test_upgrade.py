"""Upgrading keeps a user's project: a demo made by an earlier release plans zero jobs with this code, and a
fresh run of this code makes the very same files.

The earlier release's workflow files (Snakefile, rules, scripts, package, profiles) are kept as a fixture, the
`git archive` of its commit, so that the project under test is made by that release's own code, exactly as a
user's would have been, even in a clone without history.
"""

import subprocess
import tarfile
from pathlib import Path

import pytest

from aibeats.provenance import read_recipe

from workflow import GENERATED, WORKFLOW_FILES, copy_workflow, file_hashes, planned_jobs, run_ok

pytestmark = pytest.mark.slow
# The last release before attempts were settled once per run (issue 8) and stages were declared in one place:
# `git archive --format=tar.gz f35a8f0 Snakefile config.yaml rules scripts schemas envs profiles aibeats`.
PREVIOUS_RELEASE = Path(__file__).parent / "fixtures" / "release-f35a8f0.tar.gz"
# The release with the mix (issue 10 but its cuts on the beat), before the review page (issue 11): the same
# `git archive` of f4f9814.
MIX_RELEASE = Path(__file__).parent / "fixtures" / "release-f4f9814.tar.gz"
# The release before the mix was made piece by piece (issue 23) and the picture and music backends came (issues 20
# and 21): the same `git archive` of 73c619b, with report/.
PIECEWISE_MIX_RELEASE = Path(__file__).parent / "fixtures" / "release-73c619b.tar.gz"
# The release before device slots (issue 22: every GPU, the workers split), the same `git archive` of 79d9ee5.
SINGLE_SLOT_RELEASE = Path(__file__).parent / "fixtures" / "release-79d9ee5.tar.gz"


def checkout(release: Path, destination: Path) -> Path:
    destination.mkdir(parents=True)
    with tarfile.open(release) as tar:
        tar.extractall(destination, filter="data")
    return destination


@pytest.fixture(scope="module")
def previous_demo(tmp_path_factory) -> Path:
    """The offline demo as the previous release made it."""
    workdir = checkout(PREVIOUS_RELEASE, tmp_path_factory.mktemp("previous") / "repo")
    run_ok(workdir)
    return workdir


def upgrade(workdir: Path) -> None:
    """Replace the workflow's code with this checkout's, as `git pull` would; results and metadata stay."""
    for name in WORKFLOW_FILES:
        path = workdir / name
        if path.is_dir():
            subprocess.run(["rm", "-rf", str(path)], check=True)
        elif path.exists():  # a folder this release added is not there
            path.unlink()
    copy_workflow(workdir)


# What the review page adds to a finished project: the page, and its copy for Snakemake's report.
REVIEW_PAGE = {("write_review_page", "review.html"), ("write_review_page", "review")}
# What this release adds to a project of f35a8f0: the mix and its chapters and thumbnail, and the review page.
NEW_FILES = {("mix_clips", "mix.mp4"), ("write_chapters", "chapters.txt"), ("make_thumbnail", "thumbnail.png")
             } | REVIEW_PAGE
# Clips are now set to a loudness (audio_clip.loudness_lufs): at the default, they are remade once.
LOUDER_CLIPS = {("assemble_clip", "clip_1.mp4"), ("assemble_clip", "clip_2.mp4")}


def upgraded_copy(previous_demo: Path, destination: Path) -> Path:
    subprocess.run(["cp", "-a", str(previous_demo), str(destination)], check=True)
    upgrade(destination)
    return destination


def test_a_project_made_by_the_previous_release_keeps_every_file_and_rerolls_as_before(previous_demo, tmp_path):
    made_before = file_hashes(previous_demo)
    workdir = upgraded_copy(previous_demo, tmp_path / "repo")
    assert planned_jobs(workdir) == NEW_FILES | LOUDER_CLIPS
    run_ok(workdir)
    after = file_hashes(workdir)
    assert {name: digest for name, digest in after.items() if not name.startswith(("clips/", "mix/"))} == {
        name: digest for name, digest in made_before.items() if not name.startswith("clips/")}
    # the clips are the same variants, only louder
    assert [read_recipe(workdir / "results" / "demo" / "clips" / f"clip_{i}.mp4")["attempt"] for i in (1, 2)] == [
        0, 0]

    # a deletion after the upgrade still re-rolls, from the history the previous release wrote
    (workdir / "results" / "demo" / "images" / "img_3.png").unlink()
    run_ok(workdir)
    assert read_recipe(workdir / "results" / "demo" / "images" / "img_3.png")["attempt"] == 1
    assert planned_jobs(workdir) == set()


def test_clips_at_their_own_level_are_not_remade_by_the_upgrade(previous_demo, tmp_path):
    workdir = upgraded_copy(previous_demo, tmp_path / "repo")
    (workdir / "own-level.yaml").write_text("audio_clip:\n  loudness_lufs: null\n")
    assert planned_jobs(workdir, "--configfile", "profiles/demo/demo-config.yaml", "own-level.yaml") == NEW_FILES


def test_this_release_makes_the_same_tracks_images_and_animations_as_the_previous_one(previous_demo, tmp_path):
    """On one thread, as the previous release computed (its workers inherited Snakemake's OMP_NUM_THREADS=1):
    on a CPU, torch's results depend on how many threads share the work, as they depend on the device."""
    def made_by_models(workdir: Path) -> dict[str, str]:
        return file_hashes(workdir, GENERATED[:3])

    workdir = copy_workflow(tmp_path / "repo")
    run_ok(workdir, "--cores", "1", "music_continuation", "video")
    assert made_by_models(workdir) == made_by_models(previous_demo)


def test_a_project_made_by_the_release_with_the_mix_only_gains_its_review_page(tmp_path):
    previous = checkout(MIX_RELEASE, tmp_path / "previous")
    run_ok(previous)
    made_before = file_hashes(previous)
    workdir = upgraded_copy(previous, tmp_path / "repo")
    assert planned_jobs(workdir) == REVIEW_PAGE
    run_ok(workdir)
    assert file_hashes(workdir) == made_before
    assert planned_jobs(workdir) == set()


@pytest.mark.parametrize("release", [PIECEWISE_MIX_RELEASE, SINGLE_SLOT_RELEASE], ids=["piecewise mix", "slots"])
def test_a_project_made_before_plans_nothing_and_keeps_every_byte(tmp_path, release):
    """Before the piecewise mix and the new backends (73c619b), and before device slots (79d9ee5)."""
    previous = checkout(release, tmp_path / "previous")
    run_ok(previous)
    made_before = file_hashes(previous)
    workdir = upgraded_copy(previous, tmp_path / "repo")
    assert planned_jobs(workdir) == set()
    run_ok(workdir)
    assert file_hashes(workdir) == made_before
