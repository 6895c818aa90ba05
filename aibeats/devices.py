"""Choosing the torch device and precision for a model.

The device is resolved without importing torch: a job that hands its item to a warm worker must stay thin,
and the worker's name carries the resolved device, so `auto`, `cuda` and `cuda:0` resolve to one name and
share one worker on a one-GPU machine.

A stage's `device` gives it one slot or several (device_slots): `auto` is every visible GPU, and a list names
them (`[cuda:0, cuda:2]`, or `[cpu, cpu]` for two CPU workers of one model). Its jobs spread over the slots, one
worker per (model, slot) (aibeats.workers.locks).
"""

import importlib.util
import os
import platform
import re
import sys
from collections import Counter
from dataclasses import dataclass
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
        requested = _best_devices()[0]
    return "cuda:0" if requested == "cuda" else requested


def _best_devices() -> list[str]:
    """What auto means: every visible GPU, else Apple's GPU, else the CPU."""
    if gpus := _visible_gpus(_torch_gpu_platform()):
        return [f"cuda:{index}" for index in range(gpus)]
    if sys.platform == "darwin" and platform.machine() == "arm64":
        return ["mps"]
    return ["cpu"]


@dataclass(frozen=True)
class Slot:
    """One place where a model's jobs run: a resolved device, and which listing of it (only cpu may be listed
    more than once: a GPU's memory holds one worker of a model)."""

    device: str
    replica: int = 0

    def __str__(self) -> str:
        return self.device + (f"#{self.replica}" if self.replica else "")


def device_slots(requested: str | list[str]) -> list[Slot]:
    """The slots of a stage's config `device`: one name or a list of them, where auto stands for every visible
    GPU (else mps, else cpu)."""
    names = [requested] if isinstance(requested, str) else requested
    devices = [device for name in names for device in (_best_devices() if name == "auto" else [resolve_device(name)])]
    listed: Counter = Counter()
    slots = []
    for device in devices:
        slots.append(Slot(device, listed[device]))
        listed[device] += 1
    return slots


def repeated_gpus(slots: list[Slot]) -> list[str]:
    """The GPUs (or mps) listed more than once among slots, which a config may not do."""
    return sorted({slot.device for slot in slots if slot.replica and slot.device != "cpu"})


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


def _visible_gpus(gpu_platform: str | None) -> int:
    """How many GPUs the installed torch would see: those the driver shows, or those CUDA_VISIBLE_DEVICES lists
    of them (as SLURM sets it in an allocation)."""
    if gpu_platform is None:
        return 0
    if gpu_platform == "hip":
        # ROCm shows no count without its tools: one GPU unless CUDA_VISIBLE_DEVICES lists more.
        present = 1 if ROCM_DEVICE.exists() else 0
    else:
        present = len(list(NVIDIA_GPUS.iterdir())) if NVIDIA_GPUS.is_dir() else 0
        present = present or (1 if NVIDIA_DEVICE.exists() else 0)
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is None or not present:
        return present
    # CUDA takes the entries up to the first invalid one: an empty list or the usual "-1" hides every GPU.
    listed = 0
    for entry in visible.split(","):
        if not entry.strip() or entry.strip().startswith("-"):
            break
        listed += 1
    return listed if gpu_platform == "hip" else min(listed, present)


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
