"""Standardisation of one CAM5-like dataset: coordinate names, variables, units and grid.

Private to :mod:`hurricane_ode.data.cam5` (its docstring states the contract); each step also
fills a :class:`FileLayout` so a reader can fetch a basin's hyperslab straight from the file.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hurricane_ode.data.schema import CF_ATTRS, VARIABLE_ALIASES, VARIABLES
from hurricane_ode.errors import CAM5FormatError

logger = logging.getLogger("hurricane_ode.data.cam5")

_COORD_ALIASES: dict[str, tuple[str, ...]] = {
    "lat": ("lat", "latitude", "nav_lat", "LAT", "Latitude"),
    "lon": ("lon", "longitude", "nav_lon", "LON", "Longitude"),
    "time": ("time", "Time"),
}
_UNSTRUCTURED_DIMS = ("ncol", "nCells", "ncells", "cell", "ncells_2d")

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


def clean_values(x: Any, factor: float = 1.0, out: np.ndarray | None = None) -> np.ndarray:
    """Fill values (``|x| >= 1e30``, e.g. CAM's 1e36) -> NaN first, then unit ``factor``; float32.

    Parameters
    ----------
    x
        Raw decoded values (``_FillValue``/``missing_value`` already NaN).
    factor
        Multiplier to SI units (hPa -> Pa: 100).
    out
        ``x`` itself (a float32 array the caller owns) to clean in place.

    Returns
    -------
    numpy.ndarray
        float32 values.
    """
    x = np.asarray(x)
    bad = ~(np.abs(x) < _CAM_FILL_THRESHOLD)  # NaN and inf included
    if out is None:
        out = np.array(x, dtype=np.result_type(x.dtype, np.float32), copy=True)
    out[bad] = np.nan
    if factor != 1.0:
        out *= factor
    return out.astype(np.float32, copy=False)


def _find(names: Sequence[str], pool: Iterable[Hashable]) -> str | None:
    available = set(pool)
    for name in names:
        if name in available:
            return name
    return None


@dataclass
class FileLayout:
    """How one input file maps onto the standardised grid (for direct hyperslab reads).

    ``names``: canonical -> variable name in the file; ``factors``: unit factor to SI;
    ``dims``: canonical (time/lat/lon) -> the file's dimension name; ``lat_index`` /
    ``lon_index``: file index of each standardised lat (ascending) / lon (0..360) point;
    ``start``/``stop``: the file's time steps on the concatenated axis; ``squeeze``: extra
    singleton dimensions, indexed at 0.
    """

    path: Path
    names: dict[str, str] = field(default_factory=dict)
    factors: dict[str, float] = field(default_factory=dict)
    dims: dict[str, str] = field(default_factory=dict)
    lat_index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    lon_index: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    start: int = 0
    stop: int = 0
    squeeze: dict[str, dict[str, int]] = field(default_factory=dict)


def _condense_warnings(caught: list[warnings.WarningMessage], label: str) -> None:
    """Re-emit library warnings raised while opening ``label`` as one log line per kind."""
    groups: dict[tuple[str, str], list[str]] = {}
    for w in caught:
        first = str(w.message).strip().splitlines()[0] if str(w.message).strip() else ""
        key = (w.category.__name__, re.sub(r"'[^']*'|\{[^}]*\}|[-+\d.e]+", "…", first))
        groups.setdefault(key, []).append(first)
    for (category, _), msgs in groups.items():
        more = f" (and {len(msgs) - 1} more like it)" if len(msgs) > 1 else ""
        logger.warning("%s: %s: %s%s", label, category, msgs[0], more)


def _standardise_coords(ds: xr.Dataset, path: Any, layout: FileLayout) -> xr.Dataset:
    unstructured = [d for d in _UNSTRUCTURED_DIMS if d in ds.dims]
    lat_var = _find(_COORD_ALIASES["lat"], ds.variables)
    lon_var = _find(_COORD_ALIASES["lon"], ds.variables)
    if lat_var and lon_var and ds[lat_var].ndim == 1 and ds[lat_var].dims == ds[lon_var].dims:
        if ds[lat_var].dims[0] not in (lat_var, lon_var):
            unstructured.append(str(ds[lat_var].dims[0]))
    if unstructured:
        d = unstructured[0]
        raise CAM5FormatError(
            f"{path}: an unstructured grid (dimension '{d}' of {ds.sizes[d]} columns, lat/lon given "
            "per column, as CAM-SE writes); expected a regular lat-lon grid with 1-D 'lat' and 'lon' "
            "coordinates: remap it first (e.g. ncremap or ESMF_RegridWeightGen)"
        )
    renames: dict[str, str] = {}
    for canonical, names in _COORD_ALIASES.items():
        found = _find(names, [*ds.variables, *ds.dims])
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
        layout.dims[canonical] = str(dim)
        if dim != found:  # e.g. a 'latitude' variable along a 'y' dimension
            ds = ds.swap_dims({dim: found})
        if found != canonical:
            renames[found] = canonical
    return ds.rename(renames) if renames else ds


def _pick_variables(
    ds: xr.Dataset,
    path: Any,
    variables: Sequence[str],
    aliases_used: dict[str, str],
    layout: FileLayout,
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
        layout.names[canonical] = str(found)
        chosen[canonical] = _standardise_variable(ds[found], path, canonical, found, layout)
    return xr.Dataset(chosen)


def _standardise_variable(
    da: xr.DataArray, path: Any, canonical: str, found: str, layout: FileLayout
) -> xr.DataArray:
    extra = [d for d in da.dims if d not in ("time", "lat", "lon")]
    for d in extra:
        if da.sizes[d] != 1:
            raise CAM5FormatError(
                f"{path}: variable '{found}' has extra dimension '{d}' of size {da.sizes[d]}; "
                "expected dims (time, lat, lon)"
            )
    layout.squeeze[canonical] = {str(d): 0 for d in extra}
    da = da.squeeze(extra, drop=True) if extra else da
    missing = [d for d in ("time", "lat", "lon") if d not in da.dims]
    if missing:
        raise CAM5FormatError(
            f"{path}: variable '{found}' lacks dimension(s) {missing}; expected (time, lat, lon), "
            f"got {da.dims}"
        )
    da = da.transpose("time", "lat", "lon")
    da = da.drop_vars([c for c in da.coords if c not in ("time", "lat", "lon")])
    layout.factors[canonical] = 1.0
    if canonical in VARIABLES:
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
            layout.factors[canonical] = factor
            if factor != 1.0:
                logger.info("%s: converting %s from %s to Pa", path, found, units)
        elif key not in _WIND_UNITS and key.lower() not in _WIND_UNITS:
            raise CAM5FormatError(
                f"{path}: variable '{found}' has units {units!r}; expected m/s (m s-1)"
            )
    factor = layout.factors[canonical]
    da = xr.apply_ufunc(clean_values, da, kwargs={"factor": factor}, dask="parallelized",
                        output_dtypes=[np.float32])  # fmt: skip
    da.attrs = dict(CF_ATTRS.get(canonical, {}))
    da.encoding = {}
    return da


def _standardise_grid(ds: xr.Dataset, path: Any, layout: FileLayout) -> xr.Dataset:
    lat = np.asarray(ds["lat"].values, dtype=np.float64)
    lon = np.asarray(ds["lon"].values, dtype=np.float64)
    if lat.size < 2 or lon.size < 2:
        raise CAM5FormatError(f"{path}: lat/lon need at least 2 points, got {lat.size}x{lon.size}")
    if not np.all(np.isfinite(lat)) or np.any(np.abs(lat) > 90.0 + _GRID_TOL):
        raise CAM5FormatError(f"{path}: 'lat' values must be finite and within -90..90 degrees")
    dlat = np.diff(lat)
    layout.lat_index = np.arange(lat.size)
    if np.all(dlat < 0):
        ds = ds.isel(lat=slice(None, None, -1))
        layout.lat_index = layout.lat_index[::-1].copy()
    elif not np.all(dlat > 0):
        raise CAM5FormatError(f"{path}: 'lat' must be strictly monotonic")
    if not np.all(np.isfinite(lon)):
        raise CAM5FormatError(f"{path}: 'lon' values must be finite")
    lon360 = np.mod(lon, 360.0)
    lon360[np.isclose(lon360, 360.0)] = 0.0
    uniq, first = np.unique(lon360, return_index=True)  # sorted; duplicate meridians dropped
    if uniq.size != lon.size or not np.array_equal(first, np.arange(lon.size)):
        ds = ds.isel(lon=first)
    layout.lon_index = np.asarray(first, dtype=np.int64)
    ds = ds.assign_coords(lon=("lon", uniq))
    ds["lat"].attrs = {"standard_name": "latitude", "long_name": "latitude",
                       "units": "degrees_north", "axis": "Y"}  # fmt: skip
    ds["lon"].attrs = {"standard_name": "longitude", "long_name": "longitude",
                       "units": "degrees_east", "axis": "X"}  # fmt: skip
    return ds
