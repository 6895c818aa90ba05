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


# Each tiny model's builder, "module:function", and what it is told; imported on demand: each builder pulls in
# torch and transformers or diffusers.
BUILDERS = {
    "musicgen": ("aibeats.tiny.musicgen:build_tiny_musicgen", {}),
    "musicgen-stereo": ("aibeats.tiny.musicgen:build_tiny_musicgen", {"channels": 2}),
    "ace-step": ("aibeats.tiny.ace_step:build_tiny_ace_step", {}),
    "sdxl": ("aibeats.tiny.sdxl:build_tiny_sdxl", {}),
    "flux": ("aibeats.tiny.flux:build_tiny_flux", {}),
    "sd3": ("aibeats.tiny.sd3:build_tiny_sd3", {}),
    "svd": ("aibeats.tiny.svd:build_tiny_svd", {}),
    "wan": ("aibeats.tiny.wan:build_tiny_wan_i2v", {}),
    "wan-flf2v": ("aibeats.tiny.wan:build_tiny_wan_flf2v", {}),
    "wan-ti2v": ("aibeats.tiny.wan:build_tiny_wan_ti2v", {}),
    "ltx": ("aibeats.tiny.ltx:build_tiny_ltx", {}),
}


def build_tiny_model(family: str, out_dir: Path) -> None:
    """Build the tiny model of one family (a key of BUILDERS) into out_dir."""
    import importlib

    if family not in BUILDERS:
        *most, last = BUILDERS
        raise ValueError(f"unknown tiny model family {family!r}: expected {', '.join(most)} or {last}")
    builder, options = BUILDERS[family]
    module, function = builder.split(":")
    getattr(importlib.import_module(module), function)(Path(out_dir), **options)
