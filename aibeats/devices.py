"""Choosing the torch device and precision for a model.

The device is resolved without importing torch: a job that hands its item to a warm worker must stay thin,
and the worker's name carries the resolved device, so `auto`, `cuda` and `cuda:0` resolve to one name and
share one worker on a one-GPU machine.
"""

import importlib.util
import os
import platform
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# torch/version.py names the CUDA (or ROCm, which torch also drives as "cuda") version the build was made for,
# or None in a CPU-only build.
_GPU_BUILD = re.compile(r"^(cuda|hip)\s*(:[^=]*)?=\s*['\"]", re.MULTILINE)
# Where the drivers show their GPUs: one folder per NVIDIA GPU, or the device files of the drivers.
NVIDIA_GPUS = Path("/proc/driver/nvidia/gpus")
NVIDIA_DEVICE = Path("/dev/nvidia0")
ROCM_DEVICE = Path("/dev/kfd")


def resolve_device(requested: str) -> str:
    """Map the config's device (auto, cpu, mps, cuda or cuda:N) to one name per device: cpu, mps or cuda:N.

    auto takes the first GPU when the installed torch can drive one and one is visible, then Apple's GPU on an
    Apple silicon Mac, then the CPU.
    """
    if requested == "auto":
        requested = _best_device()
    return "cuda:0" if requested == "cuda" else requested


def _best_device() -> str:
    if _gpu_visible(_torch_gpu_platform()):
        return "cuda:0"
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return "mps"
    return "cpu"


def _torch_gpu_platform() -> str | None:
    """cuda or hip when the installed torch was built for that GPU platform, None for a CPU-only build."""
    # find_spec locates the package without running its __init__, which would import all of torch.
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        text = (Path(spec.submodule_search_locations[0]) / "version.py").read_text()
    except OSError:
        return None
    match = _GPU_BUILD.search(text)
    return match[1] if match else None


def _gpu_visible(gpu_platform: str | None) -> bool:
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    # An empty list or an invalid first entry (the usual "-1") hides every GPU from CUDA.
    if gpu_platform is None or (visible is not None and (not visible.strip() or visible.strip().startswith("-"))):
        return False
    if gpu_platform == "hip":
        return ROCM_DEVICE.exists()
    return (NVIDIA_GPUS.is_dir() and any(NVIDIA_GPUS.iterdir())) or NVIDIA_DEVICE.exists()


def use_threads(threads: int | None) -> int:
    """Have torch compute on this many threads (the job's, as its rule declares them) rather than what the
    environment says (a worker inherits OMP_NUM_THREADS from the job that started it); None keeps torch's
    choice. Returns the number torch now uses."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()


# A model's precision (config `precision` of music, image and video): auto, or one named dtype.
PRECISIONS = ("auto", "fp16", "bf16", "fp32")


def dtype_for(device: str, precision: str = "auto") -> "torch.dtype":
    """The dtype of a model: the precision named, or with auto half precision where the device computes it
    fast; CPUs are slower in fp16, so they keep fp32. bf16 is there for models and cards where fp16 overflows
    (NaN or black frames): the same range as fp32, in half the memory."""
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return torch.float32 if device == "cpu" else torch.float16
    return {"fp16": torch.float16, "bf16": torch.bfloat16, "fp32": torch.float32}[precision]
