"""Claiming output paths safely: ownership, an advisory lock, atomic swaps, stale cleanup.

The rules every output of hurricane_ode follows (forecast files through
:func:`hurricane_ode.io.write_dataset`, tile stores through
:func:`hurricane_ode.data.store.prepare_tiles`):

* **Atomic.** A write goes to a hidden temporary sibling (``.NAME.tmp-<8 hex digits>`` or the
  tool's own working directory) and is renamed into place only when complete; an output
  being replaced is renamed aside (``.NAME.old-<8 hex digits>``) and deleted only after the new
  one is in place (:func:`replace_path`).
* **Only ours is replaced.** Overwriting replaces only what hurricane_ode wrote: a NetCDF
  file or Zarr store whose global attributes carry :data:`OWNER_ATTR`. A user's folder or
  a foreign file at the path is refused with :class:`~hurricane_ode.errors.OutputExistsError`
  (:func:`check_replaceable`).
* **One writer at a time.** :func:`hurricane_ode.locking.output_lock` holds an advisory
  ``fcntl`` lock on ``.NAME.lock`` (holding the owner's pid); a second writer of the same
  output is refused with :class:`~hurricane_ode.errors.OutputLockedError`.
* **Stale temporaries are cleaned.** Taking the lock removes ``.NAME.tmp-*`` left by a
  killed run (and restores ``.NAME.old-*`` when a kill fell between the two renames of a
  replace) (:func:`clean_stale`).
* **Clear failures.** An output under a regular file, in a missing or unwritable directory,
  or in one that accepts no new files (``/proc``) is refused naming the path.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hurricane_ode.errors import OutputError, OutputExistsError

__all__ = [
    "OWNER_ATTR", "OutputDirectoryError", "OutputNotADirectoryError", "OutputPermissionError",
    "check_parent", "check_output_dir", "check_replaceable", "check_work_dir",
    "clean_stale", "replace_path", "remove_path", "restate_os_error", "owner_reason",
    "atomic_file", "check_table_output", "write_table",
]  # fmt: skip

log = logging.getLogger(__name__)

#: global attribute stamped on every output hurricane_ode writes (value: the package version)
OWNER_ATTR = "hurricane_ode_version"


class OutputDirectoryError(OutputError, FileNotFoundError):
    """The output's directory does not exist."""


class OutputNotADirectoryError(OutputError, NotADirectoryError):
    """The output path lies under a regular file."""


class OutputPermissionError(OutputError, PermissionError):
    """The output's directory does not let us create files."""


# --------------------------------------------------------------------------- path checks


def check_parent(path: Path, make_parents: bool = False) -> None:
    """Refuse an output under a regular file, in a missing (unless made) or unwritable directory."""
    parent = path.parent
    anc = parent
    while not os.path.lexists(anc) and anc != anc.parent:
        anc = anc.parent
    if os.path.lexists(anc) and not anc.is_dir():
        raise OutputNotADirectoryError(f"not a directory: {path} is under a regular file ({anc})")
    if not parent.is_dir():
        if not make_parents:
            raise OutputDirectoryError(f"output {path}: directory {parent} does not exist")
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise restate_os_error(path, exc) from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPermissionError(f"output {path}: directory {parent} is not writable")


def check_output_dir(path: str | os.PathLike) -> Path:
    """Make sure ``path`` is a writable directory (created if missing) for outputs to go into.

    Parameters
    ----------
    path
        The output directory.

    Returns
    -------
    Path
        ``path`` as a Path (``~`` expanded).

    Raises
    ------
    OutputNotADirectoryError, OutputPermissionError, OSError
        ``path`` (or an ancestor) is a regular file; it is not writable; it cannot be made.
    """
    path = Path(path).expanduser()
    if os.path.lexists(path) and not path.is_dir():
        raise OutputNotADirectoryError(
            f"output directory {path} is a regular file; expected a directory"
        )
    if not path.is_dir():
        check_parent(path, make_parents=True)
        try:
            path.mkdir(exist_ok=True)
        except OSError as exc:
            raise restate_os_error(path, exc) from exc
    if not os.access(path, os.W_OK | os.X_OK):
        raise OutputPermissionError(f"output directory {path} is not writable")
    return path


def restate_os_error(path: Path, exc: OSError) -> OSError:
    """``exc`` (raised on a sibling such as the lock or temporary) restated for ``path``."""
    if exc.errno == errno.ENOENT and path.parent.is_dir():  # e.g. /proc: creation refused
        return OutputPermissionError(
            f"cannot write {path}: directory {path.parent} does not accept new files ({exc.strerror})"
        )
    if exc.errno is None or not exc.strerror:
        return exc
    return type(exc)(exc.errno, exc.strerror, str(path))


def owner_reason(path: Path) -> str | None:
    """None when ``path`` is a NetCDF file or Zarr store written by hurricane_ode; else why not."""
    if path.is_symlink():
        return "a symbolic link"
    if path.is_dir():
        for meta, key in ((".zattrs", None), ("zarr.json", "attributes")):
            if (path / meta).is_file():
                try:
                    attrs = json.loads((path / meta).read_text())
                except (OSError, ValueError):
                    return f"a Zarr store with unreadable metadata ({meta})"
                attrs = attrs.get(key, {}) if key else attrs
                if isinstance(attrs, dict) and OWNER_ATTR in attrs:
                    return None
                return f"a Zarr store without the '{OWNER_ATTR}' attribute"
        if (path / ".zgroup").is_file() or (path / ".zarray").is_file():
            return f"a Zarr store without the '{OWNER_ATTR}' attribute"
        return "a directory that is not a Zarr store"
    if not path.is_file():
        return "neither a regular file nor a directory"
    with open(path, "rb") as f:
        magic = f.read(8)
    if not (magic.startswith(b"\x89HDF\r\n\x1a\n") or magic[:3] == b"CDF"):
        return "not a NetCDF file"
    try:
        import netCDF4

        with netCDF4.Dataset(path) as nc:
            attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
    except OSError:
        return "an unreadable NetCDF file"
    # forecasts written before OWNER_ATTR existed carry institution = "hurricane_ode"
    if OWNER_ATTR in attrs or attrs.get("institution") == "hurricane_ode":
        return None
    return f"a NetCDF file without the '{OWNER_ATTR}' attribute"


def check_replaceable(path: str | os.PathLike) -> Path:
    """Raise :class:`OutputExistsError` if something not written by hurricane_ode is at ``path``.

    Parameters
    ----------
    path
        The output path; a missing path passes.

    Returns
    -------
    Path
        ``path`` as a Path.
    """
    path = Path(path).expanduser()
    if os.path.lexists(path):
        why = owner_reason(path)
        if why is not None:
            raise OutputExistsError(
                f"output {path} exists and was not written by hurricane_ode ({why}); refusing to "
                "replace it, even with --overwrite: move it away or choose another output"
            )
    return path


def check_table_output(path: Path | None, overwrite: bool, header: str, command: str) -> None:
    """Refuse a CSV ``--output`` of ``command`` that exists, unless ``overwrite`` and it is a table
    ``command`` wrote (its first line starts with ``header``): never a user's file or folder.

    Raises :class:`OutputExistsError` naming the path; a missing path (or None) passes.
    """
    if path is None or not path.exists():
        return
    if not overwrite:
        raise OutputExistsError(f"output {path} already exists; pass --overwrite to replace it")
    ours = False
    if path.is_file():
        with open(path, encoding="utf-8", errors="replace") as f:
            ours = f.readline().startswith(header)
    if not ours:
        raise OutputExistsError(f"refusing to replace {path}: it is not a table `hurricane-ode {command}` "
                                f"wrote (a CSV starting '{header}'); choose another --output")


def write_table(table: Any, path: Path) -> None:
    """Write a DataFrame (its index as columns) to the CSV ``path`` atomically, making its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp:
        table.reset_index().to_csv(tmp, index=False)


# --------------------------------------------------------------------------- swap, clean


def check_work_dir(work: str | os.PathLike, expected: Iterable[str]) -> None:
    """Refuse to use or delete the working directory ``work`` unless it holds only ``expected``.

    Parameters
    ----------
    work
        A tool-owned working directory (e.g. ``<store>.tmp`` of ``prepare``).
    expected
        The entry names hurricane_ode creates there.

    Raises
    ------
    OutputExistsError
        ``work`` is not a directory, or holds something else (a user's folder or file).
    """
    work = Path(work)
    if not os.path.lexists(work):
        return
    if not work.is_dir() or work.is_symlink():
        raise OutputExistsError(
            f"{work} exists and is not hurricane_ode's working directory; move it away"
        )
    other = sorted(set(os.listdir(work)) - set(expected))
    if other:
        raise OutputExistsError(
            f"{work} holds files hurricane_ode did not write ({', '.join(other[:3])}); "
            "refusing to use or delete it: move it away or choose another output"
        )


def _siblings(path: Path, kind: str) -> list[Path]:
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.{kind}-[0-9a-f]{{8}}$")
    try:
        return sorted(p for p in path.parent.iterdir() if pattern.match(p.name))
    except OSError:
        return []


def clean_stale(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries an interrupted run left for output ``path``; call with the lock held.

    ``.NAME.tmp-*`` are removed. A ``.NAME.old-*`` (an output renamed aside) is restored when
    ``path`` itself is missing (a kill fell between the two renames of a replace), else removed.

    Parameters
    ----------
    path
        The output path.

    Returns
    -------
    list of Path
        What was removed.
    """
    path = Path(path).expanduser()
    removed = []
    olds = _siblings(path, "old")
    if olds and not os.path.lexists(path):
        os.rename(olds[-1], path)
        log.warning("restored %s from %s (a replace was interrupted)", path, olds.pop())
    for p in _siblings(path, "tmp") + olds:
        remove_path(p)
        removed.append(p)
        log.warning("removed %s, left by an interrupted write of %s", p.name, path)
    return removed


def replace_path(new: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move the complete output ``new`` to ``path``; an old ``path`` is deleted only afterwards.

    Parameters
    ----------
    new
        The finished output (a sibling of ``path`` on the same file system).
    path
        The final name; what is there (checked by the caller) is renamed aside, ``new`` is
        renamed in, then the old one is deleted. File over file is a single atomic rename.
    """
    new, path = Path(new), Path(path)
    if not os.path.lexists(path):
        os.rename(new, path)
        return
    if new.is_file() and path.is_file() and not path.is_symlink():
        os.replace(new, path)
        return
    aside = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(path, aside)
    try:
        os.rename(new, path)
    except BaseException:
        os.rename(aside, path)
        raise
    remove_path(aside)


def remove_path(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[Path]:
    """Write a file under a hidden temporary name, renamed onto ``path`` only when complete.

    Parameters
    ----------
    path
        The final file name (its directory must exist).

    Yields
    ------
    Path
        The temporary sibling to write (``.NAME.tmp-<8 hex digits>``, the pattern
        :func:`clean_stale` removes); it is renamed onto ``path`` when the block ends without
        an exception and removed when it raises.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.lexists(tmp):
            remove_path(tmp)
