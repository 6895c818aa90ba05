"""Loading a model, or saying in one line why it cannot be loaded: which model, which config key, what to do.

A hub id that is not cached cannot load without the hub, and huggingface_hub finds that out slowly: it tries
each file six times with growing pauses (1 + 2 + 4 + 8 + 8 s), with a 60 s timeout per try once no cached
copy exists, and a model has several files. Offline that took 144 s for MusicGen's processor alone, ending
in "We couldn't connect to 'https://huggingface.co'". So one request for the model's first file, without
retries, comes before the load: it tells within the hub's etag timeout (HF_HUB_ETAG_TIMEOUT, 10 s) whether
the hub answers, whether the repository exists and whether it is gated. A GPU device, chosen without torch
(aibeats.devices), is checked against what torch can use, so that its own key gets the blame.

Importing this module is cheap (no huggingface_hub, no torch): thin clients raise ModelError too.
"""

import traceback
from http import HTTPStatus
from pathlib import Path

from aibeats.errors import AiBeatsError
from aibeats.image_families import FAMILIES as IMAGE_FAMILIES
from aibeats.items import SEAMLESS_LOOP, seamless_loop_mismatch
from aibeats.music_backends import MODEL_KINDS as MUSIC_MODEL_KINDS
from aibeats.music_backends import is_ace_step
from aibeats.pipeline import STAGES
from aibeats.video_backends import BACKENDS, PIPELINE_OF_MODEL_CLASS

CONFIG_KEYS = {stage.family: f"{stage.config_section}.model_id" for stage in STAGES.values() if stage.family}
# The file at the top of a model of each family, in a folder or a hub repository: MusicGen's config,
# the diffusers pipeline's index of its parts.
MODEL_FILES = {"music": "config.json", "image": "model_index.json", "video": "model_index.json"}
# What that file says a model of each family is: transformers' model_type, diffusers' pipeline _class_name.
MODEL_KINDS = {
    "music": ("model_type", {"musicgen"}),
    "image": ("_class_name", set(IMAGE_FAMILIES)),
    "video": ("_class_name", set(PIPELINE_OF_MODEL_CLASS)),
}
# ACE-Step's music models are diffusers pipelines (music.backend ace_step).
ACE_STEP_KIND = ("_class_name", {"AceStepPipeline"})


def _model_file(family: str, model_id: str) -> str:
    if family == "music" and is_ace_step(model_id):
        return "model_index.json"
    return MODEL_FILES[family]


def _model_kind(family: str, model_id: str) -> tuple[str, set[str]]:
    return ACE_STEP_KIND if family == "music" and is_ace_step(model_id) else MODEL_KINDS[family]


class ModelError(AiBeatsError):
    """A model cannot be loaded; the message names it, its config key and what to do."""


def load_model_or_explain(family: str, model_id: str, device: str, precision: str = "auto", offload: str = "none"):
    """The model of a family loaded on a resolved device in a precision and offloaded or not, or ModelError with
    the one-line cause.

    An error without a known cause also leaves its traceback on stderr (the job's or the worker's log).
    """
    try:
        check_hub(family, model_id)
        _check_device(family, device)
        # Imported after the checks: a model that cannot load fails before the model libraries load.
        from aibeats.stages import load_model

        return load_model(family, model_id, device, precision, offload)
    except AiBeatsError:
        raise
    except Exception as error:
        if _known_reason(family, model_id, error) is None:
            traceback.print_exc()
        raise ModelError(explain(family, model_id, error)) from error


def check_hub(family: str, model_id: str) -> None:
    """Raise huggingface_hub's own error at once when a hub id cannot be loaded (a local folder passes).

    A hub that does not answer (offline mode, HF_HUB_OFFLINE, included) is an error only when no copy is
    cached: with one, the load falls back to it.
    """
    if Path(model_id).exists():
        return
    from huggingface_hub import constants, get_hf_file_metadata, hf_hub_url, try_to_load_from_cache
    from huggingface_hub.utils import validate_repo_id

    validate_repo_id(model_id)
    model_file = _model_file(family, model_id)
    try:
        get_hf_file_metadata(hf_hub_url(model_id, model_file), timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except Exception as error:
        if _hub_did_not_answer(error) and _cached(try_to_load_from_cache(model_id, model_file)):
            print(f"the Hugging Face hub did not answer ({_first_line(error)}): loading the cached copy of "
                  f"{model_id}", flush=True)
            return
        raise


def check_models_before_jobs(config: dict, rules: set[str], tiny_models_dir: str) -> None:
    """Every model the planned jobs load, checked before any of them starts: Snakemake deletes a job's outputs
    before the job runs, so a model that cannot load would cost the project its existing files first.

    A hub id must be loadable (cached, or the hub answers that it exists), and a folder, or the cached copy of
    a hub model, must hold a model of the stage's kind. A tiny model not built yet is built by the workflow.
    """
    checked = set()
    for stage in STAGES.values():
        if stage.rule not in rules or not stage.uses_model(config):
            continue
        model_id = config[stage.config_section]["model_id"]
        if (stage.family, model_id) in checked or (model_id.startswith(tiny_models_dir) and not Path(
                model_id).exists()):
            continue
        checked.add((stage.family, model_id))
        try:
            check_hub(stage.family, model_id)
            kind = _check_kind(stage.family, model_id)
            if stage.family == "video" and kind is not None:
                _check_video_backend(config["video"], model_id, kind)
            if stage.family == "music" and kind is not None:
                _check_music_backend(config["music"]["backend"], model_id, kind)
        except AiBeatsError:
            raise
        except Exception as error:
            raise ModelError(explain(stage.family, model_id, error)) from error


def _check_video_backend(video: dict, model_id: str, kind: str) -> None:
    """The animation model is one of video.backend's (Stable Video Diffusion's for svd), and for a seamless loop a
    model that ends a video on a given frame (read where the model is a folder; a hub model is told when loaded)."""
    import json

    backend = video["backend"]
    kinds = BACKENDS[backend].model_classes if backend in BACKENDS else {"StableVideoDiffusionPipeline"}
    if kind not in kinds:
        raise ModelError(f"cannot load the video model {model_id!r} (config key video.model_id): it is a {kind}, not "
                         f"a model of video.backend {backend} ({' or '.join(sorted(kinds))}); set video.model_id "
                         "to one, or video.backend to the model's")
    transformer = Path(model_id, "transformer", "config.json")
    if backend == "wan" and transformer.is_file():
        takes_a_last_frame = json.loads(transformer.read_text()).get("pos_embed_seq_len") is not None
        if (video["loop_video"] == SEAMLESS_LOOP) != takes_a_last_frame:
            raise ModelError(seamless_loop_mismatch(model_id, video["loop_video"]))


def _check_music_backend(backend: str, model_id: str, kind: str) -> None:
    """The music model is one of music.backend's: MusicGen's for musicgen, ACE-Step's for ace_step."""
    if kind != MUSIC_MODEL_KINDS[backend]:
        other = next(name for name, known in MUSIC_MODEL_KINDS.items() if known == kind)
        raise ModelError(f"cannot load the music model {model_id!r} (config key music.model_id): it is a {kind}, not "
                         f"a model of music.backend {backend}; set music.model_id to one, or music.backend to {other}")


def _check_kind(family: str, model_id: str) -> str | None:
    """The model's top file names a kind of model the family's loader takes, returned; unknowable (None) for a hub
    model that is not cached yet (the hub said it exists: the load downloads it)."""
    import json

    model_file = _model_file(family, model_id)
    top = Path(model_id, model_file)
    if not Path(model_id).is_dir():
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, model_file)
        if not _cached(cached):
            return None
        top = Path(cached)
    if not top.is_file():
        raise ModelError(explain(family, model_id, FileNotFoundError(top)))
    field, kinds = _model_kind(family, model_id)
    try:
        kind = json.loads(top.read_text()).get(field)
    except (OSError, ValueError, AttributeError) as error:
        raise ModelError(f"cannot load the {family} model {model_id!r} (config key {CONFIG_KEYS[family]}): its "
                         f"{model_file} is not readable JSON ({_first_line(error)})") from None
    if kind not in kinds:
        raise ModelError(
            f"cannot load the {family} model {model_id!r} (config key {CONFIG_KEYS[family]}): it is a {kind}, not a "
            f"{family} model (its {model_file} must give {field} {' or '.join(sorted(kinds))}); set "
            f"{CONFIG_KEYS[family]} to one")
    return kind


def _check_device(family: str, device: str) -> None:
    """A GPU is chosen from what the system shows (aibeats.devices, without torch); torch has the last word."""
    if not device.startswith("cuda"):
        return
    import torch

    usable = torch.cuda.device_count()
    if int(device.partition(":")[2] or 0) >= usable:
        raise ModelError(f"cannot load the {family} model on {device} (config key {family}.device): torch can use "
                         f"{usable} CUDA GPU(s) here; set {family}.device to cpu, or to a GPU that torch can use")


def explain(family: str, model_id: str, error: BaseException) -> str:
    """One line: the model, its config key, why it cannot be loaded and what to do about it."""
    reason = _known_reason(family, model_id, error) or f"{type(error).__name__}: {_first_line(error)}"
    return f"cannot load the {family} model {model_id!r} (config key {CONFIG_KEYS[family]}): {reason}"


def _known_reason(family: str, model_id: str, error: BaseException) -> str | None:
    key, model_file = CONFIG_KEYS[family], _model_file(family, model_id)
    folder = Path(model_id)
    # Whatever the library made of it (transformers and diffusers each word it their own way), a folder
    # without the model's top file is not a model.
    if folder.is_dir() and not (folder / model_file).is_file():
        return (f"the folder {folder} is not a {family} model (it has no {model_file}); set {key} to a folder that "
                "holds one, or to a Hugging Face hub id")
    return _hub_reason(family, model_id, _causes(error))


def _hub_reason(family: str, model_id: str, causes: list[BaseException]) -> str | None:
    from huggingface_hub.errors import (
        GatedRepoError,
        HFValidationError,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
    )

    key, model_file = CONFIG_KEYS[family], _model_file(family, model_id)

    def caused_by(kind) -> bool:
        return any(isinstance(cause, kind) for cause in causes)

    if caused_by(GatedRepoError):
        return (f"the model is gated on the Hugging Face hub: accept its terms at https://huggingface.co/{model_id} "
                "and log in (hf auth login, or set HF_TOKEN)")
    if caused_by(RepositoryNotFoundError):
        return (f"there is no folder of that name and no such model on the Hugging Face hub (or it is private and "
                f"you are not logged in): check {key}, or log in (hf auth login, or set HF_TOKEN)")
    if no_answer := [cause for cause in causes if _hub_did_not_answer(cause)]:
        # The deepest cause says why: a DNS failure, a refused connection, a timeout, offline mode.
        return (f"the Hugging Face hub cannot be reached ({_first_line(no_answer[-1])}) and no copy is cached; "
                f"download it once with a network connection (hf download {model_id}), or set {key} to a folder "
                "that holds the model")
    if caused_by(RemoteEntryNotFoundError):
        return f"the hub repository has no {model_file}, so it is not a {family} model; set {key} to one that is"
    if caused_by(HFValidationError):
        return f"there is no such folder, and it is not a Hugging Face hub id (owner/name) either; check {key}"
    return None


def _causes(error: BaseException) -> list[BaseException]:
    """The error and those it was raised from or while handling: libraries wrap the hub's errors in OSError."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _hub_did_not_answer(error: BaseException) -> bool:
    """Offline, the network or the hub down: nothing the model id or a login can fix."""
    from huggingface_hub.errors import HTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled

    if isinstance(error, HTTPError):
        # huggingface_hub's HTTPError is its HTTP client's base error: with a response the hub answered, with
        # a server error it answered that it is down.
        response = getattr(error, "response", None)
        return response is None or response.status_code >= HTTPStatus.INTERNAL_SERVER_ERROR
    return isinstance(error, (OfflineModeIsEnabled, LocalEntryNotFoundError, ConnectionError, TimeoutError))


def _cached(path) -> bool:
    # try_to_load_from_cache gives a path when cached, None when not, and a marker object for a file known
    # to be missing from the repository.
    return isinstance(path, str)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
