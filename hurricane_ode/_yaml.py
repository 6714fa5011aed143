"""Reading a YAML (or JSON) file with errors that name it: one helper for every loader."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from hurricane_ode.errors import ConfigError


def read_yaml(path: str | os.PathLike, what: str, error: type[Exception] = ConfigError) -> Any:
    """The parsed contents of a YAML file (``{}`` when it is empty).

    Parameters
    ----------
    path
        The file.
    what
        How messages name it, e.g. ``"config file"``.
    error
        The exception raised for a file that is not valid YAML.

    Returns
    -------
    Any
        What the file holds (a mapping, for every file hurricane_ode reads).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist (``"<what> not found: <path>"``).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} not found: {p}")
    try:
        return yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise error(f"{what} {p} is not valid YAML: {exc}") from exc
