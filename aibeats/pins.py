"""Kept items: attempts pinned from the review page, in `{project}/pins.yaml`.

A pin works like an entry of the config's `attempts` (which wins where both name an item): the item is made
with that attempt whatever happens to its file or to the history, so a deleted file comes back as the same
variant. The file is the review page's to write, so that the user's own config is never rewritten.
"""

import re
from pathlib import Path

import yaml

from aibeats.atomic import atomic_path
from aibeats.errors import ConfigError

PINS_FILE = "pins.yaml"


def pins_path(project_root: Path) -> Path:
    return Path(project_root) / PINS_FILE


def read_pins(project_root: Path, item_pattern: str) -> dict[str, int]:
    """The pinned attempt of each kept item; {} when nothing is kept. A file that is not a table of item names
    and attempts is named, with what it should hold."""
    path = pins_path(project_root)
    try:
        pins = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: not readable as YAML ({error}); delete it to keep nothing") from error
    if pins is None:
        return {}
    if not isinstance(pins, dict):
        raise ConfigError(f"{path}: holds {type(pins).__name__}, expected item: attempt lines such as 'img_3: 1'")
    for item, attempt in pins.items():
        if not isinstance(item, str) or not re.fullmatch(item_pattern, item):
            raise ConfigError(f"{path}: {item!r} is not an item of a project (such as img_3 or track_2_ext)")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 0:
            raise ConfigError(f"{path}: {item}: {attempt!r} is not an attempt (a whole number, 0 or more)")
    return pins


def write_pins(project_root: Path, pins: dict[str, int]) -> None:
    with atomic_path(pins_path(project_root)) as temporary:
        temporary.write_text("# Kept on the review page: each item is made with this attempt. Delete a line to\n"
                             "# let the item be re-rolled again.\n" + yaml.safe_dump(dict(sorted(pins.items()))))
