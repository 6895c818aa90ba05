"""Validating the workflow config against its JSON schema, with errors a user can act on."""

import copy
from pathlib import Path

import jsonschema
import yaml

from aibeats.continuation import initial_track_seconds
from aibeats.devices import device_slots, repeated_gpus
from aibeats.errors import ConfigError
from aibeats.image_families import family_of_model
from aibeats.items import SEAMLESS_LOOP
from aibeats.music_backends import initial_from_duration, initial_seconds
from aibeats.pipeline import STAGES, attempts_pattern
from aibeats.video_backends import BACKENDS, frame_count_error

# Models under this folder are built by the workflow itself (rules/tiny_models.smk), so they may not exist yet.
TINY_MODELS_DIR = "models/tiny/"


def read_config_file(path: str | Path) -> dict:
    """A YAML (or JSON) config file as a dict; ConfigError naming the file, the line and the problem.

    Snakemake's own message for a file it cannot parse names neither the file nor the line.
    """
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read the config file {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = " ".join(part for part in (getattr(error, "context", None), getattr(error, "problem", None))
                           if part) or str(error)
        raise ConfigError(f"the config file {path} is not valid YAML{where}: {problem}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"the config file {path} must hold keys (music:, image:, ...), not a "
                          f"{type(loaded).__name__}")
    return loaded


def merged_config(paths: list[str | Path]) -> dict:
    """The config that Snakemake makes of these files, later ones over earlier ones, key by key."""
    merged: dict = {}
    for path in paths:
        _merge(merged, read_config_file(path))
    return merged


def _merge(into: dict, update: dict) -> None:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def load_schema(schema_path: str | Path) -> dict:
    """The schema, with what only the stage declaration knows filled in: the item names `attempts` takes."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    schema["properties"]["attempts"]["propertyNames"]["pattern"] = attempts_pattern()
    return schema


def _validator_filling_defaults(schema: dict) -> jsonschema.protocols.Validator:
    """A validator that writes each missing property's default into the config as it validates."""
    base = jsonschema.Draft202012Validator

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from base.VALIDATORS["properties"](validator, properties, instance, schema)

    filling = jsonschema.validators.extend(base, {"properties": set_defaults})
    return filling(schema)


def _type_name(schema_type) -> str:
    names = {"integer": "a whole number", "number": "a number", "string": "a text", "boolean": "true or false",
             "array": "a list", "object": "a mapping of keys to values"}
    if isinstance(schema_type, list):
        return " or ".join(names.get(t, t) for t in schema_type)
    return names.get(schema_type, schema_type)


# What each kind of schema rule allows, in words; {rule} is the rule's value.
_ALLOWED = {
    "minimum": "it must be at least {rule}",
    "maximum": "it must be at most {rule}",
    "exclusiveMinimum": "it must be greater than {rule}",
    "multipleOf": "it must be a multiple of {rule}",
    "minLength": "it must not be empty",
}


def _yaml_word(value) -> str:
    if value is None:
        return "null"
    return str(value).lower() if isinstance(value, bool) else repr(value)


def _what_is_allowed(error: jsonschema.ValidationError) -> str:
    rule = error.validator_value
    if error.validator == "type":
        return f"it must be {_type_name(rule)}"
    if error.validator == "enum":
        # booleans and null as YAML spells them
        return "it must be one of " + ", ".join(_yaml_word(v) for v in rule)
    if error.validator == "minItems":
        return f"it must list at least {rule} entr{'y' if rule == 1 else 'ies'}"
    if error.validator in ("pattern", "not", "anyOf") and "description" in error.schema:
        return f"it must be {error.schema['description']}"
    return _ALLOWED.get(error.validator, "{message}").format(rule=rule, message=error.message)


def _key_of(error: jsonschema.ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path)


def _describe(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        where = _key_of(error)
        names = ", ".join(f"{where}.{name}" if where else name for name in unknown)
        return f"unknown config key {names}: allowed keys here are {', '.join(allowed)}"
    return f"config key {_key_of(error) or '(top level)'} = {error.instance!r} is not allowed: " + _what_is_allowed(
        error)


def _is_local_path(model_id: str) -> bool:
    """Whether a model_id names a folder rather than a hub repository (which is `name` or `owner/name`)."""
    return model_id.startswith(("/", "./", "../", "~")) or model_id.count("/") > 1 or Path(model_id).exists()


def _check_model_folders(config: dict) -> None:
    """A local model folder must exist before any job runs, so that no job deletes an output and then fails."""
    for section in ("music", "image", "video"):
        model_id = config[section]["model_id"]
        if _is_local_path(model_id) and not model_id.startswith(TINY_MODELS_DIR) and not Path(
                model_id).expanduser().is_dir():
            raise ConfigError(
                f"config key {section}.model_id = {model_id!r} is not allowed: there is no such folder (seen from "
                f"{Path.cwd()}); give a Hugging Face model id like owner/name, or the folder of a saved model")


def _check_devices(config: dict) -> None:
    """A GPU listed twice for one stage would load its model twice into one card's memory."""
    for section in ("music", "image", "video"):
        device = config[section]["device"]
        if repeated := repeated_gpus(device_slots(device)):
            raise ConfigError(
                f"config key {section}.device = {device!r} is not allowed: {' and '.join(repeated)} would be listed "
                "twice (auto stands for every GPU); list each GPU once (only cpu may repeat, one CPU worker each)")


def model_slots(config: dict) -> int:
    """How many device slots the model stages use between them: the `gpu` resource's default, as many model
    jobs at once as there are slots."""
    sections = {STAGES[stage].config_section for stage in STAGES if STAGES[stage].uses_model(config)}
    return max(1, len({slot for section in sections for slot in device_slots(config[section]["device"])}))


def _check_image_family(image: dict) -> None:
    """What the image model's family allows, where its family is known without loading it (aibeats.image_families);
    an unknown family is told by the pipeline as it loads."""
    family = family_of_model(image["model_id"], TINY_MODELS_DIR)
    if family is None:
        return
    for key in ("height", "width"):
        if image[key] % family.size_multiple:
            allowed = ", ".join(str(image[key] // family.size_multiple * family.size_multiple + step)
                                for step in (0, family.size_multiple) if image[key] // family.size_multiple + step)
            raise ConfigError(f"config key image.{key} = {image[key]!r} is not allowed with a {family.name} model: it "
                              f"must be a multiple of {family.size_multiple}, e.g. {allowed.replace(', ', ' or ')}")
    if image["negative_prompt"] is not None and not family.takes_negative_prompt:
        raise ConfigError(f"config key image.negative_prompt = {image['negative_prompt']!r} is not allowed with a "
                          f"{family.name} model: it takes no negative prompt; set it to null")
    if image["max_sequence_length"] is not None and not family.takes_max_sequence_length:
        raise ConfigError(f"config key image.max_sequence_length = {image['max_sequence_length']!r} is not allowed "
                          f"with a {family.name} model: only FLUX.1 and SD3 have a T5 prompt; set it to null")


def _check_video_backend(video: dict) -> None:
    """What a prompted animation backend allows (aibeats.video_backends); the model's own kind is checked before the
    jobs run (aibeats.model_errors). Sizes need no rule: video.max_side is a multiple of 64, which suits every
    backend, and the shorter side is fitted to the loaded pipeline's multiple."""
    prompted = BACKENDS.get(video["backend"])
    # kenburns too: its camera move goes there and back, so the quick preview of a seamless Wan config works
    if video["loop_video"] == SEAMLESS_LOOP and video["backend"] not in ("wan", "kenburns"):
        raise ConfigError(f"config key video.loop_video = {SEAMLESS_LOOP!r} is not allowed with backend "
                          f"{video['backend']}: only Wan's first-last-frame models end a video on a given frame; use "
                          "true (forward, then back)")
    # Like kenburns_zoom under svd, another backend's settings are left unread: a preview (kenburns) of a wan
    # config keeps its motion_prompt.
    if prompted is None:
        return
    reason = frame_count_error(prompted, video["num_frames"])
    if reason:
        raise ConfigError(f"config key video.num_frames = {video['num_frames']!r} is not allowed with backend "
                          f"{prompted.name}: {reason}")
    if video["video_fps"] not in prompted.native_fps:
        *most, last = [str(rate) for rate in prompted.native_fps]
        rates = f"{', '.join(most)} or {last}" if most else last
        raise ConfigError(f"config key video.video_fps = {video['video_fps']!r} is not allowed with backend "
                          f"{prompted.name}: its models make motion for {rates} fps (played at another rate it "
                          "runs fast or slow)")


def _check_relations(config: dict, defaults: dict) -> None:
    """Rules that tie two keys together, which JSON schema cannot express; a stage's own keys come before the
    keys of the stages made from it, so that the key a user set is the one named."""
    music = config["music"]
    if music["prompt_music_duration"] >= music["max_continuation_duration"]:
        raise ConfigError(
            f"config key music.prompt_music_duration = {music['prompt_music_duration']!r} is not allowed: "
            f"it must be below music.max_continuation_duration ({music['max_continuation_duration']!r}), "
            "since each continuation window holds the audio prompt plus the new music")
    initial = initial_seconds(music)
    if music["music_duration"] < initial:
        made_by = (f"music.initial_duration ({music['initial_duration']!r}) asks for" if initial_from_duration(music)
                   else f"music.initial_music_tokens ({music['initial_music_tokens']}) makes")
        raise ConfigError(
            f"config key music.music_duration = {music['music_duration']!r} is not allowed: it must be at least "
            f"{initial:g}, the length of the initial track that {made_by}; lower both to make shorter tracks")
    clip_seconds = music["music_duration"] * config["audio_clip"]["n_music_loops"]
    crossfade = config["mix"]["crossfade_duration"]
    if crossfade >= clip_seconds:
        if crossfade == defaults["mix"]["crossfade_duration"]:
            # the clips were made shorter: blame what the user changed
            raise ConfigError(
                f"config key music.music_duration = {music['music_duration']!r} is not allowed with "
                f"audio_clip.n_music_loops = {config['audio_clip']['n_music_loops']!r}: a clip ({clip_seconds:g} s) "
                f"must be longer than mix.crossfade_duration ({crossfade:g} s); lengthen the clips or lower "
                "mix.crossfade_duration")
        raise ConfigError(
            f"config key mix.crossfade_duration = {crossfade!r} is not allowed: it must be "
            f"below a clip's length ({clip_seconds:g} s: music.music_duration x audio_clip.n_music_loops)")
    n_images = config["image"]["n_images"] * len(config["image"]["prompt_modifiers"])
    if config["mix"]["thumbnail_image"] > n_images:
        raise ConfigError(
            f"config key mix.thumbnail_image = {config['mix']['thumbnail_image']!r} is not allowed: there are "
            f"{n_images} images (image.n_images x the prompt modifiers)")
    try:
        config["mix"]["chapter_titles"].format(track=1, modifier="", prompt="")
    except (KeyError, IndexError, ValueError) as error:
        raise ConfigError(
            f"config key mix.chapter_titles = {config['mix']['chapter_titles']!r} is not allowed: it may only use "
            f"{{track}}, {{modifier}} and {{prompt}} ({error!r})") from None


# A preview (config `preview: true`, set by profiles/preview) checks the prompts quickly: images and animations
# at most this many pixels on their long side, music at most this many seconds.
PREVIEW_MAX_SIDE = 512
PREVIEW_MUSIC_SECONDS = 10


def preview_of(config: dict) -> dict:
    """The config of a quick pass over the same prompts, into a project folder of its own ({name}-preview) so
    that it never touches the real outputs: one image step at a small size, camera moves instead of Stable
    Video Diffusion, short music. Sizes and lengths are only ever lowered, never raised."""
    preview = copy.deepcopy(config)
    preview["project_name"] = f"{config['project_name']}-preview"
    image, video, music = preview["image"], preview["video"], preview["music"]
    scale = min(1.0, PREVIEW_MAX_SIDE / max(image["height"], image["width"]))
    image["height"], image["width"] = (max(64, int(image[side] * scale) // 8 * 8) for side in ("height", "width"))
    image["inference_steps"] = 1
    video["backend"] = "kenburns"
    video["max_side"] = min(video["max_side"], PREVIEW_MAX_SIDE)
    music["music_duration"] = min(music["music_duration"], PREVIEW_MUSIC_SECONDS)
    # the initial track must fit in the shorter music (MusicGen makes 50 tokens a second)
    while initial_track_seconds(music["initial_music_tokens"]) > music["music_duration"]:
        music["initial_music_tokens"] //= 2
    if initial_from_duration(music):
        music["initial_duration"] = min(music["initial_duration"], music["music_duration"])
    clip_seconds = music["music_duration"] * preview["audio_clip"]["n_music_loops"]
    preview["mix"]["crossfade_duration"] = min(preview["mix"]["crossfade_duration"], clip_seconds / 4)
    return preview


def _validated_defaults(validator) -> dict:
    defaults = {}
    validator.validate(defaults)
    return defaults


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """Return a validated copy of config with every default filled in; raise ConfigError on the first problem."""
    filled = copy.deepcopy(dict(config))
    validator = _validator_filling_defaults(load_schema(schema_path))
    errors = sorted(validator.iter_errors(filled), key=lambda e: (list(e.absolute_path), e.validator))
    if errors:
        raise ConfigError("\n".join(_describe(e) for e in errors))
    if filled["preview"]:
        filled = preview_of(filled)
    _check_relations(filled, _validated_defaults(validator))
    _check_model_folders(filled)
    _check_devices(filled)
    _check_image_family(filled["image"])
    _check_video_backend(filled["video"])
    return filled
