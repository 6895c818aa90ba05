"""Options for `from_pretrained` shared by the diffusers pipelines: precision and weight variant."""

from pathlib import Path


def _has_fp16_files(model_id: str) -> bool:
    folder = Path(model_id)
    if not folder.is_dir():
        # A hub id: the models this workflow names (sdxl-turbo, stable-video-diffusion) publish fp16 weights.
        return True
    return any(".fp16." in path.name for path in folder.rglob("*"))


def pretrained_options(model_id: str, device: str, precision: str = "auto") -> dict:
    """dtype for the device and precision, and the fp16 weight files where they exist and fp16 is the dtype
    (half the download and memory); bf16 is cast from the full-precision files, which keep fp32's range.

    Asking a folder without fp16 files for that variant raises, so it is only asked where the files are.
    """
    # Imported here: the pure functions of the stages must not import torch.
    import torch

    from aibeats.devices import dtype_for

    dtype = dtype_for(device, precision)
    options = {"dtype": dtype}
    if dtype == torch.float16 and _has_fp16_files(model_id):
        options["variant"] = "fp16"
    return options


def generator_for(device: str, seed: int):
    """A seeded torch.Generator where the pipeline draws its noise (on the CPU for mps, which has none)."""
    import torch

    return torch.Generator("cpu" if device.startswith("mps") else device).manual_seed(seed)
