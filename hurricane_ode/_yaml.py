"""YAML (or JSON) files: reading one with errors that name it, and building config dataclasses
from the mappings they hold."""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from hurricane_ode.errors import ConfigError, ConfigKeyError, ConfigTypeError


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


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """Convert a YAML value to the annotated type ``tp`` (dataclasses, tuples, optionals)."""
    origin = typing.get_origin(tp)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigTypeError(f"config: {where} must be a mapping, got {type(value).__name__}")
        return build_dataclass(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(args[0], value, where)
    if origin is tuple:
        return tuple(value)
    if origin is list:
        return list(value)
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if tp in (int, float, str, bool) and not isinstance(value, tp):
        raise ConfigTypeError(f"config: {where} must be {tp.__name__}, got {value!r}")
    return value


def build_dataclass(cls: type, values: dict, where: str) -> Any:
    """``cls(**values)`` with each value coerced to its field's type, nested dataclasses built
    from nested mappings; an unknown key raises ConfigKeyError naming the section ``where``."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigKeyError(
            f"config: unknown key(s) {unknown} in section '{where}'; expected some of {sorted(known)}"
        )
    kwargs = {k: _coerce(hints[k], v, f"{where}.{k}") for k, v in values.items()}
    return cls(**kwargs)
