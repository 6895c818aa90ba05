"""Choosing the torch device and precision for a model."""

import torch


def resolve_device(requested: str) -> str:
    """Map the config's device (cpu, cuda, mps or auto) to the device torch should use."""
    if requested != "auto":
        return requested
    if torch.cuda.is_available():
        return "cuda"
    if torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def dtype_for(device: str) -> torch.dtype:
    """Half precision where the device computes it fast; CPUs are slower in fp16, so they keep fp32."""
    return torch.float32 if device == "cpu" else torch.float16
