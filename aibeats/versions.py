"""The versions of what makes a file: Python, the model libraries, numpy, the bundled ffmpeg and ai-beats.

Its own module, importing nothing heavy: every job computes them (its store key), and a thin client job must
not pay for importing numpy, scipy or PIL.
"""

import contextlib
import functools
import importlib.metadata
import json
import os
import platform
import sys

import imageio_ffmpeg

_PACKAGES = ("torch", "transformers", "diffusers", "numpy", "aibeats")
# Where Snakemake's process hands its versions to the jobs it starts, which inherit its environment.
_ANNOUNCED_VARIABLE = "AIBEATS_LIBRARY_VERSIONS"


def announce_versions() -> None:
    """Hand this process's versions to its jobs: asking ffmpeg starts two processes, a fifth of what a job that
    only claims an item made ahead costs. A job in another environment (a stage's conda env) asks for its own."""
    try:
        versions = _installed_versions()
    except (OSError, RuntimeError):  # no usable ffmpeg: the jobs that need one say so, not the Snakefile's parsing
        return
    os.environ[_ANNOUNCED_VARIABLE] = json.dumps({"prefix": sys.prefix, "versions": versions})


def library_versions() -> dict:
    """Versions of Python, the model libraries, numpy, the bundled ffmpeg and ai-beats; missing ones omitted.

    Read from package metadata rather than by importing, so the clip stage records versions without torch.
    """
    announced = json.loads(os.environ.get(_ANNOUNCED_VARIABLE, "null"))
    if announced and announced["prefix"] == sys.prefix:
        return announced["versions"]
    return dict(_installed_versions())


@functools.cache  # asking ffmpeg for its version starts a process: once per job is enough
def _installed_versions() -> dict:
    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    versions["ffmpeg"] = imageio_ffmpeg.get_ffmpeg_version()
    return versions
