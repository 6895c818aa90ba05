from pathlib import Path

import pytest

from aibeats.atomic import atomic_path


def test_success_moves_the_file_into_place_and_leaves_no_temporary(tmp_path: Path):
    final = tmp_path / "img_3.png"
    with atomic_path(final) as temporary:
        assert temporary.parent == tmp_path
        assert temporary.name.startswith(".img_3.png.tmp-")
        assert temporary.suffix == ".png"  # ffmpeg and PIL pick the format from the suffix
        assert not final.exists()
        temporary.write_bytes(b"done")
    assert final.read_bytes() == b"done"
    assert list(tmp_path.iterdir()) == [final]


def test_error_leaves_nothing_behind(tmp_path: Path):
    final = tmp_path / "clip_0.mp4"
    with pytest.raises(RuntimeError, match="killed"), atomic_path(final) as temporary:
        temporary.write_bytes(b"half a file")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_error_keeps_the_previous_file(tmp_path: Path):
    final = tmp_path / "track_0.wav"
    final.write_bytes(b"old")
    with pytest.raises(KeyboardInterrupt), atomic_path(final) as temporary:
        temporary.write_bytes(b"new, unfinished")
        raise KeyboardInterrupt
    assert final.read_bytes() == b"old"
    assert list(tmp_path.iterdir()) == [final]


def test_creates_missing_folders(tmp_path: Path):
    final = tmp_path / "lofi" / "images" / "img_0.png"
    with atomic_path(final) as temporary:
        temporary.write_bytes(b"x")
    assert final.read_bytes() == b"x"


def test_a_folder_replaces_the_old_one_only_when_complete(tmp_path: Path):
    final = tmp_path / "models" / "musicgen"
    with atomic_path(final) as temporary:
        (temporary / "config.json").parent.mkdir(parents=True)
        (temporary / "config.json").write_text("first")
    with pytest.raises(RuntimeError), atomic_path(final) as temporary:
        temporary.mkdir()
        (temporary / "config.json").write_text("half")
        raise RuntimeError("killed while saving")
    assert [path.name for path in final.parent.iterdir()] == ["musicgen"]
    with atomic_path(final) as temporary:
        temporary.mkdir()
        (temporary / "weights.bin").write_text("second")
    assert sorted(path.name for path in final.iterdir()) == ["weights.bin"]
