"""The prompted animation backends, Wan and LTX-Video: their config rules, their tiny models through the real
pipeline classes, and the workflow on each (frame counts, fps and sizes asked, re-roll, edits, a settled rerun)."""

import hashlib
import json
from pathlib import Path

import pytest
import yaml
from PIL import Image

from aibeats.animation import (
    animate_image_with_prompt,
    load_video_pipeline,
    loop_seam,
    pipeline_backend,
    takes_a_last_frame,
)
from aibeats.config import validate_config
from aibeats.errors import ConfigError
from aibeats.items import animation_frame_count
from aibeats.model_errors import ModelError, check_models_before_jobs
from aibeats.provenance import read_recipe
from aibeats.tiny import build_tiny_model
from aibeats.video_backends import BACKENDS, animation_prompt, frame_count_error
from aibeats.video_io import probe

from workflow import REPO, copy_workflow, planned_jobs, run_module, run_ok

SCHEMA = REPO / "schemas" / "config.schema.yaml"


@pytest.mark.parametrize(("video", "expected"), [
    ({"backend": "wan", "num_frames": 14, "video_fps": 16},
     "config key video.num_frames = 14 is not allowed with backend wan: it must be 4k+1, e.g. 13 or 17"),
    ({"backend": "ltx", "num_frames": 14, "video_fps": 24},
     "config key video.num_frames = 14 is not allowed with backend ltx: it must be 8k+1, e.g. 9 or 17"),
    # SVD's default rate, kept by a config that only switches the backend
    ({"backend": "wan", "num_frames": 81},
     "config key video.video_fps = 6 is not allowed with backend wan: its models make motion for 16 or 24 fps "
     "(played at another rate it runs fast or slow)"),
    ({"backend": "ltx", "num_frames": 121, "video_fps": 16},
     "config key video.video_fps = 16 is not allowed with backend ltx: its models make motion for 24, 25 or 30 "
     "fps (played at another rate it runs fast or slow)"),
    ({"backend": "svd", "loop_video": "seamless"},
     "config key video.loop_video = 'seamless' is not allowed with backend svd: only Wan's first-last-frame models "
     "end a video on a given frame; use true (forward, then back)"),
    ({"backend": "wan", "num_frames": 81, "video_fps": 16, "loop_video": "yes"},
     "config key video.loop_video = 'yes' is not allowed: it must be one of true, false, 'seamless'"),
])
def test_a_frame_count_the_backend_cannot_make_is_refused_in_one_line(video, expected):
    with pytest.raises(ConfigError) as error:
        validate_config({"video": video}, SCHEMA)
    assert str(error.value) == expected and "\n" not in str(error.value)


def test_the_frame_rules_accept_exactly_their_counts_and_suggest_the_nearest():
    assert [n for n in range(2, 30) if frame_count_error(BACKENDS["wan"], n) is None] == [5, 9, 13, 17, 21, 25, 29]
    assert [n for n in range(2, 30) if frame_count_error(BACKENDS["ltx"], n) is None] == [9, 17, 25]
    assert frame_count_error(BACKENDS["wan"], 80) == "it must be 4k+1, e.g. 77 or 81"
    assert frame_count_error(BACKENDS["ltx"], 120) == "it must be 8k+1, e.g. 113 or 121"


def test_a_video_model_of_another_backend_is_refused_before_any_job(tmp_path):
    svd = tmp_path / "svd"
    svd.mkdir()
    (svd / "model_index.json").write_text(json.dumps({"_class_name": "StableVideoDiffusionPipeline"}))
    config = validate_config({"video": {"backend": "wan", "num_frames": 5, "video_fps": 16, "model_id": str(svd)}},
                             SCHEMA)
    with pytest.raises(ModelError) as error:
        check_models_before_jobs(config, {"animate_image"}, "models/tiny")
    assert str(error.value) == (
        f"cannot load the video model {str(svd)!r} (config key video.model_id): it is a StableVideoDiffusionPipeline, "
        "not a model of video.backend wan (WanImageToVideoPipeline or WanPipeline); set video.model_id to one, or "
        "video.backend to the model's")


@pytest.mark.parametrize(("model", "loop_video", "expected"), [
    ("wan", "seamless", "cannot end a video on a given frame, which video.loop_video seamless needs: set "
     "video.model_id to a Wan first-last-frame model (Wan-AI/Wan2.1-FLF2V-14B-720P-Diffusers), or video.loop_video "
     "to true"),
    ("wan-flf2v", True, "is a first-last-frame model: every video it makes ends on a given frame; set "
     "video.loop_video to seamless"),
])
def test_a_seamless_loop_needs_a_first_last_frame_model_and_that_model_needs_one(model, loop_video, expected,
                                                                                 tmp_path):
    # the transformer's config tells, read before any job
    folder = tmp_path / model
    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "WanImageToVideoPipeline"}))
    first_last = {"pos_embed_seq_len": 34} if model == "wan-flf2v" else {}
    (folder / "transformer" / "config.json").write_text(json.dumps({"image_dim": 16, **first_last}))
    config = validate_config({"video": {"backend": "wan", "num_frames": 5, "video_fps": 16, "model_id": str(folder),
                                        "loop_video": loop_video}}, SCHEMA)
    with pytest.raises(ModelError) as error:
        check_models_before_jobs(config, {"animate_image"}, "models/tiny")
    assert str(error.value) == f"the video model {str(folder)!r} (config key video.model_id) {expected}"


def test_the_loop_seam_is_the_jump_back_to_the_first_frame_in_frame_steps():
    def frames(values):
        return [Image.new("L", (8, 4), value) for value in values]

    # a brightness going round: the step back to the start is a step like the others
    assert loop_seam(frames([10, 20, 30, 40, 30, 20])) == pytest.approx(1.0)
    # forward only: back from 60 to 10 in one frame, five steps' worth
    assert loop_seam(frames([10, 20, 30, 40, 50, 60])) == pytest.approx(5.0)
    assert loop_seam(frames([7, 7, 7])) == 0.0


def test_the_animation_prompt_is_the_image_prompt_then_the_motion():
    assert animation_prompt("a city, watercolor", "rain falling") == "a city, watercolor, rain falling"
    assert animation_prompt("a city, watercolor", None) == "a city, watercolor"


@pytest.fixture(scope="module", params=["wan", "wan-ti2v", "ltx"])
def video_pipe(request, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny") / request.param
    build_tiny_model(request.param, folder)
    return request.param, load_video_pipeline(str(folder), "cpu")


def animate(pipe, prompt="a city, rain falling", seed=7, num_frames=None, loop_video=True):
    backend = pipeline_backend(pipe)
    frames = num_frames or {"wan": 5, "ltx": 9}[backend]
    image = Image.new("RGB", (256, 128), (180, 90, 40))
    return animate_image_with_prompt(pipe, image, prompt, max_side=128, num_frames=frames, n_continuations=2,
                                     loop_video=loop_video, fps=BACKENDS[backend].native_fps[0],
                                     guidance_scale=BACKENDS[backend].guidance_scale, negative_prompt="blurry",
                                     inference_steps=2, seed=seed)


def test_a_seamless_loop_has_every_segment_go_from_the_image_back_to_it(tmp_path):
    build_tiny_model("wan-flf2v", tmp_path / "flf2v")
    pipe = load_video_pipeline(str(tmp_path / "flf2v"), "cpu")
    assert takes_a_last_frame(pipe) and pipe.transformer.config.pos_embed_seq_len == 2 * (4 * 4 + 1)

    conditions = []
    prepare_latents = pipe.prepare_latents

    def recording(image, *args):
        # the first and last frames a segment is conditioned on, as the pipeline hands them to its VAE
        conditions.append((image.clone(), args[-1].clone()))
        return prepare_latents(image, *args)

    pipe.prepare_latents = recording
    frames = animate(pipe, loop_video="seamless")
    # two segments of 5 frames, each without its last (the image's return)
    assert len(frames) == animation_frame_count(5, 2, "seamless") == 8
    assert {frame.size for frame in frames} == {(128, 64)}
    # each segment goes from the image back to it (not on from the other's last frame)
    assert len(conditions) == 2
    assert all(first.equal(last) and first.equal(conditions[0][0]) for first, last in conditions)
    assert frame_bytes(animate(pipe, loop_video="seamless")) == frame_bytes(frames)


def frame_bytes(frames) -> str:
    return hashlib.sha256(b"".join(frame.tobytes() for frame in frames)).hexdigest()


def test_each_backend_loads_its_published_pipeline_and_makes_the_frames_asked(video_pipe):
    name, pipe = video_pipe
    backend = {"wan": "wan", "wan-ti2v": "wan", "ltx": "ltx"}[name]
    assert pipeline_backend(pipe) == backend
    assert type(pipe).__name__ == BACKENDS[backend].pipeline_class
    num_frames = {"wan": 5, "ltx": 9}[backend]
    frames = animate(pipe)
    # continued once from the last frame, then played forward and back: the count the clips plan with
    assert len(frames) == animation_frame_count(num_frames, 2, True) == 2 * (2 * num_frames - 1) - 2
    assert {frame.size for frame in frames} == {(128, 64)}
    assert frame_bytes(animate(pipe)) == frame_bytes(frames)
    assert frame_bytes(animate(pipe, prompt="a forest, snow falling")) != frame_bytes(frames)
    assert frame_bytes(animate(pipe, seed=8)) != frame_bytes(frames)


def animation_hashes(root: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(root.glob("anim_*.mp4"))}


# Wan's run is the seamless loop's, on the first-last-frame model: the plain I2V model's continuation is LTX's
# code, which runs through the workflow below, and each pipeline's is tested above.
DEMO_CONFIGS = {"wan": ("wan.yaml", "wan-loop.yaml"), "ltx": ("ltx.yaml",)}


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["wan", "ltx"])
def test_the_workflow_on_each_backend_makes_the_frames_asked_rerolls_and_settles(backend, tmp_path):
    """The whole demo on the backend's demo config: its tiny model built by the run, clips and mix at its fps."""
    workdir = copy_workflow(tmp_path / "repo")
    layers = [f"profiles/demo/{name}" for name in ("demo-config.yaml", *DEMO_CONFIGS[backend])]
    configs = ("--configfile", *layers)
    demo, *overrides = [yaml.safe_load((workdir / layer).read_text()) for layer in layers]
    # loop_video: the default
    video = {"loop_video": True, **demo["video"]}
    for override in overrides:
        video |= override["video"]
    project = workdir / "results" / overrides[-1]["project_name"]
    run_ok(workdir, *configs)
    animations = project / "animations"
    made = animation_hashes(animations)
    assert len(made) == 4
    expected_frames = animation_frame_count(video["num_frames"], video["n_continuations"], video["loop_video"])
    for name in made:
        info = probe(animations / name)
        assert (info.width, info.height, info.n_frames) == (128, 64, expected_frames)
        assert info.fps == pytest.approx(video["video_fps"])
    clip = probe(project / "clips" / "clip_1.mp4")
    assert clip.fps == pytest.approx(video["video_fps"])
    assert clip.n_frames == round(demo["music"]["music_duration"] * video["video_fps"])
    assert probe(project / "mix" / "mix.mp4").fps == pytest.approx(video["video_fps"])
    recipe = read_recipe(animations / "anim_1.mp4")
    assert recipe["backend"] == backend and recipe["prompt"].endswith(", slow camera drift, rain falling")

    second = run_ok(workdir, *configs)
    assert "Nothing to be done" in second.stdout + second.stderr and animation_hashes(animations) == made

    # a backend setting reshapes the animations and what is made of them, not the music or the images
    edit = workdir / "edit.yaml"
    edit.write_text(yaml.safe_dump({"video": {"motion_prompt": "leaves drifting"}}))
    planned = {rule for rule, _ in planned_jobs(workdir, *configs, edit.name)}
    assert planned == {"animate_image", "assemble_clip", "mix_clips", "write_review_page"}

    (animations / "anim_2.mp4").unlink()
    run_ok(workdir, "video", *configs)
    rerolled = animation_hashes(animations)
    assert {name for name in made if rerolled[name] != made[name]} == {"anim_2.mp4"}
    assert read_recipe(animations / "anim_2.mp4")["attempt"] == 1
    inspected = run_module(workdir, "aibeats", "inspect", str(animations / "anim_1.mp4"), timeout=60).stdout
    assert f"backend: {backend}" in inspected and "motion_prompt: slow camera drift, rain falling" in inspected
    # the seam of a seamless loop, measured in the file (the tiny random model does not keep to its frames)
    assert ("loop_seam: " in inspected) == (video["loop_video"] == "seamless")
    if video["loop_video"] == "seamless":
        assert read_recipe(animations / "anim_1.mp4")["loop_seam"] > 0


def test_the_review_page_names_the_backend_that_made_an_animation(tmp_path):
    from aibeats.review import _facts

    for backend, made_by in (("wan", "Wan image-to-video (wan)"), ("ltx", "LTX-Video image-to-video (ltx)"),
                             ("kenburns", "a camera move over the image (kenburns)")):
        facts = dict(_facts({"backend": backend, "seed": 1, "attempt": 0}, tmp_path / "anim_1.mp4"))
        assert facts["made by"] == made_by
