"""The one place for user path expansion and the cache directory.

* :func:`expand_paths`: a file, a directory (its ``*.nc``), a glob string, or a list of
  those -> a sorted list of existing files; every miss raises ``FileNotFoundError`` naming it.
* :func:`cache_dir`: ``$HURRICANE_ODE_CACHE`` (an empty value counts as unset) or
  ``~/.cache/hurricane_ode``.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from pathlib import Path

from hurricane_ode.errors import InputTypeError

__all__ = ["expand_paths", "cache_dir", "CACHE_ENV"]

CACHE_ENV = "HURRICANE_ODE_CACHE"


def expand_paths(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    what: str = "input",
    pattern: str = "*.nc",
) -> list[Path]:
    """Expand user paths to files.

    Parameters
    ----------
    paths
        One file, a directory (every ``pattern`` file in it), a glob string, or a list of these.
    what
        Prefix of error messages (e.g. ``"open_cam5"``, ``"prepare"``).
    pattern
        Files taken from a directory.

    Returns
    -------
    list of Path
        Files in the order given (each glob and directory sorted).
    """
    if paths is None:
        raise InputTypeError(
            f"{what}: no input given (got None); pass file paths, a directory or a glob"
        )
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise FileNotFoundError(f"{what}: no input files given")
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if isinstance(item, str) and glob.has_magic(text):
            matches = sorted(glob.glob(os.path.expanduser(text)))
            if not matches:
                where = os.path.dirname(os.path.expanduser(text)) or "."
                raise FileNotFoundError(
                    f"{what}: no input files match {text!r} (no files match in {where})"
                )
            out.extend(Path(m) for m in matches)
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            found = sorted(path.glob(pattern))
            if not found:
                raise FileNotFoundError(f"{what}: directory {path} holds no {pattern} files")
            out.extend(found)
        elif path.exists():
            out.append(path)
        else:
            raise FileNotFoundError(f"{what}: input file not found: {path}")
    return out


def cache_dir(create: bool = True) -> Path:
    """The hurricane_ode cache directory.

    Parameters
    ----------
    create
        Make the directory when it does not exist.

    Returns
    -------
    Path
        ``$HURRICANE_ODE_CACHE`` when set and non-empty, else ``~/.cache/hurricane_ode``.
    """
    value = os.environ.get(CACHE_ENV, "").strip()
    root = Path(value).expanduser() if value else Path.home() / ".cache" / "hurricane_ode"
    if create:
        root.mkdir(parents=True, exist_ok=True)
    return root
