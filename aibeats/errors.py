"""Errors that reach the user as a plain message instead of a traceback."""


class AiBeatsError(Exception):
    """Base class: the message alone tells the user what is wrong and what to do."""


class ConfigError(AiBeatsError):
    """The config names a key, a value and what is allowed instead."""


class MediaError(AiBeatsError):
    """An input file is corrupt or not what the stage expects; the message names the file."""


class NoRecipeError(MediaError):
    """A readable PNG, WAV or MP4 file that ai-beats did not make: it holds no recipe."""
