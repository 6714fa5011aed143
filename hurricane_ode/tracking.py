"""Tropical-cyclone centres, tracks and track errors from U850, V850 (m s-1) and PSL (Pa).

Works on any ``xarray.Dataset`` with those variables on ``(time, lat, lon)``:
truth, a forecast, a basin tile. Longitudes may be 0..360, -180..180 or
continuous beyond 360 (tiles that cross the date line); distances use the
haversine formula, which is periodic in longitude, so no normalisation is
needed when comparing. Output longitudes keep the dataset's convention.

Detection (:func:`find_centres`), per time:

1. candidate = grid point that is a local PSL minimum over its 3x3
   neighbourhood (``scipy.ndimage.minimum_filter``) and below
   ``psl_threshold_pa``;
2. closed-contour test: along each of ``n_bearings`` great-circle directions,
   PSL (bilinearly interpolated at radii up to ``radius_km``) must rise at
   least ``min_depth_pa`` above the centre value somewhere, i.e. the
   ``centre + min_depth_pa`` isobar encloses the centre within ``radius_km``.
   Candidates whose test circle leaves a regional domain are rejected;
3. wind test: the largest grid-point wind speed within ``wind_radius_km`` is
   at least ``min_wind_ms``;
4. of accepted centres closer than ``min_separation_km`` only the one with
   the lowest PSL is kept (a large minimum-filter window instead would drop
   storms near a deeper trough, e.g. a subtropical storm poleward of the
   equatorial trough);
5. optional sub-grid refinement: a least-squares quadratic surface through the
   3x3 neighbourhood of the minimum; its stationary point (if a minimum and
   within one cell) gives lat/lon and its value ``min_psl_pa``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

__all__ = [
    "EARTH_RADIUS_KM",
    "great_circle_km",
    "find_centres",
    "link_tracks",
    "match_tracks",
    "track_errors",
]

EARTH_RADIUS_KM = 6371.0
CENTRE_COLUMNS = ["time", "lat", "lon", "min_psl_pa", "max_wind_ms", "depth_pa"]
_REQUIRED = ("U850", "V850", "PSL")


def great_circle_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Haversine distance in km on a sphere of radius 6371.0 km (arrays broadcast; degrees in)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def _destination(lat: float, lon: float, bearing: np.ndarray, dist_km: np.ndarray) -> tuple:
    """Points at great-circle distance ``dist_km`` along ``bearing`` (radians) from (lat, lon)."""
    d = dist_km / EARTH_RADIUS_KM
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(bearing))
    l2 = l1 + np.arctan2(np.sin(bearing) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), np.degrees(l2)


def _validate(ds: xr.Dataset) -> xr.Dataset:
    missing = [v for v in _REQUIRED if v not in ds.data_vars]
    if missing:
        raise ValueError(f"tracking needs variables {list(_REQUIRED)}; dataset lacks {missing}")
    for v in _REQUIRED:
        if set(ds[v].dims) != {"time", "lat", "lon"}:
            raise ValueError(f"variable {v} must have dims (time, lat, lon), got {ds[v].dims}")
    for c in ("lat", "lon"):
        if ds.sizes[c] < 3:
            raise ValueError(f"coordinate {c} needs at least 3 points, got {ds.sizes[c]}")
    if ds["lat"].values[0] > ds["lat"].values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    for c in ("lat", "lon"):
        d = np.diff(ds[c].values.astype(float))
        if not (np.all(d > 0) and np.allclose(d, d[0], rtol=1e-3)):
            raise ValueError(f"coordinate {c} must be evenly spaced and monotonic")
    return ds


class _Grid:
    """Index-space helpers for one regular lat/lon grid."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray) -> None:
        self.lat, self.lon = lat.astype(float), lon.astype(float)
        self.dlat = float(self.lat[1] - self.lat[0])
        self.dlon = float(self.lon[1] - self.lon[0])
        self.periodic = abs(len(self.lon) * self.dlon - 360.0) < 1e-6 * 360.0

    def index(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) of points; longitudes brought next to the grid by modulo."""
        lon = np.asarray(lon, dtype=float)
        lon = self.lon[0] + np.mod(lon - self.lon[0], 360.0)
        return (np.asarray(lat) - self.lat[0]) / self.dlat, (lon - self.lon[0]) / self.dlon

    def inside(self, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        ok = (row >= 0) & (row <= len(self.lat) - 1)
        if not self.periodic:
            ok &= (col >= 0) & (col <= len(self.lon) - 1)
        return ok


def _refine(psl: np.ndarray, i: int, j: int, grid: _Grid) -> tuple[float, float, float]:
    """Quadratic fit on the 3x3 block around (i, j): (d_row, d_col, fitted minimum)."""
    nlat, nlon = psl.shape
    if not (0 < i < nlat - 1) or (not grid.periodic and not (0 < j < nlon - 1)):
        return 0.0, 0.0, float(psl[i, j])
    block = psl[np.ix_([i - 1, i, i + 1], [(j - 1) % nlon, j, (j + 1) % nlon])]
    yy, xx = np.meshgrid([-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], indexing="ij")
    a = np.stack([np.ones(9), xx.ravel(), yy.ravel(), xx.ravel() ** 2, xx.ravel() * yy.ravel(),
                  yy.ravel() ** 2], axis=1)
    c0, cx, cy, cxx, cxy, cyy = np.linalg.lstsq(a, block.ravel(), rcond=None)[0]
    h = np.array([[2 * cxx, cxy], [cxy, 2 * cyy]])
    if np.linalg.det(h) <= 0 or h[0, 0] <= 0:
        return 0.0, 0.0, float(psl[i, j])
    dx, dy = np.linalg.solve(h, [-cx, -cy])
    if abs(dx) > 1.0 or abs(dy) > 1.0:
        return 0.0, 0.0, float(psl[i, j])
    value = c0 + cx * dx + cy * dy + cxx * dx * dx + cxy * dx * dy + cyy * dy * dy
    return float(dy), float(dx), float(min(value, psl[i, j]))


def find_centres(
    ds: xr.Dataset,
    psl_threshold_pa: float = 100500.0,
    min_depth_pa: float = 200.0,
    radius_km: float = 400.0,
    min_wind_ms: float = 10.0,
    wind_radius_km: float = 300.0,
    min_separation_km: float = 500.0,
    n_bearings: int = 16,
    refine: bool = True,
) -> pd.DataFrame:
    """Cyclone centres at every time of ``ds`` (U850, V850 in m s-1, PSL in Pa on time/lat/lon).

    Returns a DataFrame with columns ``time`` (the dataset's time values),
    ``lat``, ``lon`` (degrees; lon in the dataset's convention),
    ``min_psl_pa``, ``max_wind_ms`` (largest wind speed within
    ``wind_radius_km``) and ``depth_pa`` (the smallest, over bearings, PSL rise
    within ``radius_km``). See the module docstring for the tests applied.
    """
    ds = _validate(ds)
    grid = _Grid(ds["lat"].values, ds["lon"].values)
    km_per_cell_lat = math.radians(grid.dlat) * EARTH_RADIUS_KM
    bearings = np.linspace(0.0, 2 * math.pi, n_bearings, endpoint=False)
    n_rad = max(4, int(math.ceil(radius_km / (0.5 * km_per_cell_lat))))
    radii = np.linspace(radius_km / n_rad, radius_km, n_rad)
    bb, rr = np.meshgrid(bearings, radii, indexing="ij")  # [n_bearings, n_rad]
    mode = ("nearest", "wrap") if grid.periodic else ("nearest", "nearest")

    rows: list[dict[str, Any]] = []
    for t in range(ds.sizes["time"]):
        frame = ds.isel(time=t)
        psl = np.asarray(frame["PSL"].values, dtype=float)
        speed = np.hypot(np.asarray(frame["U850"].values, float), np.asarray(frame["V850"].values, float))
        if not np.all(np.isfinite(psl)):
            raise ValueError(f"PSL has non-finite values at time index {t}")
        local_min = ndimage.minimum_filter(psl, size=3, mode=mode)
        cand = np.argwhere((psl == local_min) & (psl < psl_threshold_pa))
        cand = cand[np.argsort(psl[cand[:, 0], cand[:, 1]], kind="stable")]  # deepest first
        kept: list[tuple[float, float]] = []
        for i, j in cand:
            lat_c, lon_c = float(grid.lat[i]), float(grid.lon[j])
            if kept and np.min(great_circle_km(lat_c, lon_c, *np.array(kept).T)) < min_separation_km:
                continue  # a deeper centre is nearby
            plat, plon = _destination(lat_c, lon_c, bb, rr)
            row, col = grid.index(plat, plon)
            if not np.all(grid.inside(row, col)):
                continue  # test circle leaves the domain: cannot verify a closed contour
            if grid.periodic:
                col = np.mod(col, len(grid.lon))
            ring = ndimage.map_coordinates(psl, [row.ravel(), col.ravel()], order=1,
                                           mode="grid-wrap" if grid.periodic else "nearest")
            rise = ring.reshape(bb.shape).max(axis=1) - psl[i, j]
            depth = float(rise.min())
            if depth < min_depth_pa:
                continue
            # wind: grid points within wind_radius_km
            nr = int(math.ceil(wind_radius_km / km_per_cell_lat)) + 1
            coslat = max(math.cos(math.radians(min(abs(lat_c) + nr * grid.dlat, 89.0))), 0.05)
            nc = int(math.ceil(wind_radius_km / (km_per_cell_lat * grid.dlon / grid.dlat * coslat))) + 1
            ii = np.arange(max(i - nr, 0), min(i + nr + 1, len(grid.lat)))
            jj = np.arange(j - nc, j + nc + 1)
            jj = np.mod(jj, len(grid.lon)) if grid.periodic else jj[(jj >= 0) & (jj < len(grid.lon))]
            dist = great_circle_km(grid.lat[ii][:, None], grid.lon[jj][None, :], lat_c, lon_c)
            window = speed[np.ix_(ii, jj)]
            max_wind = float(window[dist <= wind_radius_km].max())
            if max_wind < min_wind_ms:
                continue
            kept.append((lat_c, lon_c))
            value = float(psl[i, j])
            if refine:
                di, dj, value = _refine(psl, int(i), int(j), grid)
                lat_c += di * grid.dlat
                lon_c += dj * grid.dlon
            rows.append({"time": frame["time"].values.item(), "lat": lat_c, "lon": lon_c,
                         "min_psl_pa": value, "max_wind_ms": max_wind, "depth_pa": depth})
    return pd.DataFrame(rows, columns=CENTRE_COLUMNS)


def _hours(a: Any, b: Any) -> float:
    """Hours from ``a`` to ``b`` (cftime, datetime, numpy datetime64 or ISO strings)."""
    if isinstance(a, str) or isinstance(b, str):
        a, b = pd.Timestamp(str(a)), pd.Timestamp(str(b))
    d = b - a
    if hasattr(d, "total_seconds"):
        return d.total_seconds() / 3600.0
    return pd.Timedelta(d).total_seconds() / 3600.0


def _time_key(t: Any) -> str:
    """A calendar-agnostic key ``YYYY-MM-DDTHH:MM:SS`` for matching times across tables."""
    if isinstance(t, str):
        return t.strip().replace(" ", "T")[:19]
    if isinstance(t, np.datetime64):
        t = pd.Timestamp(t)
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def _sorted_times(times: pd.Series) -> list[Any]:
    uniq: dict[str, Any] = {}
    for t in times:
        uniq.setdefault(_time_key(t), t)
    return [uniq[k] for k in sorted(uniq)]  # ISO keys sort chronologically


def link_tracks(
    centres: pd.DataFrame,
    max_speed_kmh: float = 60.0,
    max_gap_h: float = 12.0,
    min_points: int = 1,
) -> pd.DataFrame:
    """Link centres into tracks by nearest-neighbour matching between consecutive times.

    A track last seen ``dt`` hours ago (``0 < dt <= max_gap_h``) may continue
    to a centre within ``max_speed_kmh * dt`` km; pairs are taken greedily,
    closest first, each track and centre used once; unmatched centres start
    new tracks. Tracks with fewer than ``min_points`` centres are dropped.
    Returns ``centres`` plus an integer ``track_id`` (0, 1, ... in order of
    first appearance), sorted by ``track_id`` then time.
    """
    for c in ("time", "lat", "lon"):
        if c not in centres.columns:
            raise ValueError(f"centres needs a {c!r} column, has {list(centres.columns)}")
    if max_speed_kmh <= 0 or max_gap_h <= 0:
        raise ValueError("max_speed_kmh and max_gap_h must be positive")
    df = centres.reset_index(drop=True).copy()
    df["track_id"] = -1
    if df.empty:
        return df
    keys = df["time"].map(_time_key)
    last: dict[int, tuple[Any, float, float]] = {}  # track -> (time, lat, lon)
    next_id = 0
    for t in _sorted_times(df["time"]):
        idx = np.flatnonzero(keys.values == _time_key(t))
        pairs: list[tuple[float, int, int]] = []
        for tid, (tt, la, lo) in last.items():
            dt = _hours(tt, t)
            if not 0 < dt <= max_gap_h:
                continue
            d = great_circle_km(la, lo, df.loc[idx, "lat"].values, df.loc[idx, "lon"].values)
            pairs += [(float(d[n]), tid, int(idx[n])) for n in range(len(idx)) if d[n] <= max_speed_kmh * dt]
        used_t: set[int] = set()
        used_c: set[int] = set()
        for _, tid, row in sorted(pairs):
            if tid in used_t or row in used_c:
                continue
            df.loc[row, "track_id"] = tid
            used_t.add(tid)
            used_c.add(row)
        for row in sorted(set(idx.tolist()) - used_c, key=lambda r: (df.loc[r, "lat"], df.loc[r, "lon"])):
            df.loc[row, "track_id"] = next_id
            next_id += 1
        for row in idx:
            last[int(df.loc[row, "track_id"])] = (t, float(df.loc[row, "lat"]), float(df.loc[row, "lon"]))
        last = {k: v for k, v in last.items() if _hours(v[0], t) < max_gap_h}
    sizes = df.groupby("track_id")["track_id"].transform("size")
    df = df[sizes >= min_points].copy()
    order = {old: new for new, old in enumerate(pd.unique(df["track_id"]))}
    df["track_id"] = df["track_id"].map(order).astype(int)
    df["_key"] = df["time"].map(_time_key)
    return df.sort_values(["track_id", "_key"], kind="stable").drop(columns="_key").reset_index(drop=True)


def _id_column(df: pd.DataFrame, given: Hashable | None) -> Hashable | None:
    if given is not None:
        if given not in df.columns:
            raise ValueError(f"id column {given!r} not in {list(df.columns)}")
        return given
    for c in ("storm_id", "track_id"):
        if c in df.columns:
            return c
    return None


def match_tracks(
    forecast: pd.DataFrame,
    truth: pd.DataFrame,
    init_time: Any | None = None,
    max_distance_km: float = 500.0,
    truth_id: Hashable | None = None,
) -> pd.DataFrame:
    """Match every true centre to the nearest forecast centre at the same time.

    Both tables need ``time, lat, lon, min_psl_pa, max_wind_ms`` (e.g. from
    :func:`find_centres` / the tracks CSV). Lead time (hours) is the
    forecast's ``lead_time_h`` column if present, else time since
    ``init_time``, else since the earliest forecast time. One row per true
    centre at a forecast time: ``storm`` (truth id), ``time``, ``lead_time_h``,
    ``matched`` (a forecast centre within ``max_distance_km``),
    ``track_error_km``, ``psl_error_pa`` / ``psl_error_hpa`` (forecast minus
    truth), ``wind_error_ms`` (forecast minus truth); NaN where unmatched.
    """
    need = ("time", "lat", "lon", "min_psl_pa", "max_wind_ms")
    for name, df in (("forecast", forecast), ("truth", truth)):
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ValueError(f"{name} tracks lack columns {missing} (have {list(df.columns)})")
    tid = _id_column(truth, truth_id)
    fkeys = forecast["time"].map(_time_key)
    if "lead_time_h" in forecast.columns:
        lead_by_key = dict(zip(fkeys, forecast["lead_time_h"].astype(float)))
    else:
        times = _sorted_times(forecast["time"]) if len(forecast) else []
        ref = init_time if init_time is not None else (times[0] if times else None)
        lead_by_key = {_time_key(t): _hours(ref, t) for t in times}
    rows = []
    for r in truth.itertuples(index=False):
        key = _time_key(r.time)
        if key not in lead_by_key:
            continue  # not a forecast time
        f = forecast[fkeys.values == key]
        out = {"storm": getattr(r, str(tid)) if tid is not None else None, "time": key,
               "lead_time_h": lead_by_key[key], "matched": False, "track_error_km": np.nan,
               "psl_error_pa": np.nan, "psl_error_hpa": np.nan, "wind_error_ms": np.nan}
        if len(f):
            d = great_circle_km(r.lat, r.lon, f["lat"].values, f["lon"].values)
            n = int(np.argmin(d))
            if d[n] <= max_distance_km:
                dp = float(f["min_psl_pa"].values[n]) - float(r.min_psl_pa)
                out.update(matched=True, track_error_km=float(d[n]), psl_error_pa=dp,
                           psl_error_hpa=dp / 100.0,
                           wind_error_ms=float(f["max_wind_ms"].values[n]) - float(r.max_wind_ms))
        rows.append(out)
    cols = ["storm", "time", "lead_time_h", "matched", "track_error_km", "psl_error_pa",
            "psl_error_hpa", "wind_error_ms"]
    return pd.DataFrame(rows, columns=cols)


def track_errors(
    forecast: pd.DataFrame,
    truth: pd.DataFrame,
    init_time: Any | None = None,
    max_distance_km: float = 500.0,
    truth_id: Hashable | None = None,
) -> pd.DataFrame:
    """Track and intensity errors per lead time (see :func:`match_tracks` for the matching).

    Columns: ``lead_time_h``, ``n_true`` (true centres at that time),
    ``n_matched``, ``track_error_km`` (mean great-circle distance of matched
    centres), ``psl_bias_pa`` / ``psl_mae_pa`` / ``psl_mae_hpa``,
    ``wind_bias_ms`` / ``wind_mae_ms``.
    """
    m = match_tracks(forecast, truth, init_time, max_distance_km, truth_id)
    out = []
    for lead, g in m.groupby("lead_time_h", sort=True):
        h = g[g["matched"]]
        out.append({
            "lead_time_h": float(lead), "n_true": len(g), "n_matched": len(h),
            "track_error_km": h["track_error_km"].mean(),
            "psl_bias_pa": h["psl_error_pa"].mean(), "psl_mae_pa": h["psl_error_pa"].abs().mean(),
            "psl_mae_hpa": h["psl_error_hpa"].abs().mean(),
            "wind_bias_ms": h["wind_error_ms"].mean(), "wind_mae_ms": h["wind_error_ms"].abs().mean(),
        })
    cols = ["lead_time_h", "n_true", "n_matched", "track_error_km", "psl_bias_pa", "psl_mae_pa",
            "psl_mae_hpa", "wind_bias_ms", "wind_mae_ms"]
    return pd.DataFrame(out, columns=cols)
