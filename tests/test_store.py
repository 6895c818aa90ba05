"""The store of variants: what it serves, what it drops, what it evicts, and undoing an edit on the demo."""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from aibeats.config import validate_config
from aibeats.plan import Project
from aibeats.provenance import make_recipe, read_recipe, save_png
from aibeats.store import Store, store_key

from workflow import demo_config, file_hashes, run_ok

REPO = Path(__file__).resolve().parent.parent
SCHEMA = REPO / "schemas" / "config.schema.yaml"
RECIPE = {"prompt": "a lake", "seed": 7, "attempt": 0}


def made(path: Path, recipe: dict = RECIPE, colour: str = "teal") -> Path:
    save_png(Image.new("RGB", (32, 16), colour), path, make_recipe("image", **recipe))
    return path


def test_a_kept_file_is_restored_byte_for_byte_and_looks_new(tmp_path):
    store = Store(tmp_path / ".store", limit_bytes=10**9)
    original = made(tmp_path / "img_1.png")
    store.keep("k1", original)
    old = time.time() - 3600
    os.utime(original, (old, old))
    restored = tmp_path / "again" / "img_1.png"
    restored.parent.mkdir()
    assert store.restore("k1", restored, RECIPE)
    assert restored.read_bytes() == original.read_bytes()
    assert restored.stat().st_mtime > time.time() - 60  # newer than its inputs, for Snakemake
    assert not store.restore("k2", tmp_path / "other.png", RECIPE)


def test_claiming_an_image_imports_neither_numpy_nor_scipy(tmp_path):
    # A job that claims an image its worker made ahead is a thin client: numpy and scipy alone cost it 0.3 s, more
    # than the rest of its work.
    Store(tmp_path / ".store", limit_bytes=10**9).keep("k1", made(tmp_path / "img_1.png"))
    claim = (f"import sys; from aibeats.store import Store; "
             f"print(Store('.store', 10**9).restore('k1', 'out.png', {RECIPE!r}), "
             "[m for m in ('numpy', 'scipy', 'torch') if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", claim], cwd=tmp_path, capture_output=True, text=True, check=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    assert result.stdout.splitlines()[-1] == "True []"
    assert (tmp_path / "out.png").read_bytes() == (tmp_path / "img_1.png").read_bytes()


def test_an_entry_whose_recipe_differs_or_is_unreadable_is_dropped_not_served(tmp_path):
    store = Store(tmp_path / ".store", limit_bytes=10**9)
    store.keep("wrong", made(tmp_path / "a.png"))
    assert not store.restore("wrong", tmp_path / "out.png", {**RECIPE, "seed": 8})
    store.keep("corrupt", made(tmp_path / "b.png"))
    entry = tmp_path / ".store" / "corrupt.png"
    data = entry.read_bytes()
    entry.unlink()  # its own inode, so that the original stays intact
    entry.write_bytes(data[:-20])
    assert not store.restore("corrupt", tmp_path / "out.png", RECIPE)
    assert not (tmp_path / "out.png").exists()
    assert sorted(path.name for path in (tmp_path / ".store").iterdir()) == []


def test_the_least_recently_used_entries_go_past_the_limit(tmp_path):
    first = made(tmp_path / "1.png", colour="red")
    size = first.stat().st_size
    store = Store(tmp_path / ".store", limit_bytes=2 * size + size // 2)
    store.keep("one", first)
    store.keep("two", made(tmp_path / "2.png", colour="green"))
    # using "one" makes "two" the least recently used
    assert store.restore("one", tmp_path / "1-again.png", RECIPE)
    store.keep("three", made(tmp_path / "3.png", colour="blue"))
    assert sorted(path.stem for path in (tmp_path / ".store").iterdir()) == ["one", "three"]


def test_an_entry_linked_to_an_existing_video_takes_no_space_of_the_limit(tmp_path):
    videos = [tmp_path / f"clip_{n}.mp4" for n in (1, 2, 3)]
    for video in videos:
        video.write_bytes(b"v" * 1000)
    store = Store(tmp_path / ".store", limit_bytes=1500)
    for number, video in enumerate(videos):
        store.keep(f"k{number}", video)
    # three hard links of existing files: none takes space, none goes
    assert sorted(path.name for path in store.folder.iterdir()) == ["k0.mp4", "k1.mp4", "k2.mp4"]
    videos[0].unlink()
    videos[1].unlink()
    store.evict()
    # two now take space of their own; one fits
    assert sorted(path.name for path in store.folder.iterdir()) == ["k1.mp4", "k2.mp4"]


def test_a_sound_edited_in_place_leaves_its_kept_variant_as_it_was(tmp_path):
    from aibeats.audio import write_wav

    track = tmp_path / "track_1_ext.wav"
    recipe = {"prompt": "rain", "seed": 3, "attempt": 0}
    write_wav(track, np.zeros(3200, dtype=np.float32) + 0.25, 32000, make_recipe("music_continuation", **recipe))
    original = track.read_bytes()
    store = Store(tmp_path / ".store", limit_bytes=10**9)
    store.keep("k", track)
    # an audio editor trims and saves the file in place (the same inode), its recipe chunk left as it was
    with open(track, "r+b") as file:
        file.seek(60)
        file.write(b"\x00" * 2000)
    assert track.read_bytes() != original
    assert store.restore("k", tmp_path / "again.wav", recipe)
    assert (tmp_path / "again.wav").read_bytes() == original


def test_keeping_a_file_placed_from_the_store_leaves_no_hidden_link_behind(tmp_path):
    clip = tmp_path / "clip_1.mp4"
    clip.write_bytes(b"v" * 100)
    store = Store(tmp_path / ".store", limit_bytes=10**9)
    store.keep("k", clip)
    # a job keeps the file its worker placed from the store (what it made ahead): the entry is the output itself
    store.keep("k", clip)
    assert [path.name for path in store.folder.iterdir()] == ["k.mp4"]


def test_the_key_covers_the_recipe_the_inputs_content_and_the_versions(tmp_path):
    source = tmp_path / "img_1.png"
    source.write_bytes(b"one")
    key = store_key("video", RECIPE, {"image": str(source)}, {"torch": "2"})
    assert key == store_key("video", dict(RECIPE), {"image": str(source)}, {"torch": "2"})
    assert key != store_key("video", {**RECIPE, "attempt": 1}, {"image": str(source)}, {"torch": "2"})
    assert key != store_key("video", RECIPE, {"image": str(source)}, {"torch": "3"})
    source.write_bytes(b"two")
    assert key != store_key("video", RECIPE, {"image": str(source)}, {"torch": "2"})


def model_runs(workdir: Path) -> int:
    """Items the model workers have made, for a job or ahead of one (not those they only placed), by their logs."""
    logs = (workdir / "results" / "demo" / "logs" / "workers").glob("*.log")
    made = re.compile(r" s ok(, ahead into \S+)?$")
    return sum(bool(made.search(line)) for log in logs for line in log.read_text().splitlines())


def snapshot(workdir: Path, demo: Project) -> dict[str, tuple[bytes, int]]:
    """Bytes and mtime of every file the models and the clip jobs made."""
    root = workdir / demo.root
    return {str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
            for stage in ("music", "images", "animations", "clips") for path in sorted((root / stage).iterdir())}


@pytest.mark.slow
def test_a_reroll_pinned_back_and_an_edit_undone_restore_files_without_a_model(demo_copy):
    """The re-roll with a store smaller than the project's current files: the current videos are hard links and
    take no space of their own, so the earlier variants fit beside the copies of the current sounds and images."""
    demo = Project(validate_config(demo_config(), SCHEMA))
    original = file_hashes(demo_copy)
    sizes = {name: (demo_copy / demo.root / name).stat().st_size for name in original}
    videos = sum(size for name, size in sizes.items() if name.endswith(".mp4"))
    small = demo_copy / "small-store.yaml"
    small.write_text(yaml.safe_dump({"workers": {"store_gb": (sum(sizes.values()) - videos / 10) / 1e9}}))
    configs = ("--configfile", "profiles/demo/demo-config.yaml", small.name)

    # A deletion re-rolls the image, and remakes exactly what it feeds; nothing else is even rewritten.
    before = snapshot(demo_copy, demo)
    (demo_copy / demo.image(3)).unlink()
    run_ok(demo_copy, *configs)
    after = snapshot(demo_copy, demo)
    rebuilt = {"images/img_3.png", "animations/anim_3.mp4"} | {
        f"clips/clip_{i}.mp4" for i in demo.track_indices
        if "anim_3.mp4" in {name for name, _ in demo.clip_recipe(i, 0).animations}}
    assert all(after[name][0] != before[name][0] for name in rebuilt)
    assert {name: after[name] for name in after if name not in rebuilt} == {
        name: before[name] for name in before if name not in rebuilt}
    recipe = read_recipe(demo_copy / demo.image(3))
    assert (recipe["attempt"], recipe["stage"]) == (1, "image")
    assert json.loads((demo_copy / demo.history_dir / "img_3.json").read_text()) == {
        "attempt": 1, "seed": recipe["seed"]}
    assert read_recipe(demo_copy / demo.image(1))["attempt"] == 0
    # Pinning attempt 0 brings the deleted variant back, and all it fed, from the store.
    runs = model_runs(demo_copy)
    pin = demo_copy / "pin.yaml"
    pin.write_text(json.dumps({"attempts": {"img_3": 0}}))
    run_ok(demo_copy, *configs, pin.name)
    assert file_hashes(demo_copy) == original
    assert model_runs(demo_copy) == runs
    assert "restored" in (demo_copy / demo.root / "logs" / "mix" / "mix.log").read_text()
    assert [path.name for path in (demo_copy / demo.root / ".store").iterdir() if path.name.startswith(".")] == []
    assert sum(entry.stat().st_size for entry in (demo_copy / demo.root / ".store").iterdir()
               if entry.stat().st_nlink == 1) <= sum(sizes.values()) - videos / 10

    # An edit undone (with the default store: least recently used goes first, and the first run's variants of
    # the edited images are now the oldest entries).
    edit = demo_copy / "edit.yaml"
    edit.write_text(yaml.safe_dump({"image": {"prompt_modifiers": ["digital art", "ink drawing"]}}))
    run_ok(demo_copy, "--configfile", "profiles/demo/demo-config.yaml", pin.name, edit.name)
    assert file_hashes(demo_copy) != original
    runs = model_runs(demo_copy)
    run_ok(demo_copy, "--configfile", "profiles/demo/demo-config.yaml", pin.name)
    assert file_hashes(demo_copy) == original
    assert model_runs(demo_copy) == runs
    log = (demo_copy / demo.root / "logs" / "images" / "img_2.log").read_text()
    assert "restored" in log and "from the store" in log
