"""The versions of what makes a file: Python, the model libraries, numpy, the bundled ffmpeg and ai-beats.

Its own module, importing nothing heavy: every job computes them (its store key), and a thin client job must
not pay for importing numpy, scipy or PIL.
"""

import contextlib
import functools
import importlib.metadata
import platform

import imageio_ffmpeg

_PACKAGES = ("torch", "transformers", "diffusers", "numpy", "aibeats")


def library_versions() -> dict:
    """Versions of Python, the model libraries, numpy, the bundled ffmpeg and ai-beats; missing ones omitted.

    Read from package metadata rather than by importing, so the clip stage records versions without torch.
    """
    return dict(_installed_versions())


@functools.cache  # asking ffmpeg for its version starts a process: once per job is enough
def _installed_versions() -> dict:
    versions = {"python": platform.python_version()}
    for package in _PACKAGES:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[package] = importlib.metadata.version(package)
    versions["ffmpeg"] = imageio_ffmpeg.get_ffmpeg_version()
    return versions
