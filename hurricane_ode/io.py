"""Writing datasets safely, and reading them back.

The output format follows the path's extension through a small registry of
writers (``.nc`` -> NetCDF4, ``.zarr`` -> Zarr); a new format is one
``@register_writer`` function. Every write goes to a temporary sibling name
first and is renamed into place only when complete, so nothing half-written
is ever left under the final name, and an existing output is never replaced
unless ``overwrite=True``.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import xarray as xr

__all__ = ["write_dataset", "check_output", "open_dataset", "register_writer", "WRITERS"]

Writer = Callable[[xr.Dataset, Path], None]
WRITERS: dict[str, Writer] = {}


def register_writer(*suffixes: str) -> Callable[[Writer], Writer]:
    """Register a writer ``fn(ds, tmp_path)`` for the given file suffixes (e.g. ``".nc"``)."""

    def deco(fn: Writer) -> Writer:
        for suffix in suffixes:
            WRITERS[suffix.lower()] = fn
        return fn

    return deco


def _encoding(ds: xr.Dataset) -> dict[str, dict]:
    """CF-friendly encoding: no _FillValue on coordinates, float32 data with NaN fill."""
    enc: dict[str, dict] = {}
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


@register_writer(".nc", ".nc4", ".netcdf")
def _write_netcdf(ds: xr.Dataset, tmp: Path) -> None:
    ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", encoding=_encoding(ds))


#: Zarr chunk length along time (whole in space): small enough to read a few steps cheaply
ZARR_TIME_CHUNK = 8


@register_writer(".zarr")
def _write_zarr(ds: xr.Dataset, tmp: Path) -> None:
    ds = ds.compute()  # forecasts are small; in memory, the encoding alone decides the chunks
    enc = _encoding(ds)
    for name, var in ds.data_vars.items():
        chunks = tuple(
            min(ZARR_TIME_CHUNK, n) if dim == "time" else n for dim, n in zip(var.dims, var.shape)
        )
        enc.setdefault(name, {})["chunks"] = chunks
    ds.to_zarr(tmp, mode="w", consolidated=True, zarr_format=2, encoding=enc)


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write ``ds`` to ``path`` (format from the extension) atomically; return the final path."""
    path = check_output(path, overwrite)
    suffix = path.suffix.lower()
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        WRITERS[suffix](ds, tmp)
        if path.exists():
            _remove(path)
        os.replace(tmp, path)
    except BaseException:
        if tmp.exists():
            _remove(tmp)
        raise
    return path


def check_output(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Fail early, naming ``path``, unless a dataset can be written there; return it as a Path.

    Raises ValueError (unknown extension), FileExistsError (exists and not ``overwrite``),
    FileNotFoundError (no such directory) or PermissionError (directory not writable).
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in WRITERS:
        raise ValueError(
            f"output {path}: unknown format '{suffix or '(no extension)'}'; "
            f"expected one of {', '.join(sorted(WRITERS))}"
        )
    if path.exists() and not overwrite:
        raise FileExistsError(f"output {path} already exists; pass overwrite=True (CLI: --overwrite)")
    parent = path.parent
    if not parent.is_dir():
        raise FileNotFoundError(f"output {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"output {path}: directory {parent} is not writable")
    return path


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink()


def open_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Open a forecast file written by :func:`write_dataset` (cftime calendars kept)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    if path.suffix.lower() == ".zarr":
        return xr.open_zarr(path, consolidated=True, decode_times=coder)
    return xr.open_dataset(path, decode_times=coder)
