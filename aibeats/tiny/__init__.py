"""Tiny, randomly initialised models with the real architectures, for the offline demo and the tests."""

from collections.abc import Callable
from pathlib import Path

# The seed of every tiny model's initial weights.
INIT_SEED = 0


def seeded(make: Callable, seed: int = INIT_SEED):
    """make(), with the global generator seeded: the constructors' initialisers take no generator and draw from it.
    Inside a fork, so that the caller's random state is left as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def build_tiny_model(family: str, out_dir: Path) -> None:
    """Build the tiny model of one family (musicgen, sdxl, flux, sd3, svd, wan, wan-ti2v or ltx) into out_dir."""
    # Imported on demand: each builder pulls in torch and transformers or diffusers.
    if family == "musicgen":
        from aibeats.tiny.musicgen import build_tiny_musicgen as build
    elif family == "sdxl":
        from aibeats.tiny.sdxl import build_tiny_sdxl as build
    elif family == "flux":
        from aibeats.tiny.flux import build_tiny_flux as build
    elif family == "sd3":
        from aibeats.tiny.sd3 import build_tiny_sd3 as build
    elif family == "svd":
        from aibeats.tiny.svd import build_tiny_svd as build
    elif family == "wan":
        from aibeats.tiny.wan import build_tiny_wan_i2v as build
    elif family == "wan-ti2v":
        from aibeats.tiny.wan import build_tiny_wan_ti2v as build
    elif family == "ltx":
        from aibeats.tiny.ltx import build_tiny_ltx as build
    else:
        raise ValueError(f"unknown tiny model family {family!r}: expected musicgen, sdxl, flux, sd3, svd, wan, "
                         "wan-ti2v or ltx")
    build(Path(out_dir))
