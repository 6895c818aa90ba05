"""How each generated file was made: the recipe stored inside the file, and reading it back.

Like ComfyUI's PNGs, every PNG, WAV and MP4 that ai-beats writes carries its recipe (stage, prompt, seed,
attempt, model, settings, library versions), so a file found on its own still says how to make it again.
Recipes hold no timestamps or host names: the same config gives byte-identical files.
"""

import json
from pathlib import Path

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from aibeats.atomic import atomic_path
from aibeats.errors import MediaError, NoRecipeError
from aibeats.versions import library_versions

PNG_RECIPE_KEY = "ai-beats"
def make_recipe(stage: str, **settings) -> dict:
    """The recipe a stage stores in its output: the tool, the stage, its settings and the library versions."""
    return {"tool": "ai-beats", "stage": stage, **settings, "versions": library_versions()}


def save_png(image: Image.Image, path: Path, recipe: dict) -> None:
    """Save a PNG atomically with the recipe as JSON in a text chunk keyed "ai-beats"."""
    chunks = PngImagePlugin.PngInfo()
    chunks.add_text(PNG_RECIPE_KEY, json.dumps(recipe))  # ASCII JSON, so PIL writes a plain tEXt chunk
    with atomic_path(path) as temporary:
        image.save(temporary, format="PNG", pnginfo=chunks)


def _read_png_recipe(path: Path) -> dict | None:
    try:
        with Image.open(path, formats=["PNG"]) as image:
            image.verify()  # reads every chunk through the end marker, checking each checksum
        with Image.open(path, formats=["PNG"]) as image:  # a verified image cannot be used further
            text = image.text.get(PNG_RECIPE_KEY)
    except (OSError, UnidentifiedImageError, SyntaxError, ValueError) as error:
        raise MediaError(f"{path}: corrupt PNG file ({error})") from error
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError as error:
        raise MediaError(f"{path}: its {PNG_RECIPE_KEY!r} text is not a JSON recipe ({error})") from error


def foreign_files(paths) -> list[Path]:
    """The readable PNG, WAV and MP4 files among paths that ai-beats did not make (no recipe inside)."""
    foreign = []
    for path in map(Path, paths):
        if path.suffix in (".png", ".wav", ".mp4") and path.is_file():
            try:
                read_recipe(path)
            except NoRecipeError:
                foreign.append(path)
            except MediaError:
                pass  # unreadable: the stage that reads it names it
    return foreign


def read_recipe(path: Path) -> dict:
    """The recipe stored in a PNG, WAV or MP4 file written by ai-beats, whatever the file's name says."""
    path = Path(path)
    try:
        with path.open("rb") as file:
            head = file.read(12)
    except OSError as error:
        raise MediaError(f"{path}: cannot read it ({error.strerror})") from error
    # The audio and video modules only where needed: they import numpy and scipy, which would cost a job that
    # claims an image from the store (aibeats.store) more than all else it does.
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        recipe = _read_png_recipe(path)
    elif head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        from aibeats.audio import read_wav_recipe

        recipe = read_wav_recipe(path)
    elif head[4:8] == b"ftyp":
        from aibeats.video_io import read_mp4_recipe

        recipe = read_mp4_recipe(path)
    else:
        raise MediaError(f"{path}: not a PNG, WAV or MP4 file, so it holds no ai-beats recipe")
    if recipe is None:
        raise NoRecipeError(f"{path}: holds no ai-beats recipe (was it made by another tool?)")
    return recipe


def _format_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def format_recipe(path: Path, recipe: dict) -> str:
    """A readable account of how a file was made, for `aibeats inspect`."""
    shown_apart = {"tool", "stage", "prompt", "seed", "attempt", "model_id", "versions"}
    lines = [f"{path}", f"  stage:    {recipe.get('stage', '?')}"]
    if "prompt" in recipe:
        lines.append(f"  prompt:   {recipe['prompt']}")
    if "seed" in recipe:
        lines.append(f"  seed:     {recipe['seed']} (attempt {recipe.get('attempt', '?')})")
    if "model_id" in recipe:
        lines.append(f"  model:    {recipe['model_id']}")
    settings = {key: value for key, value in recipe.items() if key not in shown_apart}
    if settings:
        lines.append("  settings:")
        lines += [f"    {key}: {_format_value(value)}" for key, value in settings.items()]
    versions = recipe.get("versions", {})
    if versions:
        lines.append("  versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()))
    return "\n".join(lines)
