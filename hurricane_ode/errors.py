"""The exceptions hurricane_ode raises on purpose, rooted in :class:`HurricaneODEError`.

Every error a user can cause (a bad file, argument, config key, checkpoint or output
path) is one of these, with a message that names the file, variable, key or argument
and what was expected. The CLI prints exactly these (and ``OSError``) as one line;
anything else is a bug and shows its traceback.

Each class also derives from the builtin that describes it (``ValueError``,
``FileExistsError``, ``ImportError`` ...), so ``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "HurricaneODEError",
    "InputError",
    "CAM5FormatError",
    "TileStoreError",
    "ConfigError",
    "CheckpointError",
    "ModelInputError",
    "OutputError",
    "OutputExistsError",
    "OutputLockedError",
    "RegistryError",
    "OptionalDependencyError",
]


class HurricaneODEError(Exception):
    """Base of every error hurricane_ode raises on purpose (a user-fixable problem)."""


class InputError(HurricaneODEError, ValueError):
    """Bad input data or argument: a file, a variable, a time, a basin, a shape."""


class CAM5FormatError(InputError):
    """A CAM5 history file (or Dataset) that does not follow the expected schema."""


class TileStoreError(InputError):
    """A Zarr tile store that is missing, incomplete, or lacks the requested basin."""


class ConfigError(HurricaneODEError, ValueError):
    """A configuration value out of range or of the wrong type; the message names the key."""


class CheckpointError(HurricaneODEError, ValueError):
    """A file that is not a readable hurricane_ode checkpoint, or one that does not fit."""


class ModelInputError(HurricaneODEError, ValueError):
    """A batch (frames, times, mask) that breaks the model contract."""


class OutputError(HurricaneODEError, OSError):
    """An output path that cannot be written as asked."""


class OutputExistsError(OutputError, FileExistsError):
    """The output exists and is not ours to replace (or ``overwrite`` was not given)."""


class OutputLockedError(OutputError):
    """Another hurricane_ode process is writing the same output."""


class RegistryError(HurricaneODEError, ValueError):
    """An unknown or duplicate name in a registry (models, sources, writers)."""


class OptionalDependencyError(HurricaneODEError, ImportError):
    """A feature needs an optional extra that is not installed; the message names it."""


class InputKeyError(InputError, KeyError):
    """A missing key, variable, group or name in the input (also a ``KeyError``)."""

    __str__ = Exception.__str__  # no quotes around the message, unlike KeyError


class InputTypeError(InputError, TypeError):
    """An input of the wrong type (also a ``TypeError``)."""


class ConfigKeyError(ConfigError, KeyError):
    """An unknown configuration key (also a ``KeyError``); the message names it."""

    __str__ = Exception.__str__


class ConfigTypeError(ConfigError, TypeError):
    """A configuration value of the wrong type (also a ``TypeError``); the message names the key."""
