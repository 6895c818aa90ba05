"""Config validation: defaults filled in, and every bad value named with what is allowed."""

from pathlib import Path

import pytest
import yaml

from aibeats.config import merged_config, read_config_file, validate_config
from aibeats.continuation import initial_track_seconds
from aibeats.errors import ConfigError

from workflow import copy_workflow, run_module, snakemake

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "schemas" / "config.schema.yaml"


def test_empty_config_gets_the_documented_defaults():
    config = validate_config({}, SCHEMA)
    assert config["seed"] == 42
    assert config["music"]["n_music"] == 5
    assert config["music"]["music_duration"] == 60
    assert config["music"]["initial_music_tokens"] == 1050
    assert (config["music"]["max_continuation_duration"], config["music"]["prompt_music_duration"]) == (20, 10)
    assert config["image"]["prompt"] == "Mystical Landscape"
    assert len(config["image"]["prompt_modifiers"]) == 5
    assert (config["image"]["n_images"], config["image"]["inference_steps"]) == (5, 3)
    assert (config["image"]["height"], config["image"]["width"]) == (576, 1024)
    video = config["video"]
    assert (video["n_continuations"], video["loop_video"], video["video_fps"]) == (2, True, 6)
    assert (video["decode_chunk_size"], video["motion_bucket_id"], video["noise_aug_strength"]) == (8, 127, 0.1)
    assert config["audio_clip"]["n_music_loops"] == 1


def test_shipped_config_yaml_equals_the_schema_defaults():
    """config.yaml documents every key; it must not drift from the defaults the schema applies."""
    shipped = yaml.safe_load((REPO / "config.yaml").read_text())
    assert validate_config(shipped, SCHEMA) == validate_config({}, SCHEMA)


def test_demo_config_is_valid():
    demo = yaml.safe_load((REPO / "profiles" / "demo" / "demo-config.yaml").read_text())
    assert validate_config(demo, SCHEMA)["project_name"] == "demo"


def test_given_values_are_kept_and_the_input_is_not_modified():
    given = {"music": {"n_music": 2}}
    config = validate_config(given, SCHEMA)
    assert config["music"]["n_music"] == 2
    assert config["music"]["prompt_music_duration"] == 10
    assert given == {"music": {"n_music": 2}}


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"musik": {}}, "unknown config key musik: allowed keys here are attempts, audio_clip, image, mix, music"),
        ({"image": {"n_image": 3}},
         "unknown config key image.n_image: allowed keys here are device, guidance_scale, height"),
        ({"music": {"n_music": "5"}}, "config key music.n_music = '5' is not allowed: it must be a whole number"),
        ({"image": {"n_images": 2.5}}, "config key image.n_images = 2.5 is not allowed: it must be a whole number"),
        ({"music": {"n_music": -1}}, "config key music.n_music = -1 is not allowed: it must be at least 1"),
        ({"image": {"n_images": 0}}, "config key image.n_images = 0 is not allowed: it must be at least 1"),
        ({"music": {"music_duration": 0}},
         "config key music.music_duration = 0 is not allowed: it must be greater than 0"),
        ({"image": {"prompt_modifiers": []}},
         "config key image.prompt_modifiers = [] is not allowed: it must list at least 1 entry"),
        ({"music": {"prompt_music_duration": 20}},
         "config key music.prompt_music_duration = 20 is not allowed: it must be below "
         "music.max_continuation_duration (20)"),
        ({"music": {"prompt_music_duration": 5, "max_continuation_duration": 4}},
         "config key music.prompt_music_duration = 5 is not allowed: it must be below "
         "music.max_continuation_duration (4)"),
        ({"project_name": "lofi/2024"},
         "config key project_name = 'lofi/2024' is not allowed: it must be a folder name without path separators"),
        ({"project_name": "..\\up"},
         "config key project_name = '..\\\\up' is not allowed: it must be a folder name without path separators"),
        ({"video": {"loop_video": "yes"}},
         "config key video.loop_video = 'yes' is not allowed: it must be one of true, false, 'seamless'"),
        ({"music": {"device": "gpu"}},
         "config key music.device = 'gpu' is not allowed: it must be auto, cpu, mps, cuda or cuda:N"),
        ({"video": {"device": ["cuda:0", "gpu"]}},
         "config key video.device = ['cuda:0', 'gpu'] is not allowed: it must be auto, cpu, mps, cuda or cuda:N, or "
         "a list of them"),
        ({"video": {"device": []}}, "config key video.device = [] is not allowed: it must be auto, cpu, mps"),
        ({"video": {"device": ["cuda:1", "cpu", "cuda:1"]}},
         "config key video.device = ['cuda:1', 'cpu', 'cuda:1'] is not allowed: cuda:1 would be listed twice"),
        ({"image": {"device": ["cuda", "cuda:0"]}},
         "config key image.device = ['cuda', 'cuda:0'] is not allowed: cuda:0 would be listed twice"),
        ({"image": {"height": 100}}, "config key image.height = 100 is not allowed: it must be a multiple of 8"),
        ({"attempts": {"image_3": 1}},
         "config key attempts = 'image_3' is not allowed: it must be an output's file name without extension"),
        ({"attempts": {"img_3": -1}}, "config key attempts.img_3 = -1 is not allowed: it must be at least 0"),
        # 1050 tokens make 20.94 s of music: three tokens go to MusicGen's codebook delay, 50 frames a second
        ({"music": {"music_duration": 20}},
         "config key music.music_duration = 20 is not allowed: it must be at least 20.94, the length of the "
         "initial track that music.initial_music_tokens (1050) makes"),
        ({"image": {"model_id": "./models/my-sdxl"}},
         "config key image.model_id = './models/my-sdxl' is not allowed: there is no such folder"),
        ({"video": {"model_id": "/nowhere/svd"}},
         "config key video.model_id = '/nowhere/svd' is not allowed: there is no such folder"),
        ({"music": {"music_duration": 1}},
         "config key music.music_duration = 1 is not allowed: it must be at least 20.94"),
        ({"music": {"music_duration": 3, "initial_music_tokens": 103}},
         "config key music.music_duration = 3 is not allowed with audio_clip.n_music_loops = 1: a clip (3 s) must be "
         "longer than mix.crossfade_duration (4 s)"),
        ({"mix": {"crossfade_duration": 60}},
         "config key mix.crossfade_duration = 60 is not allowed: it must be below a clip's length (60 s"),
        ({"mix": {"thumbnail_image": 26}},
         "config key mix.thumbnail_image = 26 is not allowed: there are 25 images"),
        ({"mix": {"chapter_titles": "Track {number}"}},
         "config key mix.chapter_titles = 'Track {number}' is not allowed: it may only use {track}, {modifier} and "
         "{prompt}"),
        ({"audio_clip": {"loudness_lufs": 3}},
         "config key audio_clip.loudness_lufs = 3 is not allowed: it must be at most 0"),
        ({"mix": {"audio_sample_rate": 32000}},
         "config key mix.audio_sample_rate = 32000 is not allowed: it must be one of 44100, 48000, 96000"),
    ],
)
def test_bad_config_names_key_value_and_what_is_allowed(config, expected):
    with pytest.raises(ConfigError) as error:
        validate_config(config, SCHEMA)
    assert expected in str(error.value)


def test_music_as_long_as_the_initial_track_is_allowed():
    assert validate_config({"music": {"music_duration": 20.94}}, SCHEMA)["music"]["music_duration"] == 20.94
    assert validate_config({"music": {"initial_music_tokens": 103, "music_duration": 2},
                            "mix": {"crossfade_duration": 1}}, SCHEMA)


def test_hub_ids_and_existing_folders_are_accepted(tmp_path):
    (tmp_path / "my-sdxl").mkdir()
    config = validate_config({"image": {"model_id": str(tmp_path / "my-sdxl")}, "video": {"model_id": "owner/svd"},
                              "music": {"model_id": "models/tiny/musicgen"}}, SCHEMA)
    assert config["image"]["model_id"] == str(tmp_path / "my-sdxl")


def test_a_preview_lowers_sizes_steps_and_length_into_a_project_of_its_own():
    config = validate_config({"preview": True, "project_name": "lofi"}, SCHEMA)
    assert config["project_name"] == "lofi-preview"
    assert (config["image"]["height"], config["image"]["width"], config["image"]["inference_steps"]) == (288, 512, 1)
    assert (config["video"]["backend"], config["video"]["max_side"]) == ("kenburns", 512)
    assert config["music"]["music_duration"] == 10
    assert initial_track_seconds(config["music"]["initial_music_tokens"]) <= 10
    assert config["mix"]["crossfade_duration"] <= 10 / 4
    # never raised: a small config stays as small
    small = validate_config({"preview": True, "image": {"height": 64, "width": 128}, "music": {
        "music_duration": 5, "initial_music_tokens": 103}, "video": {"max_side": 128}}, SCHEMA)
    assert (small["image"]["height"], small["image"]["width"], small["video"]["max_side"]) == (64, 128, 128)
    assert small["music"]["music_duration"] == 5


def test_a_yaml_syntax_error_names_the_file_and_the_line(tmp_path):
    bad = tmp_path / "my.yaml"
    bad.write_text("music:\n  prompt: [lofi beats\n  n_music: 2\n")
    with pytest.raises(ConfigError) as error:
        read_config_file(bad)
    assert str(error.value).startswith(f"the config file {bad} is not valid YAML at line 3, column ")
    bad.write_text("- music\n")
    with pytest.raises(ConfigError, match="must hold keys"):
        read_config_file(bad)


def test_config_files_merge_key_by_key_as_snakemake_merges_them(tmp_path):
    (tmp_path / "a.yaml").write_text("music:\n  n_music: 2\n  prompt: rain\n")
    (tmp_path / "b.yaml").write_text("music:\n  n_music: 3\n")
    assert merged_config([tmp_path / "a.yaml", tmp_path / "b.yaml"]) == {"music": {"n_music": 3, "prompt": "rain"}}


def test_snakemake_and_check_config_name_the_file_and_line_of_a_yaml_error(tmp_path):
    """config.yaml is read by the Snakefile; a --configfile by Snakemake before the Snakefile runs, so only
    check-config can name its line."""
    workdir = copy_workflow(tmp_path / "repo")
    (workdir / "my.yaml").write_text("image:\n  n_images: [3\n")
    checked = run_module(workdir, "aibeats", "check-config", "my.yaml", timeout=60)
    assert checked.returncode == 1
    assert "aibeats: the config file my.yaml is not valid YAML at line 3" in checked.stderr
    (workdir / "my.yaml").write_text("image:\n  n_images: 0\n")
    checked = run_module(workdir, "aibeats", "check-config", "my.yaml", timeout=60)
    assert "config key image.n_images = 0 is not allowed" in checked.stderr
    (workdir / "my.yaml").write_text("image:\n  n_images: 3\n")
    assert run_module(workdir, "aibeats", "check-config", "my.yaml", timeout=60).stdout == "ok: config.yaml, my.yaml\n"

    (workdir / "config.yaml").write_text((workdir / "config.yaml").read_text() + "  bad: [\n")
    result = snakemake(workdir, "--dry-run", timeout=60)
    assert result.returncode == 1
    assert "ai-beats: the config file config.yaml is not valid YAML at line" in result.stderr


def test_the_open_licence_preset_is_a_valid_config_of_openly_licensed_models():
    from aibeats.plan import Project

    config = validate_config(merged_config([REPO / "config.yaml", REPO / "presets" / "open-licence.yaml"]), SCHEMA)
    assert (config["music"]["backend"], config["video"]["backend"]) == ("ace_step", "wan")
    assert [config[stage]["model_id"] for stage in ("music", "image", "video")] == [
        "ACE-Step/acestep-v15-xl-turbo-diffusers", "black-forest-labs/FLUX.1-schnell",
        "Wan-AI/Wan2.2-TI2V-5B-Diffusers"]
    recipe = Project(config).planned_recipe("music", 1)
    assert (recipe.backend, recipe.initial_duration) == ("ace_step", 30)
