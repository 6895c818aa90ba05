"""Planning: image numbering, clip plans, recipes, seeds and the attempt history."""

from pathlib import Path

from aibeats.config import validate_config
from aibeats.history import read_record, record_attempt, record_started, recorded_attempt, settle_history, settle_record
from aibeats.items import image_prompt, images_of_modifier, modifier_of_image, modifier_of_track, plan_clip_animations
from aibeats.plan import Project
from aibeats.seeds import derive_seed

SCHEMA = Path(__file__).resolve().parent.parent / "schemas" / "config.schema.yaml"


def project(tmp_path, **sections) -> Project:
    return Project(validate_config({"project_dir": str(tmp_path), **sections}, SCHEMA))


def test_images_take_the_modifiers_in_turn():
    assert [modifier_of_image(j, 3) for j in range(1, 8)] == [0, 1, 2, 0, 1, 2, 0]
    assert images_of_modifier(1, n_images=3, n_modifiers=3) == [2, 5, 8]


def test_raising_n_images_only_appends_image_numbers():
    for n_modifiers in (1, 2, 5):
        before = {j: modifier_of_image(j, n_modifiers) for j in range(1, 4 * n_modifiers + 1)}
        after = {j: modifier_of_image(j, n_modifiers) for j in range(1, 5 * n_modifiers + 1)}
        assert {j: after[j] for j in before} == before
        for m in range(n_modifiers):
            old = images_of_modifier(m, 4, n_modifiers)
            assert images_of_modifier(m, 5, n_modifiers)[:4] == old


def test_tracks_cycle_through_the_modifiers():
    assert [modifier_of_track(i, 2) for i in range(1, 6)] == [0, 1, 0, 1, 0]


def test_image_prompt_joins_prompt_and_modifier():
    assert image_prompt("Mystical Landscape", "oil painting") == "Mystical Landscape, oil painting."


def test_clip_plan_covers_the_clip_exactly_and_cuts_only_the_last():
    plan = plan_clip_animations(seed=7, animations=[1, 3, 5], frames_per_animation=12, clip_frames=30)
    assert [frames for _, frames in plan] == [12, 12, 6]
    assert sorted(j for j, _ in plan) != [1, 1, 3]
    assert len({j for j, _ in plan}) == 3


def test_clip_plan_cycles_when_animations_run_out():
    plan = plan_clip_animations(seed=7, animations=[2, 4], frames_per_animation=10, clip_frames=45)
    order = [j for j, _ in plan]
    assert order == order[:2] * 2 + order[:1]
    assert sum(frames for _, frames in plan) == 45


def test_clip_plan_is_a_seeded_shuffle():
    animations = list(range(1, 30))
    plans = {tuple(j for j, _ in plan_clip_animations(s, animations, 1, 29)) for s in range(5)}
    assert len(plans) == 5
    assert plan_clip_animations(3, animations, 1, 29) == plan_clip_animations(3, animations, 1, 29)


def test_adding_an_animation_keeps_the_order_of_the_others():
    before = [j for j, _ in plan_clip_animations(11, [1, 3, 5, 7], 1, 4)]
    after = [j for j, _ in plan_clip_animations(11, [1, 3, 5, 7, 9], 1, 5)]
    assert [j for j in after if j != 9] == before


def test_derived_seeds_differ_by_stage_index_and_attempt_and_fit_32_bits():
    seeds = {derive_seed(42, stage, index, attempt)
             for stage in ("image", "video") for index in range(1, 20) for attempt in range(3)}
    assert len(seeds) == 2 * 19 * 3
    assert all(0 <= s < 2**32 for s in seeds)
    assert derive_seed(42, "image", 3, 0) == derive_seed(42, "image", 3, 0)


MADE_0 = {"attempt": 0, "seed": 123}


def no_recipe_in_file():
    raise AssertionError("the file's recipe is read only where the history cannot tell")


def test_settling_keeps_existing_files_and_rerolls_only_what_the_user_deleted():
    # a new item, and an existing file: nothing to change
    assert settle_record({}, output_exists=False, made_by_file=no_recipe_in_file) == {}
    assert settle_record(MADE_0, output_exists=True, made_by_file=no_recipe_in_file) == MADE_0
    # made, then missing with nothing planned: the user deleted it
    assert settle_record(MADE_0, output_exists=False, made_by_file=no_recipe_in_file) == {**MADE_0, "planned": 1}
    # a regeneration was planned (re-roll or recipe change) and did not finish: the plan stays, however often
    pending = {**MADE_0, "planned": 0}
    assert settle_record(pending, output_exists=False, made_by_file=no_recipe_in_file) == pending
    rerolled = {**MADE_0, "planned": 1}
    assert settle_record(rerolled, output_exists=False, made_by_file=no_recipe_in_file) == rerolled


def test_settling_asks_the_file_which_attempt_made_it_where_the_history_cannot_tell():
    in_file = {"attempt": 2, "seed": 777}
    # the history was lost, or a regeneration finished writing its file but not its record
    assert settle_record({}, output_exists=True, made_by_file=lambda: in_file) == in_file
    assert settle_record({**MADE_0, "planned": 2}, output_exists=True, made_by_file=lambda: in_file) == in_file
    # a file without a readable recipe keeps what the history says, and nothing pending
    assert settle_record({**MADE_0, "planned": 1}, output_exists=True, made_by_file=lambda: None) == MADE_0
    # and with the history lost too (chapters.txt holds no recipe), the record is made again
    assert settle_record({}, output_exists=True, made_by_file=lambda: None) == {"attempt": 0}
    assert settle_record({"planned": 2}, output_exists=True, made_by_file=lambda: None) == {"attempt": 2}


def test_settle_history_writes_the_plan_for_the_jobs_and_a_crash(tmp_path):
    history = tmp_path / "history"
    outputs = {"img_1": tmp_path / "img_1.png", "img_2": tmp_path / "img_2.png", "img_3": tmp_path / "img_3.png"}
    outputs["img_1"].write_bytes(b"present")
    record_attempt(history, "img_1", 0, seed=1)
    record_attempt(history, "img_2", 0, seed=2)  # img_2 deleted; img_3 never made
    assert settle_history(history, outputs, no_recipe_in_file, pinned={}) == {"img_1": 0, "img_2": 1, "img_3": 0}
    assert read_record(history, "img_2") == {"attempt": 0, "seed": 2, "planned": 1}
    assert sorted(p.name for p in history.iterdir()) == ["img_1.json", "img_2.json"]
    # settling again (a second run after a crash) plans the same attempts
    assert settle_history(history, outputs, no_recipe_in_file, pinned={}) == {"img_1": 0, "img_2": 1, "img_3": 0}
    # the job marks its start, then records what it made: no regeneration pending any more
    record_started(history, "img_2", 1)
    record_attempt(history, "img_2", 1, seed=22)
    assert read_record(history, "img_2") == {"attempt": 1, "seed": 22}
    assert recorded_attempt(history, "img_2") == 1


def test_a_regeneration_that_fails_keeps_its_attempt(tmp_path):
    history = tmp_path / "history"
    output = tmp_path / "img_1.png"
    record_attempt(history, "img_1", 3, seed=1)
    # a config edit regenerates the existing file: its job starts, Snakemake deleted the file, the job fails
    record_started(history, "img_1", 3)
    assert settle_history(history, {"img_1": output}, no_recipe_in_file, pinned={}) == {"img_1": 3}


def test_a_pin_is_settled_as_the_plan_so_status_and_cluster_jobs_see_it(tmp_path):
    history = tmp_path / "history"
    output = tmp_path / "img_1.png"
    output.write_bytes(b"made at attempt 3")
    record_attempt(history, "img_1", 3, seed=1)
    assert settle_history(history, {"img_1": output}, no_recipe_in_file, pinned={"img_1": 0}) == {"img_1": 0}
    assert read_record(history, "img_1") == {"attempt": 3, "seed": 1, "planned": 0}


def test_pins_win_over_the_history(tmp_path):
    p = project(tmp_path, attempts={"img_3": 0})
    p = Project(p.config, attempts={"img_3": 5, "img_1": 2})
    assert (p.attempt("image", 3), p.attempt("image", 1), p.attempt("image", 2)) == (0, 2, 0)
    assert p.planned_recipe("image", 1) == p.recipe("image", 1, attempt=2)


def test_recipes_hold_what_shapes_each_output(tmp_path):
    p = project(tmp_path, image={"prompt_modifiers": ["a", "b"], "n_images": 2})
    image = p.recipe("image", 3, attempt=0)
    assert image.prompt == "Mystical Landscape, a."
    assert image.seed == derive_seed(42, "image", 3, 0)
    assert p.recipe("image", 3, attempt=1).seed != image.seed
    assert "device" not in p.recipe("video", 1, 0).as_params()
    assert p.recipe("video", 1, 0).motion_bucket_id == 127


def test_clip_recipe_uses_its_tracks_modifier_and_covers_the_music(tmp_path):
    p = project(tmp_path, image={"prompt_modifiers": ["a", "b"], "n_images": 3},
                video={"num_frames": 4, "n_continuations": 2, "loop_video": True, "video_fps": 6},
                music={"music_duration": 5, "initial_music_tokens": 103}, audio_clip={"n_music_loops": 2})
    recipe = p.recipe("audio_clip", 2, attempt=0)
    # 4 + 3 frames forward, 12 with the way back; 5 s x 2 loops x 6 fps = 60 frames.
    assert sum(frames for _, frames in recipe.animations) == 60
    assert recipe.animation_names == ["anim_2.mp4", "anim_4.mp4", "anim_6.mp4"]
    assert [frames for _, frames in recipe.animations] == [12] * 5
    assert p.clip_animations(2) == [tmp_path / "lofi" / "animations" / f"anim_{j}.mp4" for j in (2, 4, 6)]


def test_outputs_by_stage_lists_every_file(tmp_path):
    p = project(tmp_path, music={"n_music": 2}, image={"prompt_modifiers": ["a", "b", "c"], "n_images": 2})
    outputs = p.outputs_by_stage()
    assert [path.name for path in outputs["music_continuation"]] == ["track_1_ext.wav", "track_2_ext.wav"]
    assert [path.name for path in outputs["video"]] == [f"anim_{j}.mp4" for j in range(1, 7)]
    assert outputs["image"][0] == tmp_path / "lofi" / "images" / "img_1.png"


def test_a_deleted_clip_plans_the_next_attempt_that_shows_its_animations_differently(tmp_path):
    """A clip's seed only orders its track's animations: with two, attempt + 1 gives the same clip half the
    time, and a deletion promises a new variant."""
    demo = project(tmp_path, image={"n_images": 2, "prompt_modifiers": ["a", "b"]})
    showing = [demo.clip_recipe(1, attempt).showing for attempt in range(12)]
    assert len(set(showing)) == 2
    same_next = next(attempt for attempt in range(11) if showing[attempt + 1] == showing[attempt])
    later = demo.reroll_attempt("clip_1", same_next)
    assert later > same_next + 1 and showing[later] != showing[same_next]
    assert demo.reroll_attempt("img_1", same_next) == same_next + 1

    history = tmp_path / "history"
    record_attempt(history, "clip_1", same_next, 0)
    outputs = {"clip_1": tmp_path / "clips" / "clip_1.mp4"}
    assert settle_history(history, outputs, lambda _: None, {}, demo.reroll_attempt) == {"clip_1": later}


def test_a_clip_of_one_animation_says_its_reroll_cannot_differ(tmp_path, capsys):
    demo = project(tmp_path, image={"n_images": 1, "prompt_modifiers": ["a"]})
    assert demo.reroll_attempt("clip_1", 0) == 1
    assert "clip_1 shows its animations in the only order there is" in capsys.readouterr().err


def test_a_line_break_in_a_modifier_stays_out_of_the_chapter_list(tmp_path):
    """One chapter per line: a title on two lines would leave a line without a time in chapters.txt."""
    demo = project(tmp_path, image={"prompt_modifiers": ["rain on\nthe window\n", "neon  city"]},
                   mix={"chapter_titles": "{track}. {modifier}"})
    titles = [title for _, title in demo.recipe("chapters", 1, 0).chapters]
    assert titles[:2] == ["1. rain on the window", "2. neon  city"]
