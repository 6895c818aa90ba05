"""Full-size models with random weights: the published architectures of musicgen-small, sdxl-turbo and
stable-video-diffusion-img2vid, saved like their hub repositories, to measure time and memory without downloads."""

import dataclasses
import hashlib
import json
from pathlib import Path

from aibeats.atomic import atomic_path
from aibeats.realsize.configs import (
    MUSICGEN_AUDIO_ENCODER,
    MUSICGEN_DECODER,
    MUSICGEN_TEXT_ENCODER,
    PIPELINE_LAYOUTS,
    SVD_FEATURE_EXTRACTOR,
)
from aibeats.realsize.models import (
    FAMILIES,
    ParameterCountMismatch,
    check_family,
    check_parameter_counts,
    count_parameters,
    published_parameters,
)

__all__ = ["FAMILIES", "MARKER_NAME", "ParameterCountMismatch", "build_realsize_model", "check_parameter_counts",
           "count_parameters", "is_built", "published_parameters"]

# Written last into a built folder: a folder without it (or with another recipe in it) is rebuilt.
MARKER_NAME = "realsize-complete.json"
# Raised when the saved layout changes, so that folders built the old way are rebuilt.
LAYOUT_VERSION = 1


def _recipe(family: str) -> dict:
    """Everything that decides a family's saved files: the published configs, the seed, the layout."""
    from aibeats.realsize.build import INIT_SEED

    if family == "musicgen":
        configs = {"text_encoder": MUSICGEN_TEXT_ENCODER, "audio_encoder": MUSICGEN_AUDIO_ENCODER,
                   "decoder": MUSICGEN_DECODER}
    else:
        configs = dataclasses.asdict(PIPELINE_LAYOUTS[family])
        if family == "svd":
            configs["feature_extractor"] = SVD_FEATURE_EXTRACTOR
    return {"family": family, "configs": configs, "init_seed": INIT_SEED, "layout_version": LAYOUT_VERSION}


def _fingerprint(family: str) -> str:
    return hashlib.sha256(json.dumps(_recipe(family), sort_keys=True).encode()).hexdigest()


def is_built(family: str, out_dir: Path) -> bool:
    """Whether out_dir holds a finished build of this family's current recipe."""
    try:
        marker = json.loads((Path(out_dir) / MARKER_NAME).read_text())
    except (OSError, ValueError):
        return False
    return marker.get("family") == family and marker.get("fingerprint") == _fingerprint(family)


def build_realsize_model(family: str, out_dir: Path) -> bool:
    """Build the full-size model of a family (musicgen, sdxl or svd) into out_dir, unless it is built already.

    Returns whether it built. The parameter counts are checked first, on the meta device, so that a wrong config
    fails in seconds rather than after minutes of building. The folder is written under a temporary name and moved
    into place when complete, with the marker file written last: out_dir belongs to this function, and whatever
    is there without a matching marker is replaced.
    """
    check_family(family)
    out_dir = Path(out_dir)
    if is_built(family, out_dir):
        return False
    from aibeats.realsize.build import BUILDERS

    counts = check_parameter_counts(family)
    with atomic_path(out_dir) as folder:
        BUILDERS[family](folder)
        marker = {"family": family, "fingerprint": _fingerprint(family), "parameters": counts}
        with atomic_path(folder / MARKER_NAME) as marker_path:
            marker_path.write_text(json.dumps(marker, indent=2) + "\n")
        _share_like(folder / MARKER_NAME, folder)
    return True


def _share_like(reference: Path, folder: Path) -> None:
    """Give every file under folder the permissions of reference, a file written with the usual umask.

    safetensors creates its weight files readable by their owner only (0600), which would keep a model cache
    that several users of a group share (a cluster's) from the rest of the group.
    """
    mode = reference.stat().st_mode & 0o777
    for path in folder.rglob("*"):
        if path.is_file():
            path.chmod(mode)
