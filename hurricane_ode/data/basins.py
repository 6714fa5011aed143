"""Ocean-basin boxes and basin tiling of global (time, lat, lon) fields.

Basins are 60 x 160 degree boxes (the sub-image size of the Vid-ODE paper, sec. 4.1),
read from ``hurricane_ode/resources/basins.yaml`` (a byte-identical copy lives in
``data_catalog/basins.yaml``; the comments there explain every bound). The set contains a
*partition* (``paper``: wpac, natl, sio, spac) of pairwise non-overlapping boxes, as in the
paper, plus basin-centred boxes (epac, nio) that overlap the partition.

Longitude convention: a :class:`Basin` lives on a continuous axis (``lon_min < lon_max``,
``lon_max`` may exceed 360 or ``lon_min`` be negative). :func:`tile_basin` returns a tile whose
``lon`` runs monotonically over exactly that range (natl: 240 .. 400, nio: -10 .. 150),
whatever the input's convention (0..360 or -180..180); wrap-around is a lazy concatenation of
at most two slices of the source, so dask arrays stay lazy.

A grid cell belongs to a box when its centre lies in ``[lat_min, lat_max) x [lon_min, lon_max)``.

Tiles are at the data's native resolution unless ``shape``/``resolution`` coarsens them on
purpose: conservatively and NaN-aware (:mod:`hurricane_ode.data.regrid`, which also states how
much of a vortex's central depth a given cell size keeps).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import xarray as xr

from hurricane_ode._yaml import read_yaml
from hurricane_ode.data.regrid import (
    MIN_VALID_FRACTION,
    basin_weights,
    cell_edges,
    conservative_weights,
    regrid_block,
)
from hurricane_ode.errors import InputError, InputTypeError

__all__ = [
    "Basin", "load_basins", "basin_names", "partitions", "get_basin", "tile_basin", "conservative_weights",
]  # fmt: skip

_EPS = 1e-6
_BBOX_RE = re.compile(r"^\s*bbox\s*:\s*(.+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Basin:
    """A lat/lon box on a continuous longitude axis (degrees north / degrees east).

    ``lon_max`` may exceed 360 or ``lon_min`` be negative to cross the prime meridian; the span
    ``lon_max - lon_min`` is at most 360.
    """

    name: str
    lat_min: float
    lat_max: float
    lon_min: float
    lon_max: float
    description: str = ""

    def __post_init__(self) -> None:
        for field_name in ("lat_min", "lat_max", "lon_min", "lon_max"):
            value = getattr(self, field_name)
            if not isinstance(value, int | float) or not np.isfinite(value):
                raise InputError(
                    f"basin '{self.name}': {field_name} must be a finite number, got {value!r}"
                )
        if not -90.0 <= self.lat_min < self.lat_max <= 90.0:
            raise InputError(
                f"basin '{self.name}': need -90 <= lat_min < lat_max <= 90, "
                f"got lat_min={self.lat_min}, lat_max={self.lat_max}"
            )
        if self.lon_min + 360.0 < self.lon_max <= self.lon_min + 360.0 + 1e-9:
            # a whole-circle box whose ends went through float arithmetic (e.g. shifted by 360)
            object.__setattr__(self, "lon_max", self.lon_min + 360.0)
        if not self.lon_min < self.lon_max <= self.lon_min + 360.0:
            raise InputError(
                f"basin '{self.name}': need lon_min < lon_max <= lon_min + 360, "
                f"got lon_min={self.lon_min}, lon_max={self.lon_max}"
            )
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise InputError(
                f"basin name {self.name!r} may only contain letters, digits, '_', '-', '.'"
            )

    @property
    def lat_span(self) -> float:
        return self.lat_max - self.lat_min

    @property
    def lon_span(self) -> float:
        return self.lon_max - self.lon_min

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(lat_min, lat_max, lon_min, lon_max)``."""
        return (self.lat_min, self.lat_max, self.lon_min, self.lon_max)

    def overlaps(self, other: Basin) -> bool:
        """True when the two boxes share a region of non-zero area (longitude taken modulo 360)."""
        if min(self.lat_max, other.lat_max) - max(self.lat_min, other.lat_min) <= _EPS:
            return False
        base = 360.0 * round((self.lon_min - other.lon_min) / 360.0)  # any whole-turn offset
        for shift in (base - 360.0, base, base + 360.0):
            lo = max(self.lon_min, other.lon_min + shift)
            hi = min(self.lon_max, other.lon_max + shift)
            if hi - lo > _EPS:
                return True
        return False


def _bundled_yaml() -> Path:
    return Path(str(resources.files("hurricane_ode") / "resources" / "basins.yaml"))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> tuple[dict[str, Basin], dict[str, tuple[str, ...]]]:
    p = Path(path)
    raw = read_yaml(p, "basins file", InputError)
    if not isinstance(raw.get("basins"), dict):
        raise InputError(
            f"basins file {p}: expected a top-level mapping 'basins: {{name: {{...}}}}'"
        )
    basins: dict[str, Basin] = {}
    for name, spec in raw["basins"].items():
        try:
            basins[name] = Basin(name=str(name), **spec)
        except TypeError as exc:
            raise InputError(f"basins file {p}, basin '{name}': {exc}") from exc
    parts: dict[str, tuple[str, ...]] = {}
    for pname, members in (raw.get("partitions") or {}).items():
        unknown = [m for m in members if m not in basins]
        if unknown:
            raise InputError(f"basins file {p}, partition '{pname}': unknown basin(s) {unknown}")
        parts[str(pname)] = tuple(members)
    return basins, parts


def load_basins(path: str | Path | None = None) -> dict[str, Basin]:
    """Named basins from ``path`` (default: the bundled ``basins.yaml``)."""
    return dict(_load(str(path or _bundled_yaml()))[0])


def basin_names() -> list[str]:
    """Names of the bundled basins."""
    return list(load_basins())


def partitions(path: str | Path | None = None) -> dict[str, tuple[str, ...]]:
    """Named sets of pairwise non-overlapping basins (``paper``: wpac, natl, sio, spac)."""
    return dict(_load(str(path or _bundled_yaml()))[1])


def _bbox_name(lat_min: float, lat_max: float, lon_min: float, lon_max: float) -> str:
    def fmt(x: float) -> str:
        return f"{x:g}".replace("-", "m").replace(".", "p")

    return "bbox_" + "_".join(fmt(v) for v in (lat_min, lat_max, lon_min, lon_max))


def get_basin(spec: str | Basin | Sequence[float]) -> Basin:
    """Resolve a basin.

    Parameters
    ----------
    spec : a name (``"natl"``), ``"bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX"``, a 4-tuple
        ``(lat_min, lat_max, lon_min, lon_max)`` or a :class:`Basin` (returned as is).

    Returns
    -------
    Basin
        Custom boxes are named ``bbox_<bounds>`` (``-`` -> ``m``, ``.`` -> ``p``), usable as a
        Zarr group name. Unknown names raise ``ValueError`` listing the known basins.
    """
    if isinstance(spec, Basin):
        return spec
    if isinstance(spec, str):
        match = _BBOX_RE.match(spec)
        if match is None:
            known = load_basins()
            if spec in known:
                return known[spec]
            raise InputError(
                f"unknown basin {spec!r}; known basins: {', '.join(known)} "
                "(or give a box as 'bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX')"
            )
        parts = [s for s in re.split(r"[,\s]+", match.group(1).strip()) if s]
        try:
            values = [float(s) for s in parts]
        except ValueError:
            values = []
        if len(values) != 4:
            raise InputError(
                f"bad basin box {spec!r}: expected 'bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX' (4 numbers)"
            )
        spec = values
    try:
        values = [float(v) for v in spec]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4:
        raise InputError(
            f"basin must be a name, 'bbox:...' string or (lat_min, lat_max, lon_min, lon_max), got {spec!r}"
        )
    lat_min, lat_max, lon_min, lon_max = values
    return Basin(_bbox_name(*values), lat_min, lat_max, lon_min, lon_max, description="custom box")


def _check_grid(ds: xr.Dataset) -> None:
    for dim in ("lat", "lon"):
        if dim not in ds.coords or ds[dim].ndim != 1 or ds[dim].dims != (dim,):
            raise InputError(
                f"tile_basin: dataset needs a 1-D coordinate '{dim}' along dimension '{dim}' "
                f"(a regular lat/lon grid as returned by open_cam5); got coords {list(ds.coords)}"
            )
        if ds.sizes[dim] < 2:
            raise InputError(f"tile_basin: dataset has fewer than 2 points along '{dim}'")


def _lon_is_global(lon: np.ndarray) -> bool:
    lon = np.sort(np.mod(lon, 360.0))
    step = np.median(np.diff(lon))
    return abs(lon.size * step - 360.0) < 0.5 * step


def _select_lon(ds: xr.Dataset, lo: float, hi: float) -> xr.Dataset:
    """Cells with centres in ``[lo, hi)`` on the continuous axis starting at ``lo``, sorted,
    relabelled with continuous longitudes; lazy (at most a few contiguous slices)."""
    lon = ds["lon"].values.astype(np.float64)
    mapped = lon - 360.0 * np.floor((lon - lo + _EPS) / 360.0)  # exact whole-turn shifts
    (idx,) = np.nonzero(mapped < hi - _EPS)
    if idx.size == 0:
        raise InputError(f"no grid longitudes in [{lo}, {hi})")
    idx = idx[np.argsort(mapped[idx], kind="stable")]
    breaks = np.nonzero(np.diff(idx) != 1)[0] + 1
    runs = np.split(idx, breaks)
    pieces = [ds.isel(lon=slice(int(r[0]), int(r[-1]) + 1)) for r in runs]
    out = (
        pieces[0]
        if len(pieces) == 1
        else xr.concat(
            pieces,
            dim="lon",
            data_vars="minimal",
            coords="minimal",
            compat="override",
            join="override",
        )
    )
    new_lon = xr.DataArray(mapped[idx], dims="lon", attrs=ds["lon"].attrs)
    return out.assign_coords(lon=new_lon)


def _select_lat(ds: xr.Dataset, lo: float, hi: float) -> xr.Dataset:
    lat = ds["lat"].values
    (idx,) = np.nonzero((lat >= lo - _EPS) & (lat < hi - _EPS))
    if idx.size == 0:
        raise InputError(f"no grid latitudes in [{lo}, {hi})")
    return ds.isel(lat=slice(int(idx[0]), int(idx[-1]) + 1))


def _shape_for(b: Basin, shape: Sequence[int] | None, resolution: float | None) -> tuple[int, int] | None:
    if shape is not None and resolution is not None:
        raise InputError("tile_basin: give shape or resolution, not both")
    if resolution is not None:
        if not (isinstance(resolution, int | float) and np.isfinite(resolution) and resolution > 0):
            raise InputError(f"tile_basin: resolution must be a positive number of degrees, got {resolution!r}")
        return max(1, round(b.lat_span / resolution)), max(1, round(b.lon_span / resolution))
    if shape is None:
        return None
    dims = tuple(shape)
    if len(dims) != 2 or any(int(s) != s or s < 1 for s in dims):
        raise InputError(f"tile_basin: shape must be two positive integers (H, W), got {shape!r}")
    return int(dims[0]), int(dims[1])


def tile_basin(
    ds: xr.Dataset,
    basin: str | Basin | Sequence[float],
    shape: tuple[int, int] | None = None,
    resolution: float | None = None,
    min_valid_fraction: float = MIN_VALID_FRACTION,
) -> xr.Dataset:
    """Cut the basin's sub-image out of a (time, lat, lon) dataset; optionally coarsen it.

    Parameters
    ----------
    ds
        lat ascending or descending, lon in any convention (0..360, -180..180), regular grid.
    basin
        Name, ``"bbox:..."`` string, 4-tuple or :class:`Basin`.
    shape
        ``(H, W)``: regrid conservatively (NaN-aware, :mod:`hurricane_ode.data.regrid`) to exactly
        ``H x W`` equal cells spanning the box (centres ``lat_min + (i + 0.5) * span / H`` ...).
        ``None`` (default): the data's native resolution.
    resolution
        Alternative to ``shape``: target cell size in degrees (``shape = span / resolution``).
    min_valid_fraction
        A coarse cell needs this share of its area valid, else it is NaN.

    Returns
    -------
    xarray.Dataset
        Lazy (dask stays dask), ``lat`` ascending and ``lon`` continuous on the basin's axis (see
        module docstring), time untouched, variable and global attributes kept, plus global
        attrs ``basin`` and ``basin_bounds``. Data variables keep their dtype.

    Raises
    ------
    ValueError
        The data do not cover the box, or a bad shape/resolution.
    """
    b = get_basin(basin)
    if not isinstance(ds, xr.Dataset):
        raise InputTypeError(f"tile_basin: expected an xarray.Dataset, got {type(ds).__name__}")
    shape = _shape_for(b, shape, resolution)
    _check_grid(ds)
    sub, attrs, steps = _cut(ds, b, padded=shape is not None)
    if shape is None:
        sub.attrs = attrs
        return sub
    w_lat, w_lon, lat_c, lon_c = basin_weights(sub["lat"].values, sub["lon"].values, b.bounds, shape)
    out_vars = {}
    for name, var in sub.data_vars.items():
        has = ("lat" in var.dims, "lon" in var.dims)
        if not any(has):
            out_vars[name] = var
            continue
        if not all(has):
            raise InputError(
                f"tile_basin: variable '{name}' has dims {var.dims}; regridding needs both lat and lon"
            )
        if var.chunks is not None:  # wrap-around: two lon pieces -> one chunk in space
            var = var.chunk({"lat": -1, "lon": -1})
        res = xr.apply_ufunc(
            regrid_block, var, input_core_dims=[["lat", "lon"]], output_core_dims=[["lat_out", "lon_out"]],
            kwargs={"w_lat": w_lat, "w_lon": w_lon, "min_valid_fraction": min_valid_fraction},
            dask="parallelized", output_dtypes=[var.dtype if np.issubdtype(var.dtype, np.floating) else np.float64],
            dask_gufunc_kwargs={"output_sizes": {"lat_out": shape[0], "lon_out": shape[1]}},
        )  # fmt: skip
        order = [d if d not in ("lat", "lon") else f"{d}_out" for d in var.dims]
        res = res.transpose(*order)
        res.attrs = dict(var.attrs)
        res.encoding = {}
        out_vars[name] = res.rename({"lat_out": "lat", "lon_out": "lon"})
    coords = {k: v for k, v in sub.coords.items() if "lat" not in v.dims and "lon" not in v.dims}
    coords["lat"] = xr.DataArray(lat_c, dims="lat", attrs=ds["lat"].attrs)
    coords["lon"] = xr.DataArray(lon_c, dims="lon", attrs=ds["lon"].attrs)
    out = xr.Dataset(out_vars, coords=coords, attrs=attrs)
    out.attrs["regrid_method"] = (
        "first-order conservative (area-weighted means of valid cells; "
        f"missing when under {min_valid_fraction:g} of the area is valid)"
    )
    out.attrs["regrid_source_resolution"] = list(steps)
    return out


def _cut(ds: xr.Dataset, b: Basin, padded: bool) -> tuple[xr.Dataset, dict, tuple[float, float]]:
    """The box's cells (one extra source cell each side when ``padded``), attrs, source steps."""
    if ds["lat"].values[0] > ds["lat"].values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    lat = ds["lat"].values.astype(np.float64)
    lon = ds["lon"].values.astype(np.float64)
    if np.any(np.diff(lat) <= 0):
        raise InputError("tile_basin: 'lat' must be strictly monotonic")
    lat_edges = np.clip(cell_edges(lat), -90.0, 90.0)
    lon_step = float(np.max(np.diff(np.sort(lon))))
    lat_step = float(np.max(np.diff(lat)))
    glob = _lon_is_global(lon)
    extent = (
        f"data extent lat {lat_edges[0]:g}..{lat_edges[-1]:g}, lon {lon.min():g}..{lon.max():g}"
    )
    if b.lat_min < lat_edges[0] - _EPS or b.lat_max > lat_edges[-1] + _EPS:
        raise InputError(f"basin '{b.name}' {b.bounds} is not covered by the data ({extent})")
    lat_pad = lat_step if padded else 0.0
    lon_pad = min(lon_step, (360.0 - b.lon_span) / 2.0) if padded else 0.0
    try:
        sub = _select_lat(ds, b.lat_min - lat_pad, b.lat_max + lat_pad)
        sub = _select_lon(sub, b.lon_min - lon_pad, b.lon_max + lon_pad)
    except ValueError as exc:
        raise InputError(f"basin '{b.name}' {b.bounds}: {exc} ({extent})") from exc
    if not glob:
        sl = cell_edges(sub["lon"].values)
        if (
            sl[0] > b.lon_min + _EPS
            or sl[-1] < b.lon_max - _EPS
            or np.any(np.diff(sub["lon"].values) > 1.5 * lon_step)
        ):
            raise InputError(f"basin '{b.name}' {b.bounds} is not covered by the data ({extent})")
    attrs = dict(ds.attrs)
    attrs["basin"] = b.name
    attrs["basin_bounds"] = [b.lat_min, b.lat_max, b.lon_min, b.lon_max]
    return sub, attrs, (lat_step, lon_step)
