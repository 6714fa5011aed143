"""Open CAM5 history files lazily, validate them and standardise names, units and grid.

:func:`open_cam5` returns a dask-backed :class:`xarray.Dataset` with exactly
``U850``, ``V850`` (m s-1) and ``PSL`` (Pa), float32, dims ``(time, lat, lon)``:

* ``lat`` ascending, degrees_north; ``lon`` in the **0..360** convention
  (degrees_east, ascending; -180..180 input is wrapped and re-sorted);
* ``time`` decoded to cftime objects in the file's own calendar (CAM5:
  ``noleap``), strictly increasing and unique across all files; its ``units``
  and ``calendar`` stay in ``ds.time.encoding``;
* ``_FillValue``/``missing_value`` become NaN, and so does any value with
  magnitude >= 1e30 (CAM's 1e36 fill written without an attribute).

Every problem raises :class:`CAM5FormatError` naming the file, the variable
or coordinate, and what was expected.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hurricane_ode.data._standardise import (
    _GRID_TOL,
    FileLayout,
    _condense_warnings,
    _pick_variables,
    _standardise_coords,
    _standardise_grid,
)
from hurricane_ode.data.schema import CF_ATTRS, VARIABLE_ALIASES, VARIABLES
from hurricane_ode.errors import CAM5FormatError, InputError
from hurricane_ode.paths import expand_paths

__all__ = ["CAM5FormatError", "open_cam5", "scan_cam5", "FileLayout", "VARIABLE_ALIASES", "CF_ATTRS"]

logger = logging.getLogger(__name__)



def _open_one(path: Path) -> xr.Dataset:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            ds = xr.open_dataset(
                path,
                engine="netcdf4",
                chunks={},
                decode_times=xr.coders.CFDatetimeCoder(use_cftime=True),
                decode_timedelta=False,
            )
        except Exception as exc:  # netCDF4/HDF5 raise OSError, RuntimeError, ValueError ...
            raise CAM5FormatError(
                f"{path}: cannot be read as a NetCDF file (truncated, corrupt or not NetCDF?): {exc}"
            ) from exc
    _condense_warnings(caught, str(path))
    return ds


def _check_times(ds: xr.Dataset, path: Any) -> tuple[str | None, str | None]:
    """Strictly increasing, decoded times; returns (units, calendar)."""
    time = ds["time"]
    values = time.values
    if values.size == 0:
        raise CAM5FormatError(f"{path}: 'time' is empty")
    if values.dtype.kind in "fiu":
        raise CAM5FormatError(
            f"{path}: 'time' could not be decoded to dates (units={time.attrs.get('units')!r}); "
            "expected CF units such as 'days since 2005-01-01 00:00:00' and a calendar"
        )
    bad = np.flatnonzero(~(values[1:] > values[:-1]).astype(bool))
    if bad.size:
        i = int(bad[0]) + 1
        what = "duplicate" if values[i] == values[i - 1] else "out-of-order"
        raise CAM5FormatError(
            f"{path}: times must be strictly increasing; {what} timestamps "
            f"{values[i - 1]} then {values[i]} (positions {i - 1}, {i})"
        )
    calendar = time.encoding.get("calendar", getattr(values[0], "calendar", None))
    return time.encoding.get("units"), calendar


def _check_not_all_nan(ds: xr.Dataset, path: Any) -> None:
    """Cost: reads the middle time step of each variable; all of it only if that one is NaN."""
    n = ds.sizes["time"]
    sample = [n // 2]
    try:
        loaded = ds.isel(time=sample).compute()  # one read for every variable
    except Exception:  # noqa: BLE001 - retried variable by variable to name the broken one
        loaded = None
    for name, da in ds.data_vars.items():
        try:
            values = loaded[name].values if loaded is not None else da.isel(time=sample).values
            if not np.isnan(values).all():
                continue
            if np.isnan(da.values).all():
                raise CAM5FormatError(
                    f"{path}: variable '{name}' is entirely missing (all NaN / fill values)"
                )
        except CAM5FormatError:
            raise
        except Exception as exc:
            raise CAM5FormatError(
                f"{path}: reading variable '{name}' failed (truncated or corrupt file?): {exc}"
            ) from exc


def _same_grid(a: xr.Dataset, b: xr.Dataset) -> str | None:
    for c in ("lat", "lon"):
        x, y = a[c].values, b[c].values
        if x.shape != y.shape:
            return f"'{c}' has {x.size} points vs {y.size}"
        if not np.allclose(x, y, rtol=0, atol=_GRID_TOL):
            k = int(np.argmax(np.abs(x - y)))
            return f"'{c}' differs (index {k}: {x[k]} vs {y[k]})"
    return None


def scan_cam5(
    paths: str | os.PathLike | Iterable[str | os.PathLike] | xr.Dataset,
    chunks: dict[str, int] | None = None,
    variables: Sequence[str] = VARIABLES,
) -> tuple[xr.Dataset, list[FileLayout]]:
    """:func:`open_cam5` plus, for file inputs, how each file maps onto the result.

    Returns
    -------
    (Dataset, list of FileLayout)
        The layouts (in time order; empty for a Dataset input) let a reader fetch one basin's
        hyperslab straight from a file (see :mod:`hurricane_ode.data.tiling`).
    """
    if paths is None:
        raise CAM5FormatError("open_cam5: no input given (None); pass CAM5 file paths or a Dataset")
    variables = tuple(variables)
    if not variables:
        raise InputError("open_cam5: 'variables' must name at least one variable")
    chunk_spec = {"time": 8, "lat": -1, "lon": -1}
    if chunks:
        unknown = set(chunks) - set(chunk_spec)
        if unknown:
            raise InputError(f"open_cam5: chunks keys must be time/lat/lon, got {sorted(unknown)}")
        chunk_spec.update(chunks)
    if isinstance(paths, xr.Dataset):
        label = str(paths.encoding.get("source") or "<input Dataset>")
        sources: list[tuple[Any, Any]] = [(label, paths)]
    else:
        sources = [(f, None) for f in expand_paths(paths, "open_cam5")]

    aliases_used: dict[str, str] = {}
    parts: list[tuple[Any, xr.Dataset, FileLayout]] = []
    time_units: str | None = None
    calendar: str | None = None
    first_attrs: dict = {}
    raws: list[xr.Dataset] = []
    for path, given in sources:
        raw = _open_one(path) if given is None else given
        raws.append(raw)
        layout = FileLayout(path=Path(path) if given is None else Path("."))
        ds = _standardise_coords(raw, path, layout)
        units, cal = _check_times(ds, path)
        ds = _pick_variables(ds, path, variables, aliases_used, layout)
        ds = _standardise_grid(ds, path, layout)
        _check_not_all_nan(ds, path)
        if parts:
            ref_path, ref, _ = parts[0]
            problem = _same_grid(ref, ds)
            if problem:
                raise CAM5FormatError(
                    f"grids differ between files {ref_path} and {path}: {problem}"
                )
            if cal != calendar:
                raise CAM5FormatError(
                    f"calendars differ between files {ref_path} ({calendar!r}) and {path} ({cal!r})"
                )
            ds = ds.assign_coords(lat=ref["lat"], lon=ref["lon"])
        else:
            time_units, calendar, first_attrs = units, cal, dict(raw.attrs)
        parts.append((path, ds, layout))

    parts.sort(key=lambda p: p[1]["time"].values[0])
    for (pa, a, _), (pb, b, _) in zip(parts[:-1], parts[1:]):
        last, first = a["time"].values[-1], b["time"].values[0]
        if not first > last:
            raise CAM5FormatError(
                f"times overlap or repeat across files: {pa} ends at {last} but {pb} "
                f"starts at {first}; times must be strictly increasing and unique"
            )
    offset = 0
    for _, ds, layout in parts:
        layout.start, layout.stop = offset, offset + ds.sizes["time"]
        offset = layout.stop

    datasets = [p[1] for p in parts]
    out = (
        datasets[0]
        if len(datasets) == 1
        else xr.concat(
            datasets,
            dim="time",
            data_vars="all",
            coords="minimal",
            compat="override",
            join="override",
            combine_attrs="drop",
        )  # fmt: skip
    )
    out = out.chunk(chunk_spec)
    for name in out.data_vars:
        out[name].attrs = dict(CF_ATTRS.get(str(name), {}))
    out["time"].attrs = {"standard_name": "time", "long_name": "time", "axis": "T"}
    out["time"].encoding = {k: v for k, v in (("units", time_units), ("calendar", calendar)) if v}
    attrs = {
        k: v for k, v in first_attrs.items() if k in ("source", "case", "title", "Conventions")
    }
    attrs["hurricane_ode_files"] = len(parts)
    attrs["hurricane_ode_aliases"] = "; ".join(f"{k}<-{v}" for k, v in aliases_used.items())
    out.attrs = attrs
    layouts = [p[2] for p in parts] if not isinstance(paths, xr.Dataset) else []
    if layouts:  # files we opened: ``out.close()`` closes them all (as open_mfdataset's does)
        out.set_close(_closer(raws))
    return out, layouts


def _closer(datasets: list[xr.Dataset]) -> Callable[[], None]:
    def close() -> None:
        for ds in datasets:
            ds.close()

    return close


def open_cam5(
    paths: str | os.PathLike | Iterable[str | os.PathLike] | xr.Dataset,
    chunks: dict[str, int] | None = None,
    variables: Sequence[str] = VARIABLES,
) -> xr.Dataset:
    """Open CAM5 history files (or standardise a Dataset) as one lazy, validated dataset.

    Parameters
    ----------
    paths
        A file, a directory (all its ``*.nc``), a glob string, a list of these, or an
        :class:`xarray.Dataset` already open (from intake, a remote Zarr, your own
        pre-processing), checked and standardised exactly as a file is. Files are ordered by
        their first time stamp; their times must not overlap.
    chunks
        Dask chunks of the result, by dimension (default ``{"time": 8}``, whole in space).
    variables
        Canonical names to keep. ``U850``, ``V850`` and ``PSL`` accept common aliases
        (:data:`VARIABLE_ALIASES`); the alias used is logged and recorded in
        ``ds.attrs["hurricane_ode_aliases"]``. Other names are taken verbatim, units unchecked.

    Returns
    -------
    xarray.Dataset
        The data variables ``variables`` (float32, dims ``(time, lat, lon)``, CF
        ``standard_name``/``units``: U850/V850 m s-1, PSL Pa), coordinates ``time`` (cftime,
        file calendar kept; ``units``/``calendar`` in ``ds.time.encoding``), ``lat``
        (ascending) and ``lon`` (0..360); every other variable is dropped. Nothing is loaded
        except a validation sample: the coordinates and the middle time step of each variable per file
        (the whole variable only when that step is all NaN). Warnings xarray raises while
        decoding a foreign file are logged as one line per kind.

    Raises
    ------
    FileNotFoundError
        A path or glob matches nothing.
    CAM5FormatError
        Unreadable/truncated file, unstructured (``ncol``) grid, missing variable or
        coordinate, bad or missing units, duplicate or unsorted times (within or across
        files), grids differing between files, a variable entirely NaN. The message names the
        file(s) and variable.
    """
    return scan_cam5(paths, chunks, variables)[0]
