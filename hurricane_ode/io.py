"""Writing datasets safely, and reading them back.

The output format follows the path's extension through a registry of writers
(``.nc`` -> NetCDF4, ``.zarr`` -> Zarr; third-party writers through the entry-point
group ``hurricane_ode.writers``, each a :class:`Writer`). Every write follows the rules
of :mod:`hurricane_ode.outputs`: written under a temporary sibling name and swapped into
place when complete, under the output's lock, stamped with :data:`OWNER_ATTR`; an existing
output is replaced only with ``overwrite=True`` and only when hurricane_ode wrote it.
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xarray as xr

from hurricane_ode.errors import OutputExistsError, RegistryError
from hurricane_ode.locking import output_lock
from hurricane_ode.outputs import (  # re-exported: the output rules live there
    OWNER_ATTR,
    OutputDirectoryError,
    OutputNotADirectoryError,
    OutputPermissionError,
    check_parent,
    check_replaceable,
    clean_stale,
    owner_reason,
    remove_path,
    replace_path,
    restate_os_error,
)
from hurricane_ode.registry import Registry

__all__ = [
    "OWNER_ATTR", "Writer", "WRITER_REGISTRY", "WRITERS", "register_writer", "write_dataset",
    "check_output", "check_replaceable", "output_lock", "clean_stale", "replace_path",
    "open_dataset", "OutputDirectoryError", "OutputNotADirectoryError", "OutputPermissionError",
]  # fmt: skip

WriteFn = Callable[[xr.Dataset, Path], None]


@dataclass(frozen=True)
class Writer:
    """An output format: ``write(ds, tmp_path)`` writes ``ds`` completely to ``tmp_path``."""

    name: str
    suffixes: tuple[str, ...]
    write: WriteFn


#: writer name -> :class:`Writer` (entry-point group ``hurricane_ode.writers``)
WRITER_REGISTRY: Registry[Writer] = Registry("writer", "hurricane_ode.writers")
#: file suffix -> write function: the suffix index of :data:`WRITER_REGISTRY`
WRITERS: dict[str, WriteFn] = {}


def register_writer(*suffixes: str, name: str | None = None) -> Callable[[WriteFn], WriteFn]:
    """Decorator: register ``fn(ds, tmp_path)`` as the writer of ``suffixes`` (e.g. ``".nc"``).

    Parameters
    ----------
    suffixes
        File suffixes, with the dot, that select this writer.
    name
        Registry name; default: the function name without ``_write_``.

    Returns
    -------
    callable
        The decorator (it returns the function unchanged).
    """

    def deco(fn: WriteFn) -> WriteFn:
        _add_writer(Writer(name or fn.__name__.removeprefix("_write_"), tuple(suffixes), fn))
        return fn

    return deco


def _add_writer(writer: Writer) -> None:
    WRITER_REGISTRY.add(writer.name, writer)
    for suffix in writer.suffixes:
        suffix = suffix.lower()
        if suffix in WRITERS and WRITERS[suffix] is not writer.write:
            raise RegistryError(f"writer '{writer.name}': suffix '{suffix}' is already taken")
        WRITERS[suffix] = writer.write


def _writer_for(path: Path) -> WriteFn:
    for name in WRITER_REGISTRY.names():  # loads entry points once
        w = WRITER_REGISTRY.get(name)
        if not isinstance(w, Writer):
            raise RegistryError(f"writer entry point '{name}' is not a hurricane_ode.io.Writer")
        for suffix in w.suffixes:
            WRITERS.setdefault(suffix.lower(), w.write)
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise RegistryError(
            f"output {path}: unknown format '{suffix or '(no extension)'}'; "
            f"expected one of {', '.join(sorted(WRITERS))}"
        )
    return WRITERS[suffix]


def _encoding(ds: xr.Dataset) -> dict[Hashable, dict[str, Any]]:
    """CF-friendly encoding: no _FillValue on coordinates, float32 data with NaN fill."""
    enc: dict[Hashable, dict[str, Any]] = {}
    for name in ds.coords:
        enc[name] = {"_FillValue": None}
    for name, var in ds.data_vars.items():
        if var.dtype.kind == "f":
            enc[name] = {"_FillValue": float("nan")}
    for name in list(ds.variables):
        for key in ("units", "calendar", "dtype"):
            if key in ds[name].encoding and key not in enc.get(name, {}):
                enc.setdefault(name, {})[key] = ds[name].encoding[key]
    return enc


@register_writer(".nc", ".nc4", ".netcdf", name="netcdf")
def _write_netcdf(ds: xr.Dataset, tmp: Path) -> None:
    ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=_encoding(ds))


#: Zarr chunk length along time (whole in space): small enough to read a few steps cheaply
ZARR_TIME_CHUNK = 8


@register_writer(".zarr", name="zarr")
def _write_zarr(ds: xr.Dataset, tmp: Path) -> None:
    ds = ds.compute()  # forecasts are small; in memory, the encoding alone decides the chunks
    enc = _encoding(ds)
    for name, var in ds.data_vars.items():
        chunks = tuple(
            min(ZARR_TIME_CHUNK, n) if dim == "time" else n for dim, n in zip(var.dims, var.shape)
        )
        enc.setdefault(name, {})["chunks"] = chunks
    ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2, encoding=enc)


def check_output(
    path: str | os.PathLike, overwrite: bool = False, make_parents: bool = False
) -> Path:
    """Fail early, naming ``path``, unless a dataset can be written there.

    Parameters
    ----------
    path
        Output path; its suffix selects the writer.
    overwrite
        Allow replacing an existing output that hurricane_ode wrote.
    make_parents
        Create a missing parent directory instead of refusing.

    Returns
    -------
    Path
        ``path`` as a Path (``~`` expanded).

    Raises
    ------
    RegistryError, OutputExistsError, OutputDirectoryError, OutputNotADirectoryError,
    OutputPermissionError
        Unknown extension; exists (and not ``overwrite``, or not ours); missing directory;
        under a regular file; directory not writable.
    """
    path = Path(path).expanduser()
    _writer_for(path)
    check_parent(path, make_parents)
    if os.path.lexists(path):
        if not overwrite:
            mine = owner_reason(path) is None
            raise OutputExistsError(
                f"output {path} already exists; pass overwrite=True (CLI: --overwrite)"
                if mine
                else f"output {path} already exists and was not written by hurricane_ode; "
                "move it away or choose another output"
            )
        check_replaceable(path)
    return path


# --------------------------------------------------------------------------- write / read


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``ds`` to ``path`` atomically, under the output lock, stamped with :data:`OWNER_ATTR`.

    Parameters
    ----------
    ds
        The dataset (e.g. a forecast from :func:`hurricane_ode.forecast`).
    path
        Output path; the extension picks the writer (``.nc``, ``.zarr`` or a registered one).
    overwrite
        Replace an existing output that hurricane_ode wrote (anything else is refused).

    Returns
    -------
    Path
        The final path.
    """
    from hurricane_ode import __version__

    path = check_output(path, overwrite)
    write = _writer_for(path)
    ds = ds.copy(deep=False)
    ds.attrs = {**ds.attrs, OWNER_ATTR: __version__}
    with output_lock(path):
        check_output(path, overwrite)  # again: another process may have written it meanwhile
        tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
        try:
            try:
                write(ds, tmp)
            except OSError as exc:
                if exc.filename is not None and Path(exc.filename).name == tmp.name:
                    raise restate_os_error(path, exc) from exc
                raise
            replace_path(tmp, path)
        except BaseException:
            if os.path.lexists(tmp):
                remove_path(tmp)
            raise
    return path


def open_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Open a forecast file written by :func:`write_dataset` (cftime calendars kept).

    Parameters
    ----------
    path
        A ``.nc`` file or ``.zarr`` store.

    Returns
    -------
    xarray.Dataset
        The dataset, lazily loaded.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(errno.ENOENT, "No such file or directory", str(path))
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    if path.suffix.lower() == ".zarr":
        return xr.open_zarr(path, consolidated=True, decode_times=coder)
    return xr.open_dataset(path, decode_times=coder)
