"""Map-drawing helpers shared by :mod:`hurricane_ode.plotting.maps`: the lat/lon box on a
continuous longitude axis, pre-projected coastlines, cheap tick labels, arrows, tracks,
zoom (region / storm)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hurricane_ode.data.schema import VARIABLES, check_variables
from hurricane_ode.errors import InputError, InputTypeError
from hurricane_ode.plotting.coastlines import coastline_feature, require_cartopy, scale_for_extent
from hurricane_ode.timeutil import time_key

_VARS = VARIABLES
_KEY_SPEEDS = (1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100)
_ARROWS_ALONG_LONG_SIDE = 22
_PSL_CMAP = "YlGnBu_r"
_ERR_CMAP = "RdBu_r"
_TRACK_COLUMNS = ("time", "lat", "lon")

# --------------------------------------------------------------------------- helpers


def _check_vars(ds: xr.Dataset, what: str) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise InputTypeError(f"{what}: expected an xarray.Dataset, got {type(ds).__name__}")
    check_variables(ds, what, _VARS)
    if ds.sizes["lat"] < 2 or ds.sizes["lon"] < 2:
        raise InputError(f"{what}: need at least 2 points along lat and lon, got {dict(ds.sizes)}")
    if ds["lat"].values[0] > ds["lat"].values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    return ds


def _time_label(t: Any) -> str:
    return time_key(t)[:16].replace("T", " ")


class _Box:
    """A lat/lon box on a continuous longitude axis and its PlateCarree(centre) projection."""

    def __init__(self, lat_min: float, lat_max: float, lon_min: float, lon_max: float) -> None:
        self.lat_min, self.lat_max = float(lat_min), float(lat_max)
        self.lon_min, self.lon_max = float(lon_min), float(lon_max)
        if self.lon_max - self.lon_min > 360.0 + 1e-6:
            raise InputError(f"longitude span {self.lon_min}..{self.lon_max} exceeds 360 degrees")
        self.centre = 0.5 * (self.lon_min + self.lon_max)
        ccrs = require_cartopy().crs
        self.proj = ccrs.PlateCarree(central_longitude=self.centre)

    @classmethod
    def of(cls, ds: xr.Dataset) -> _Box:
        lat, lon = ds["lat"].values.astype(float), ds["lon"].values.astype(float)
        if np.any(np.diff(lon) <= 0):
            raise InputError(
                "lon must be strictly increasing on a continuous axis (e.g. 240..400 for natl); "
                f"got {lon.min():g}..{lon.max():g} non-monotonic"
            )
        dlat, dlon = abs(lat[1] - lat[0]), lon[1] - lon[0]
        return cls(
            max(lat.min() - dlat / 2, -90.0), min(lat.max() + dlat / 2, 90.0),
            lon.min() - dlon / 2, lon.max() + dlon / 2,
        )

    def x(self, lon: Any) -> np.ndarray:
        """Map-x (degrees from the centre, in -180..180) of longitudes in any convention."""
        return np.mod(np.asarray(lon, dtype=float) - self.centre + 180.0, 360.0) - 180.0

    @property
    def extent(self) -> list[float]:
        half = min(0.5 * (self.lon_max - self.lon_min), 179.999)
        return [-half, half, self.lat_min, self.lat_max]


def _arrow_scale(speeds: np.ndarray, spacing_in: float) -> tuple[float, float]:
    """(quiver scale in m s-1 per inch, key speed): the strongest wind gets an arrow ~1.3
    arrow spacings long (arrows never pile up); the key is a round speed near half of it."""
    finite = np.abs(speeds[np.isfinite(speeds)])
    top = float(finite.max()) if finite.size else 1.0
    top = max(top, 0.5)
    key = max([s for s in _KEY_SPEEDS if s <= max(top / 2.0, 1.0)])
    return top / (1.3 * spacing_in), float(key)


def _auto_stride(ds: xr.Dataset) -> int:
    return max(1, math.ceil(max(ds.sizes["lat"], ds.sizes["lon"]) / _ARROWS_ALONG_LONG_SIDE))


def _psl_levels(vmin: float, vmax: float) -> np.ndarray:
    step = 2.0 if vmax - vmin <= 30 else 4.0 if vmax - vmin <= 60 else 8.0
    return np.arange(math.floor(vmin / step) * step, vmax + step, step)


def _coast_segments(box: _Box) -> list[np.ndarray]:
    """Coastlines inside the box, projected once into the map's coordinates (x = lon - centre).

    Projecting per panel through a cartopy Feature costs seconds per panel; one projection
    per figure and a plain LineCollection per panel cost milliseconds.
    """
    import shapely.geometry as sgeom

    scale = scale_for_extent(box.lon_max - box.lon_min, box.lat_max - box.lat_min)
    feature = coastline_feature(scale)
    pad = 2.0
    segs: list[np.ndarray] = []
    for shift in (-360.0, 0.0, 360.0):  # the box's continuous longitudes vs the file's -180..180
        clip = sgeom.box(box.lon_min - pad + shift, box.lat_min - pad, box.lon_max + pad + shift,
                         box.lat_max + pad)
        if clip.bounds[2] < -180 or clip.bounds[0] > 180:
            continue
        for geom in feature.geometries():
            if not geom.intersects(clip):
                continue
            part = geom.intersection(clip)
            lines = getattr(part, "geoms", [part])
            for line in lines:
                if line.is_empty or not hasattr(line, "coords"):
                    continue
                xy = np.asarray(line.coords, dtype=float)
                if len(xy) > 1:
                    segs.append(np.column_stack([box.x(xy[:, 0]), xy[:, 1]]))
    return segs


def _lon_label(lon: float) -> str:
    lon = (lon + 180.0) % 360.0 - 180.0
    return "0°" if abs(lon) < 1e-9 else f"{abs(lon):g}°{'E' if lon > 0 else 'W'}" if abs(lon) < 180 else "180°"


def _lat_label(lat: float) -> str:
    return "0°" if abs(lat) < 1e-9 else f"{abs(lat):g}°{'N' if lat > 0 else 'S'}"


def _style_axes(ax: Any, box: _Box, coastlines: bool, labels: tuple[bool, bool] = (True, True),
                coast: list[np.ndarray] | None = None) -> None:
    """Extent, coastlines (pre-projected segments or the Feature) and cheap tick labels."""
    from matplotlib.collections import LineCollection

    ax.set_extent(box.extent, crs=box.proj)
    if coastlines:
        segs = coast if coast is not None else _coast_segments(box)
        ax.add_collection(LineCollection(segs, colors="k", linewidths=0.7, zorder=3))
    span = box.lon_max - box.lon_min
    step = 5 if span <= 30 else 10 if span <= 60 else 20 if span <= 180 else 40
    lons = np.arange(math.ceil(box.lon_min / step) * step, box.lon_max + 1e-9, step)
    lat_step = 10 if box.lat_max - box.lat_min > 20 else 5
    lats = np.arange(math.ceil(box.lat_min / lat_step) * lat_step, box.lat_max + 1e-9, lat_step)
    ax.set_xticks(box.x(lons))
    ax.set_xticklabels([_lon_label(v) for v in lons] if labels[0] else [], fontsize=7)
    ax.set_yticks(lats)
    ax.set_yticklabels([_lat_label(v) for v in lats] if labels[1] else [], fontsize=7)
    ax.tick_params(length=2, pad=1)
    ax.grid(True, linewidth=0.4, color="0.4", alpha=0.5, linestyle="--")


def _frame(ds: xr.Dataset, time: Any) -> xr.Dataset:
    if isinstance(time, (int, np.integer)):
        n = ds.sizes["time"]
        if not -n <= int(time) < n:
            raise InputError(f"time index {time} out of range for {n} time(s)")
        return ds.isel(time=int(time))
    key = time_key(time)
    keys = [time_key(t) for t in ds["time"].values]
    if key not in keys:
        raise InputError(f"time {key} not in dataset (has {keys[0]} .. {keys[-1]}, {len(keys)} times)")
    return ds.isel(time=keys.index(key))


def _draw(ax: Any, box: _Box, frame: xr.Dataset, *, psl_range: tuple[float, float],
          scale: float, stride: int, diff: bool = False) -> tuple[Any, Any]:
    """PSL shading + contours and wind arrows of one frame; returns (mesh, quiver)."""
    x = box.x(frame["lon"].values)
    lat = frame["lat"].values.astype(float)
    psl = np.asarray(frame["PSL"].values, dtype=float) / 100.0
    u = np.asarray(frame["U850"].values, dtype=float)
    v = np.asarray(frame["V850"].values, dtype=float)
    vmin, vmax = psl_range
    mesh = ax.pcolormesh(x, lat, psl, transform=box.proj, cmap=_ERR_CMAP if diff else _PSL_CMAP,
                         vmin=vmin, vmax=vmax, shading="nearest", zorder=1)
    if not diff and np.nanmax(psl) > np.nanmin(psl):
        ax.contour(x, lat, psl, levels=_psl_levels(vmin, vmax), colors="k", linewidths=0.4,
                   alpha=0.6, transform=box.proj, zorder=2)
    s = slice(stride // 2, None, stride)
    q = ax.quiver(x[s], lat[s], u[s, s], v[s, s], transform=box.proj, zorder=4,
                  scale=scale, scale_units="inches", width=0.0022,
                  headwidth=4, headlength=4.5, color="k")
    return mesh, q


def _key(ax: Any, q: Any, key_speed: float) -> None:
    ax.quiverkey(q, X=0.86, Y=1.04, U=key_speed, label=f"{key_speed:g} m s$^{{-1}}$",
                 labelpos="E", coordinates="axes", fontproperties={"size": 7})


# --------------------------------------------------------------------------- tracks


def _read_tracks(tracks: str | os.PathLike | pd.DataFrame, what: str) -> pd.DataFrame:
    if isinstance(tracks, pd.DataFrame):
        df = tracks.copy()
    else:
        from hurricane_ode.verification.besttrack import read_tracks

        p = Path(tracks).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"{what} tracks file not found: {p}")
        df = read_tracks(p)  # IBTrACS CSV or storm_id,time,lat,lon,...
    missing = [c for c in _TRACK_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"{what} tracks lack columns {missing}; expected storm_id/track_id, time, lat, lon "
            f"(have {list(df.columns)})"
        )
    df["_key"] = df["time"].map(time_key)
    idc = next((c for c in ("storm_id", "track_id", "storm") if c in df.columns), None)
    df["_id"] = df[idc] if idc else 0
    return df


def _segments(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a track where it jumps across the map seam (|dx| > 180) into drawable pieces."""
    cut = np.flatnonzero(np.abs(np.diff(x)) > 180.0) + 1
    return list(zip(np.split(x, cut), np.split(y, cut)))


def _draw_tracks(ax: Any, box: _Box, df: pd.DataFrame, *, color: str, style: str, marker: str,
                 label: str | None, lw: float = 1.2, annotate: bool = False) -> None:
    first = True
    for sid, g in df.groupby("_id", sort=True):
        g = g.sort_values("_key")
        for x, y in _segments(box.x(g["lon"].values), g["lat"].values.astype(float)):
            ax.plot(x, y, style, color=color, marker=marker, markersize=3, lw=lw, transform=box.proj,
                    zorder=5, label=label if first else None)
            first = False
        if annotate and len(g):
            ax.annotate(str(sid), (float(box.x(g["lon"].values[0])), float(g["lat"].values[0])),
                        xycoords=box.proj._as_mpl_transform(ax), fontsize=6, color=color,
                        xytext=(2, 2), textcoords="offset points", zorder=6)


def _overlay_truth_track(ax: Any, box: _Box, tracks: pd.DataFrame, key: str, window: tuple[str, str]) -> None:
    lo, hi = window
    active = tracks.loc[(tracks["_key"] >= lo) & (tracks["_key"] <= hi), "_id"].unique()
    sel = tracks[tracks["_id"].isin(active)]
    if sel.empty:
        return
    _draw_tracks(ax, box, sel, color="0.15", style="--", marker="", label=None, lw=0.8)
    now = sel[sel["_key"] == key]
    if len(now):
        ax.plot(box.x(now["lon"].values), now["lat"].values, "o", ms=6, mfc="none", mec="k",
                mew=1.4, transform=box.proj, zorder=6)


def _crop(ds: xr.Dataset, region: tuple[float, float, float, float]) -> xr.Dataset:
    """The cells of ``ds`` inside ``(lat0, lat1, lon0, lon1)`` (longitudes in any convention)."""
    lat0, lat1, lon0, lon1 = (float(v) for v in region)
    lon = ds["lon"].values.astype(float)
    a = lon[0] + np.mod(lon0 - lon[0] + 180.0, 360.0) - 180.0  # onto the map's longitude axis
    b = a + (np.mod(lon1 - lon0, 360.0) or 360.0)
    lat = ds["lat"].values.astype(float)
    sub = ds.isel(lat=np.flatnonzero((lat >= lat0) & (lat <= lat1)),
                  lon=np.flatnonzero((lon >= a) & (lon <= b)))
    if sub.sizes["lat"] < 2 or sub.sizes["lon"] < 2:
        raise InputError(f"region {tuple(region)} holds fewer than 2x2 cells of the map "
                         f"(lat {lat.min():g}..{lat.max():g}, lon {lon.min():g}..{lon.max():g})")
    return sub


def storm_region(tracks: str | os.PathLike | pd.DataFrame, storm: str, times: list[str] | None = None,
                 pad_deg: float = 7.5) -> tuple[tuple[float, float, float, float], pd.DataFrame]:
    """(lat0, lat1, lon0, lon1) around one storm's fixes (within ``times`` if any there) and its fixes."""
    df = _read_tracks(tracks, "true")
    one = df[df["_id"].astype(str) == str(storm)]
    if one.empty:
        ids = sorted(df["_id"].astype(str).unique())
        raise InputError(f"storm {storm!r} not in the tracks (ids: {', '.join(ids[:8])}{' ...' if len(ids) > 8 else ''})")
    sel = one[one["_key"].isin(times)] if times else one
    sel = sel if len(sel) else one
    lon = sel["lon"].values.astype(float)
    ref = float(lon[0])
    lon = ref + np.mod(lon - ref + 180.0, 360.0) - 180.0
    lat = sel["lat"].values.astype(float)
    box = (max(lat.min() - pad_deg, -90.0), min(lat.max() + pad_deg, 90.0), lon.min() - pad_deg, lon.max() + pad_deg)
    return box, one
