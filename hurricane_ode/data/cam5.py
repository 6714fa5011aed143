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

import glob
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

__all__ = ["CAM5FormatError", "open_cam5", "VARIABLE_ALIASES", "CF_ATTRS"]

logger = logging.getLogger(__name__)


class CAM5FormatError(ValueError):
    """A CAM5 history file is unreadable or does not hold what :func:`open_cam5` needs."""


#: canonical name -> accepted names, in order of preference (genuine 850 hPa fields only)
VARIABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "U850": ("U850", "u850", "ua850", "UA850"),
    "V850": ("V850", "v850", "va850", "VA850"),
    "PSL": ("PSL", "psl", "slp", "SLP", "msl", "MSL", "PRMSL", "prmsl"),
}
_COORD_ALIASES: dict[str, tuple[str, ...]] = {
    "lat": ("lat", "latitude", "nav_lat", "LAT", "Latitude"),
    "lon": ("lon", "longitude", "nav_lon", "LON", "Longitude"),
    "time": ("time", "Time"),
}

#: CF attributes of the standardised output
CF_ATTRS: dict[str, dict[str, str]] = {
    "U850": {
        "standard_name": "eastward_wind",
        "long_name": "Zonal wind at 850 mbar pressure surface",
        "units": "m s-1",
    },
    "V850": {
        "standard_name": "northward_wind",
        "long_name": "Meridional wind at 850 mbar pressure surface",
        "units": "m s-1",
    },
    "PSL": {
        "standard_name": "air_pressure_at_mean_sea_level",
        "long_name": "Sea level pressure",
        "units": "Pa",
    },
}

_WIND_UNITS = {"m/s", "m s-1", "m s**-1", "m s^-1", "m.s-1", "ms-1", "meters/second",
               "metres/second", "meter second-1", "metre second-1", "m sec-1"}  # fmt: skip
#: pressure units -> factor to Pa
_PRESSURE_UNITS = {
    "pa": 1.0, "pascal": 1.0, "pascals": 1.0, "n m-2": 1.0, "n/m2": 1.0,
    "hpa": 100.0, "hectopascal": 100.0, "hectopascals": 100.0,
    "mb": 100.0, "mbar": 100.0, "millibar": 100.0, "millibars": 100.0,
}  # fmt: skip
_CAM_FILL_THRESHOLD = 1e30
_GRID_TOL = 1e-5  # degrees


def _resolve_paths(paths: str | os.PathLike | Iterable[str | os.PathLike]) -> list[Path]:
    """One file, a directory (its ``*.nc``), a glob string, or a list of those -> files."""
    if isinstance(paths, str | os.PathLike):
        items: list[str | os.PathLike] = [paths]
    else:
        items = list(paths)
    if not items:
        raise FileNotFoundError("open_cam5: no paths given")
    out: list[Path] = []
    for item in items:
        text = os.fspath(item)
        if isinstance(item, str) and glob.has_magic(text):
            matches = sorted(glob.glob(os.path.expanduser(text)))
            if not matches:
                raise FileNotFoundError(f"open_cam5: no files match {text!r}")
            out.extend(Path(m) for m in matches)
            continue
        path = Path(text).expanduser()
        if path.is_dir():
            matches = sorted(path.glob("*.nc"))
            if not matches:
                raise FileNotFoundError(f"open_cam5: directory {path} holds no *.nc files")
            out.extend(matches)
        elif path.exists():
            out.append(path)
        else:
            raise FileNotFoundError(f"open_cam5: file not found: {path}")
    return out


def _find(names: Sequence[str], pool: Iterable[str]) -> str | None:
    available = set(pool)
    for name in names:
        if name in available:
            return name
    return None


def _open_one(path: Path) -> xr.Dataset:
    try:
        return xr.open_dataset(
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


def _standardise_coords(ds: xr.Dataset, path: Path) -> xr.Dataset:
    renames: dict[str, str] = {}
    for canonical, names in _COORD_ALIASES.items():
        found = _find(names, list(ds.variables) + list(ds.dims))
        if found is None:
            raise CAM5FormatError(
                f"{path}: no '{canonical}' coordinate (looked for {', '.join(names)})"
            )
        if found not in ds.variables:
            raise CAM5FormatError(
                f"{path}: dimension '{found}' has no coordinate values; "
                f"expected a 1-D '{canonical}' coordinate variable"
            )
        var = ds[found]
        if var.ndim != 1:
            raise CAM5FormatError(
                f"{path}: coordinate '{found}' must be 1-D (a regular lat-lon grid), "
                f"got dims {var.dims}"
            )
        dim = var.dims[0]
        if dim != found:  # e.g. a 'latitude' variable along a 'y' dimension
            ds = ds.swap_dims({dim: found})
        if found != canonical:
            renames[found] = canonical
    return ds.rename(renames) if renames else ds


def _pick_variables(
    ds: xr.Dataset, path: Path, variables: Sequence[str], aliases_used: dict[str, str]
) -> xr.Dataset:
    chosen: dict[str, xr.DataArray] = {}
    for canonical in variables:
        names = VARIABLE_ALIASES.get(canonical, (canonical,))
        found = _find(names, ds.data_vars)
        if found is None:
            raise CAM5FormatError(
                f"{path}: variable '{canonical}' not found (accepted names: {', '.join(names)}; "
                f"file has: {', '.join(map(str, ds.data_vars)) or 'no data variables'})"
            )
        if found != canonical:
            if aliases_used.get(canonical) != found:
                logger.info("%s: using variable '%s' as %s", path, found, canonical)
            aliases_used[canonical] = found
        chosen[canonical] = _standardise_variable(ds[found], path, canonical, found)
    return xr.Dataset(chosen)


def _standardise_variable(da: xr.DataArray, path: Path, canonical: str, found: str) -> xr.DataArray:
    extra = [d for d in da.dims if d not in ("time", "lat", "lon")]
    for d in extra:
        if da.sizes[d] != 1:
            raise CAM5FormatError(
                f"{path}: variable '{found}' has extra dimension '{d}' of size {da.sizes[d]}; "
                "expected dims (time, lat, lon)"
            )
    da = da.squeeze(extra, drop=True) if extra else da
    missing = [d for d in ("time", "lat", "lon") if d not in da.dims]
    if missing:
        raise CAM5FormatError(
            f"{path}: variable '{found}' lacks dimension(s) {missing}; expected (time, lat, lon), "
            f"got {da.dims}"
        )
    da = da.transpose("time", "lat", "lon")
    da = da.drop_vars([c for c in da.coords if c not in ("time", "lat", "lon")])
    if canonical in ("U850", "V850", "PSL"):
        units = da.attrs.get("units", da.encoding.get("units"))
        if units is None or not str(units).strip():
            raise CAM5FormatError(
                f"{path}: variable '{found}' has no 'units' attribute; expected "
                + ("m/s" if canonical != "PSL" else "Pa or hPa")
            )
        key = " ".join(str(units).split())
        if canonical == "PSL":
            factor = _PRESSURE_UNITS.get(key.lower())
            if factor is None:
                raise CAM5FormatError(
                    f"{path}: variable '{found}' has units {units!r}; expected Pa "
                    f"(or hPa/mb/mbar/millibar, converted to Pa)"
                )
            if factor != 1.0:
                logger.info("%s: converting %s from %s to Pa", path, found, units)
                da = da * factor
        elif key not in _WIND_UNITS and key.lower() not in _WIND_UNITS:
            raise CAM5FormatError(
                f"{path}: variable '{found}' has units {units!r}; expected m/s (m s-1)"
            )
    da = da.where(abs(da) < _CAM_FILL_THRESHOLD)
    da = da.astype(np.float32)
    da.attrs = dict(CF_ATTRS.get(canonical, {}))
    da.encoding = {}
    return da


def _standardise_grid(ds: xr.Dataset, path: Path) -> xr.Dataset:
    lat = np.asarray(ds["lat"].values, dtype=np.float64)
    lon = np.asarray(ds["lon"].values, dtype=np.float64)
    if lat.size < 2 or lon.size < 2:
        raise CAM5FormatError(f"{path}: lat/lon need at least 2 points, got {lat.size}x{lon.size}")
    if not np.all(np.isfinite(lat)) or np.any(np.abs(lat) > 90.0 + _GRID_TOL):
        raise CAM5FormatError(f"{path}: 'lat' values must be finite and within -90..90 degrees")
    dlat = np.diff(lat)
    if np.all(dlat < 0):
        ds = ds.isel(lat=slice(None, None, -1))
    elif not np.all(dlat > 0):
        raise CAM5FormatError(f"{path}: 'lat' must be strictly monotonic")
    if not np.all(np.isfinite(lon)):
        raise CAM5FormatError(f"{path}: 'lon' values must be finite")
    lon360 = np.mod(lon, 360.0)
    lon360[np.isclose(lon360, 360.0)] = 0.0
    uniq, first = np.unique(lon360, return_index=True)  # sorted; duplicate meridians dropped
    if uniq.size != lon.size or not np.array_equal(first, np.arange(lon.size)):
        ds = ds.isel(lon=first)
    ds = ds.assign_coords(lon=("lon", uniq))
    ds["lat"].attrs = {"standard_name": "latitude", "long_name": "latitude",
                       "units": "degrees_north", "axis": "Y"}  # fmt: skip
    ds["lon"].attrs = {"standard_name": "longitude", "long_name": "longitude",
                       "units": "degrees_east", "axis": "X"}  # fmt: skip
    return ds


def _check_times(ds: xr.Dataset, path: Path) -> tuple[str | None, str | None]:
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


def _check_not_all_nan(ds: xr.Dataset, path: Path) -> None:
    """Cost: reads 3 time steps per variable (first, middle, last); all of it only if those are NaN."""
    n = ds.sizes["time"]
    sample = sorted({0, n // 2, n - 1})
    for name, da in ds.data_vars.items():
        try:
            if not np.isnan(da.isel(time=sample).values).all():
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


def open_cam5(
    paths: str | os.PathLike | Iterable[str | os.PathLike],
    chunks: dict[str, int] | None = None,
    variables: Sequence[str] = ("U850", "V850", "PSL"),
) -> xr.Dataset:
    """Open CAM5 history files as one lazy, validated, standardised dataset.

    Parameters
    ----------
    paths: a file, a directory (all its ``*.nc``), a glob string, or a list of these.
        Files are ordered by their first time stamp; their times must not overlap.
    chunks: dask chunks of the result, by dimension (default ``{"time": 8}``, whole in space).
    variables: canonical names to keep. ``U850``, ``V850`` and ``PSL`` accept common aliases
        (:data:`VARIABLE_ALIASES`); the alias used is logged and recorded in
        ``ds.attrs["hurricane_ode_aliases"]``. Other names are taken verbatim, units unchecked.

    Returns
    -------
    Dataset with the data variables ``variables`` (float32, dims ``(time, lat, lon)``, CF
    ``standard_name``/``units``: U850/V850 m s-1, PSL Pa), coordinates ``time`` (cftime, file
    calendar kept; ``units``/``calendar`` in ``ds.time.encoding``), ``lat`` (ascending) and
    ``lon`` (0..360); every other variable is dropped. Nothing is loaded except a validation
    sample: the coordinates and 3 time steps of each variable per file (the whole variable
    only when those 3 are all NaN, to decide whether it is entirely missing).

    Raises
    ------
    FileNotFoundError: a path or glob matches nothing.
    CAM5FormatError: unreadable/truncated file, missing variable or coordinate, bad or missing
        units, duplicate or unsorted times (within or across files), grids differing between
        files, a variable entirely NaN. The message names the file(s) and variable.
    """
    files = _resolve_paths(paths)
    variables = tuple(variables)
    if not variables:
        raise ValueError("open_cam5: 'variables' must name at least one variable")
    chunk_spec = {"time": 8, "lat": -1, "lon": -1}
    if chunks:
        unknown = set(chunks) - set(chunk_spec)
        if unknown:
            raise ValueError(f"open_cam5: chunks keys must be time/lat/lon, got {sorted(unknown)}")
        chunk_spec.update(chunks)

    aliases_used: dict[str, str] = {}
    parts: list[tuple[Path, xr.Dataset]] = []
    time_units: str | None = None
    calendar: str | None = None
    first_attrs: dict = {}
    for path in files:
        raw = _open_one(path)
        ds = _standardise_coords(raw, path)
        units, cal = _check_times(ds, path)
        ds = _pick_variables(ds, path, variables, aliases_used)
        ds = _standardise_grid(ds, path)
        _check_not_all_nan(ds, path)
        if parts:
            ref_path, ref = parts[0]
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
        parts.append((path, ds))

    parts.sort(key=lambda p: p[1]["time"].values[0])
    for (pa, a), (pb, b) in zip(parts[:-1], parts[1:]):
        last, first = a["time"].values[-1], b["time"].values[0]
        if not first > last:
            raise CAM5FormatError(
                f"times overlap or repeat across files: {pa} ends at {last} but {pb} "
                f"starts at {first}; times must be strictly increasing and unique"
            )

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
        out[name].attrs = dict(CF_ATTRS.get(name, {}))
    out["time"].attrs = {"standard_name": "time", "long_name": "time", "axis": "T"}
    out["time"].encoding = {k: v for k, v in (("units", time_units), ("calendar", calendar)) if v}
    attrs = {
        k: v for k, v in first_attrs.items() if k in ("source", "case", "title", "Conventions")
    }
    attrs["hurricane_ode_files"] = len(parts)
    attrs["hurricane_ode_aliases"] = "; ".join(f"{k}<-{v}" for k, v in aliases_used.items())
    out.attrs = attrs
    return out
