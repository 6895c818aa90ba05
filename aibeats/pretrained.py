"""What the diffusers pipelines share around `from_pretrained`: precision and weight variant, placing on the
device (whole, or offloaded part by part), and the seeded generator."""

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


# Config `offload` of image and video: how a pipeline too big for its GPU is kept in CPU memory between uses.
OFFLOADS = ("none", "model", "sequential")


def place_pipeline(pipe, device: str, offload: str = "none"):
    """The pipeline on its device: whole (none), each model moved there only while it runs (model), or each
    layer (sequential). Offloading moves weights, not the computation, so the files are the same.

    On the CPU there is nowhere to offload from, the weights are in its memory already: the pipeline is used
    whole (a config written for a GPU runs unchanged on a laptop; accelerate's layer hooks fail there besides).
    """
    if offload not in OFFLOADS:
        raise ValueError(f"offload {offload!r}: expected one of {', '.join(OFFLOADS)}")
    if offload == "none" or device == "cpu":
        return pipe.to(device)
    if offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    else:
        pipe.enable_sequential_cpu_offload(device=device)
    return pipe


def execution_device(pipe) -> str:
    """The device a pipeline computes on, where its noise is drawn: an offloaded pipeline's own `device` is the
    CPU its weights wait on."""
    return str(pipe._execution_device)


def generator_for(device: str, seed: int):
    """A seeded torch.Generator where the pipeline draws its noise (on the CPU for mps, which has none)."""
    import torch

    return torch.Generator("cpu" if device.startswith("mps") else device).manual_seed(seed)
