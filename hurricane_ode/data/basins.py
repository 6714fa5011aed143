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

Regridding (``shape=(H, W)``) is first-order conservative on the sphere: each target cell is the
area-weighted mean of the source cells it overlaps (weights: overlap in ``sin(lat)`` times overlap
in longitude; separable, so it is two small dense matrices applied with :func:`xarray.dot`).
When the source grid divides the target grid this is exactly area-weighted block averaging;
otherwise cells are split by their overlap fraction. Area means (and hence the area-integrated
pressure deficit of a cyclone) are preserved. The *depth* of a point minimum is not: a
coarse cell averages the vortex core with its surroundings. For a Gaussian pressure dip of
e-folding radius ``sigma`` and square cells ``a`` degrees wide, the retained fraction of the
central deficit is ``F(a/2)**2`` when the centre sits mid-cell and ``F(a)**2`` in the worst case
(centre on a cell corner), with ``F(x) = sqrt(pi/2) (sigma/x) erf(x / (sqrt(2) sigma))``:
for sigma = 2 deg and a = 2.5 deg that is 88 % and 63 %. The minimum never deepens and stays
in a cell touching the true centre. tests/data/test_basins.py checks these numbers on a
synthetic vortex. Choose ``shape`` so that cells stay well below the vortex radius if the
central pressure matters (CAM5 at 0.25 deg -> 128 x 128 tiles gives 0.47 x 1.25 deg cells).
We keep PSL conservative (no min-preserving special case) so that wind and
pressure remain consistent averages of the same area, which is what the model learns from.
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
import yaml

__all__ = [
    "Basin",
    "load_basins",
    "basin_names",
    "partitions",
    "get_basin",
    "tile_basin",
    "conservative_weights",
]

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
                raise ValueError(
                    f"basin '{self.name}': {field_name} must be a finite number, got {value!r}"
                )
        if not -90.0 <= self.lat_min < self.lat_max <= 90.0:
            raise ValueError(
                f"basin '{self.name}': need -90 <= lat_min < lat_max <= 90, "
                f"got lat_min={self.lat_min}, lat_max={self.lat_max}"
            )
        if not self.lon_min < self.lon_max <= self.lon_min + 360.0:
            raise ValueError(
                f"basin '{self.name}': need lon_min < lon_max <= lon_min + 360, "
                f"got lon_min={self.lon_min}, lon_max={self.lon_max}"
            )
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError(
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
        for shift in (-360.0, 0.0, 360.0):
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
    if not p.exists():
        raise FileNotFoundError(f"basins file not found: {p}")
    try:
        raw = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"basins file {p} is not valid YAML: {exc}") from exc
    if not isinstance(raw.get("basins"), dict):
        raise ValueError(
            f"basins file {p}: expected a top-level mapping 'basins: {{name: {{...}}}}'"
        )
    basins: dict[str, Basin] = {}
    for name, spec in raw["basins"].items():
        try:
            basins[name] = Basin(name=str(name), **spec)
        except TypeError as exc:
            raise ValueError(f"basins file {p}, basin '{name}': {exc}") from exc
    parts: dict[str, tuple[str, ...]] = {}
    for pname, members in (raw.get("partitions") or {}).items():
        unknown = [m for m in members if m not in basins]
        if unknown:
            raise ValueError(f"basins file {p}, partition '{pname}': unknown basin(s) {unknown}")
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
    """Resolve a basin: a name (``"natl"``), ``"bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX"``, a 4-tuple
    ``(lat_min, lat_max, lon_min, lon_max)`` or a :class:`Basin` (returned as is).

    Custom boxes are named ``bbox_<bounds>`` (``-`` -> ``m``, ``.`` -> ``p``), usable as a Zarr
    group name. Unknown names raise ``ValueError`` listing the known basins.
    """
    if isinstance(spec, Basin):
        return spec
    if isinstance(spec, str):
        match = _BBOX_RE.match(spec)
        if match is None:
            known = load_basins()
            if spec in known:
                return known[spec]
            raise ValueError(
                f"unknown basin {spec!r}; known basins: {', '.join(known)} "
                "(or give a box as 'bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX')"
            )
        parts = [s for s in re.split(r"[,\s]+", match.group(1).strip()) if s]
        try:
            values = [float(s) for s in parts]
        except ValueError:
            values = []
        if len(values) != 4:
            raise ValueError(
                f"bad basin box {spec!r}: expected 'bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX' (4 numbers)"
            )
        spec = values
    try:
        values = [float(v) for v in spec]  # type: ignore[union-attr]
    except (TypeError, ValueError):
        values = []
    if len(values) != 4:
        raise ValueError(
            f"basin must be a name, 'bbox:...' string or (lat_min, lat_max, lon_min, lon_max), got {spec!r}"
        )
    return Basin(_bbox_name(*values), *values, description="custom box")


# --------------------------------------------------------------------------- tiling


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges from monotonically increasing centres (midpoints; ends extrapolated)."""
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def conservative_weights(src_edges: np.ndarray, dst_edges: np.ndarray) -> np.ndarray:
    """Row-normalised overlap matrix ``[n_dst, n_src]`` between two 1-D sets of cell edges.

    ``W[i, j]`` is the fraction of target cell ``i`` covered by source cell ``j`` (rows sum to 1
    where the target is covered). Pass ``sin(lat)`` edges for latitude to weight by area.
    """
    s_lo, s_hi = src_edges[:-1], src_edges[1:]
    d_lo, d_hi = dst_edges[:-1, None], dst_edges[1:, None]
    overlap = np.clip(np.minimum(d_hi, s_hi) - np.maximum(d_lo, s_lo), 0.0, None)
    total = overlap.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("conservative_weights: some target cells overlap no source cell")
    return overlap / total


def _check_grid(ds: xr.Dataset) -> None:
    for dim in ("lat", "lon"):
        if dim not in ds.coords or ds[dim].ndim != 1 or ds[dim].dims != (dim,):
            raise ValueError(
                f"tile_basin: dataset needs a 1-D coordinate '{dim}' along dimension '{dim}' "
                f"(a regular lat/lon grid as returned by open_cam5); got coords {list(ds.coords)}"
            )
        if ds.sizes[dim] < 2:
            raise ValueError(f"tile_basin: dataset has fewer than 2 points along '{dim}'")


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
        raise ValueError(f"no grid longitudes in [{lo}, {hi})")
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
        raise ValueError(f"no grid latitudes in [{lo}, {hi})")
    return ds.isel(lat=slice(int(idx[0]), int(idx[-1]) + 1))


def tile_basin(
    ds: xr.Dataset, basin: str | Basin | Sequence[float], shape: tuple[int, int] | None = None
) -> xr.Dataset:
    """Cut the basin's sub-image out of a (time, lat, lon) dataset; optionally regrid it.

    ``ds``: lat ascending or descending, lon in any convention (0..360, -180..180), regular
    grid. Returns a lazy dataset (dask stays dask) with ``lat`` ascending and ``lon``
    continuous on the basin's axis (see module docstring), time untouched, variable and
    global attributes kept, plus global attrs ``basin`` and ``basin_bounds``.

    ``shape=(H, W)`` regrids conservatively to exactly ``H x W`` equal cells spanning the box
    (cell centres ``lat_min + (i + 0.5) * 60 / H`` ...). Data variables with both ``lat`` and
    ``lon`` keep their dtype. Raises ``ValueError`` when the data do not cover the box.
    """
    b = get_basin(basin)
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"tile_basin: expected an xarray.Dataset, got {type(ds).__name__}")
    _check_grid(ds)
    if ds["lat"].values[0] > ds["lat"].values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    lat = ds["lat"].values.astype(np.float64)
    lon = ds["lon"].values.astype(np.float64)
    if np.any(np.diff(lat) <= 0):
        raise ValueError("tile_basin: 'lat' must be strictly monotonic")
    lat_edges = np.clip(_edges(lat), -90.0, 90.0)
    lon_step = float(np.max(np.diff(np.sort(lon))))
    lat_step = float(np.max(np.diff(lat)))

    glob = _lon_is_global(lon)
    extent = (
        f"data extent lat {lat_edges[0]:g}..{lat_edges[-1]:g}, lon {lon.min():g}..{lon.max():g}"
    )
    if b.lat_min < lat_edges[0] - _EPS or b.lat_max > lat_edges[-1] + _EPS:
        raise ValueError(f"basin '{b.name}' {b.bounds} is not covered by the data ({extent})")

    if shape is None:
        lat_pad = lon_pad = 0.0
    else:
        lat_pad = lat_step
        lon_pad = min(lon_step, (360.0 - b.lon_span) / 2.0)
    try:
        sub = _select_lat(ds, b.lat_min - lat_pad, b.lat_max + lat_pad)
        sub = _select_lon(sub, b.lon_min - lon_pad, b.lon_max + lon_pad)
    except ValueError as exc:
        raise ValueError(f"basin '{b.name}' {b.bounds}: {exc} ({extent})") from exc
    if not glob:
        sl = _edges(sub["lon"].values)
        if (
            sl[0] > b.lon_min + _EPS
            or sl[-1] < b.lon_max - _EPS
            or np.any(np.diff(sub["lon"].values) > 1.5 * lon_step)
        ):
            raise ValueError(f"basin '{b.name}' {b.bounds} is not covered by the data ({extent})")

    attrs = dict(ds.attrs)
    attrs["basin"] = b.name
    attrs["basin_bounds"] = [b.lat_min, b.lat_max, b.lon_min, b.lon_max]
    if shape is None:
        sub.attrs = attrs
        return sub

    h, w = (int(s) for s in shape)
    if h < 1 or w < 1 or len(tuple(shape)) != 2:
        raise ValueError(f"tile_basin: shape must be two positive integers (H, W), got {shape!r}")
    src_lat_edges = np.clip(_edges(sub["lat"].values), -90.0, 90.0)
    src_lon_edges = _edges(sub["lon"].values)
    dst_lat_edges = np.linspace(b.lat_min, b.lat_max, h + 1)
    dst_lon_edges = np.linspace(b.lon_min, b.lon_max, w + 1)
    w_lat = conservative_weights(
        np.sin(np.deg2rad(src_lat_edges)), np.sin(np.deg2rad(dst_lat_edges))
    )
    w_lon = conservative_weights(src_lon_edges, dst_lon_edges)
    wlat = xr.DataArray(w_lat, dims=("lat_out", "lat"))
    wlon = xr.DataArray(w_lon, dims=("lon_out", "lon"))

    out_vars = {}
    for name, var in sub.data_vars.items():
        has = ("lat" in var.dims, "lon" in var.dims)
        if not any(has):
            out_vars[name] = var
            continue
        if not all(has):
            raise ValueError(
                f"tile_basin: variable '{name}' has dims {var.dims}; regridding needs both lat and lon"
            )
        order = [d if d not in ("lat", "lon") else f"{d}_out" for d in var.dims]
        data = var.astype(np.float64) if var.dtype != np.float64 else var
        # two matrix products (not one 3-operand einsum, which numpy would evaluate naively)
        res = xr.dot(xr.dot(data, wlon, dim="lon"), wlat, dim="lat").transpose(*order)
        res = res.astype(var.dtype) if np.issubdtype(var.dtype, np.floating) else res
        res.attrs = dict(var.attrs)
        res.encoding = {}
        out_vars[name] = res.rename({"lat_out": "lat", "lon_out": "lon"})

    coords = {k: v for k, v in sub.coords.items() if "lat" not in v.dims and "lon" not in v.dims}
    coords["lat"] = xr.DataArray(
        0.5 * (dst_lat_edges[1:] + dst_lat_edges[:-1]), dims="lat", attrs=ds["lat"].attrs
    )
    coords["lon"] = xr.DataArray(
        0.5 * (dst_lon_edges[1:] + dst_lon_edges[:-1]), dims="lon", attrs=ds["lon"].attrs
    )
    out = xr.Dataset(out_vars, coords=coords, attrs=attrs)
    out.attrs["regrid_method"] = "first-order conservative (area-weighted overlap means)"
    out.attrs["regrid_source_resolution"] = [lat_step, lon_step]
    return out
