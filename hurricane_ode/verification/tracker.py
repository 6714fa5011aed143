"""Tropical-cyclone centres and tracks from U850, V850 (m s-1) and PSL (Pa).

Works on any ``xarray.Dataset`` with those variables on ``(time, lat, lon)``: truth, a
forecast, a basin tile. Longitudes may be 0..360, -180..180 or continuous beyond 360;
distances are great-circle (periodic in longitude). Output longitudes keep the dataset's
convention.

Detection (:func:`find_centres`) is relative to the environment, never an absolute
pressure cut (a weak storm in a 1012 hPa background is a storm). Per time:

1. candidate = local PSL minimum over its 3x3 neighbourhood (optionally below
   ``psl_threshold_pa``; default: no absolute cut);
2. closed isobar: along each of ``n_bearings`` directions PSL rises at least
   ``min_depth_pa`` above the centre within ``radius_km`` (the ``centre + min_depth_pa``
   isobar encloses the centre). Candidates whose test circle leaves a regional domain
   are rejected: a storm within ``radius_km`` of a tile edge cannot be verified;
3. anomaly: the centre is at least ``min_anomaly_pa`` below the mean PSL on the circle of
   radius ``radius_km`` (the depth of the low below its surroundings);
4. vortex: the largest cyclonic 850 hPa relative vorticity within ``vort_radius_km``
   (sign-corrected for the hemisphere) is at least ``min_vorticity`` s-1;
5. wind: the largest 850 hPa wind speed within ``wind_radius_km`` is at least ``min_wind_ms``;
6. of accepted centres closer than ``min_separation_km`` only the deepest is kept
   (candidates are visited deepest first);
7. optional sub-grid refinement: a least-squares quadratic through the 3x3 neighbourhood.

Defaults are set for 0.5-1 degree grids (measured on synthetic worlds at 1 and 0.5 degrees,
where they separate storms from the extratropical lows of the background): ``min_depth_pa=100``
(a closed 1 hPa isobar), ``min_anomaly_pa`` equal to it, ``radius_km=400`` (the outer size of
a tropical depression), ``min_vorticity=1e-4`` s-1 (a tropical depression's core: about four
times the planetary vorticity at 15N; mid-latitude lows on these grids stay below ~1e-4),
``min_wind_ms=8`` and ``min_separation_km=150`` (storms closer than that are one system).
On coarser grids (the 32x64 natl tile is ~2.5 x 1.9 degrees) the vorticity of weak storms
is smoothed below 1e-4 and they are missed: lower ``min_vorticity`` (6e-5) and accept
more false alarms, or a lower POD.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from scipy import ndimage

from hurricane_ode.errors import InputError
from hurricane_ode.timeutil import time_key
from hurricane_ode.verification.geometry import (
    EARTH_RADIUS_KM,
    Grid,
    destination,
    great_circle_km,
    relative_vorticity,
)

__all__ = [
    "EARTH_RADIUS_KM",
    "CENTRE_COLUMNS",
    "great_circle_km",
    "find_centres",
    "link_tracks",
    "edge_margin_km",
]

CENTRE_COLUMNS = ["time", "lat", "lon", "min_psl_pa", "max_wind_ms", "depth_pa", "anomaly_pa",
                  "vorticity"]
_REQUIRED = ("U850", "V850", "PSL")


def _validate(ds: xr.Dataset) -> xr.Dataset:
    missing = [v for v in _REQUIRED if v not in ds.data_vars]
    if missing:
        raise InputError(f"tracking needs variables {list(_REQUIRED)}; dataset lacks {missing}")
    for v in _REQUIRED:
        if set(ds[v].dims) != {"time", "lat", "lon"}:
            raise InputError(f"variable {v} must have dims (time, lat, lon), got {ds[v].dims}")
    for c in ("lat", "lon"):
        if ds.sizes[c] < 3:
            raise InputError(f"coordinate {c} needs at least 3 points, got {ds.sizes[c]}")
    if ds["lat"].values[0] > ds["lat"].values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    for c in ("lat", "lon"):
        d = np.diff(ds[c].values.astype(float))
        if not (np.all(d > 0) and np.allclose(d, d[0], rtol=1e-3)):
            raise InputError(f"coordinate {c} must be evenly spaced and monotonic")
    return ds


def _refine(psl: np.ndarray, i: int, j: int, grid: Grid) -> tuple[float, float, float]:
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


def edge_margin_km(radius_km: float = 400.0) -> float:
    """Distance from a regional tile's edge within which :func:`find_centres` cannot see a storm."""
    return float(radius_km)


def find_centres(
    ds: xr.Dataset,
    psl_threshold_pa: float | None = None,
    min_depth_pa: float = 100.0,
    radius_km: float = 400.0,
    min_wind_ms: float = 8.0,
    wind_radius_km: float = 300.0,
    min_separation_km: float = 150.0,
    n_bearings: int = 16,
    refine: bool = True,
    min_anomaly_pa: float | None = None,
    min_vorticity: float = 1e-4,
    vort_radius_km: float = 250.0,
) -> pd.DataFrame:
    """Cyclone centres at every time of ``ds`` (U850, V850 in m s-1, PSL in Pa on time/lat/lon).

    Parameters
    ----------
    ds : the fields; regular lat/lon grid, any longitude convention.
    psl_threshold_pa : optional absolute cut on the centre PSL (None: none).
    min_depth_pa : closed-isobar depth (Pa) required within ``radius_km`` in every direction.
    radius_km : radius of the closed-isobar test and of the environment ring.
    min_wind_ms : least 850 hPa wind speed within ``wind_radius_km``.
    wind_radius_km, min_separation_km, n_bearings, refine : see the module docstring.
    min_anomaly_pa : least depth of the centre below the ring-mean PSL (None: ``min_depth_pa``).
    min_vorticity : least cyclonic 850 hPa relative vorticity (s-1) within ``vort_radius_km``.
    vort_radius_km : search radius of the vorticity maximum.

    Returns
    -------
    DataFrame with :data:`CENTRE_COLUMNS`: ``time`` (the dataset's values), ``lat``, ``lon``,
    ``min_psl_pa``, ``max_wind_ms``, ``depth_pa`` (closed-isobar depth), ``anomaly_pa``
    (ring mean minus centre) and ``vorticity`` (cyclonic maximum, s-1).
    """
    ds = _validate(ds)
    anomaly_min = float(min_depth_pa if min_anomaly_pa is None else min_anomaly_pa)
    grid = Grid(ds["lat"].values, ds["lon"].values)
    bearings = np.linspace(0.0, 2 * math.pi, n_bearings, endpoint=False)
    n_rad = max(4, int(math.ceil(radius_km / (0.5 * grid.km_per_cell_lat))))
    radii = np.linspace(radius_km / n_rad, radius_km, n_rad)
    bb, rr = np.meshgrid(bearings, radii, indexing="ij")  # [n_bearings, n_rad]
    mode = ("nearest", "wrap") if grid.periodic else ("nearest", "nearest")
    psl_all = np.asarray(ds["PSL"].values, dtype=float)
    u_all = np.asarray(ds["U850"].values, dtype=float)
    v_all = np.asarray(ds["V850"].values, dtype=float)
    time_values = ds["time"].values

    rows: list[dict[str, Any]] = []
    for t in range(psl_all.shape[0]):
        psl, u, v = psl_all[t], u_all[t], v_all[t]
        if not np.all(np.isfinite(psl)):
            raise InputError(f"PSL has non-finite values at time {time_values[t]} (index {t})")
        speed = np.hypot(u, v)
        vort = relative_vorticity(u, v, grid) * np.where(grid.lat >= 0, 1.0, -1.0)[:, None]
        local_min = ndimage.minimum_filter(psl, size=3, mode=mode)
        is_min = psl == local_min
        if psl_threshold_pa is not None:
            is_min &= psl < psl_threshold_pa
        cand = np.argwhere(is_min)
        cand = cand[np.argsort(psl[cand[:, 0], cand[:, 1]], kind="stable")]  # deepest first
        kept: list[tuple[float, float]] = []
        for i, j in cand:
            lat_c, lon_c = float(grid.lat[i]), float(grid.lon[j])
            if kept and np.min(great_circle_km(lat_c, lon_c, *np.array(kept).T)) < min_separation_km:
                continue  # a deeper centre is nearby
            plat, plon = destination(lat_c, lon_c, bb, rr)
            row, col = grid.index(plat, plon)
            if not np.all(grid.inside(row, col)):
                continue  # test circle leaves the domain: cannot verify a closed contour
            if grid.periodic:
                col = np.mod(col, len(grid.lon))
            ring = ndimage.map_coordinates(psl, [row.ravel(), col.ravel()], order=1,
                                           mode="grid-wrap" if grid.periodic else "nearest")
            ring = ring.reshape(bb.shape)
            depth = float((ring.max(axis=1) - psl[i, j]).min())
            if depth < min_depth_pa:
                continue
            anomaly = float(ring[:, -1].mean() - psl[i, j])
            if anomaly < anomaly_min:
                continue
            ii, jj, dist = grid.window(int(i), int(j), max(wind_radius_km, vort_radius_km))
            near_w, near_v = dist <= wind_radius_km, dist <= vort_radius_km
            max_wind = float(speed[np.ix_(ii, jj)][near_w].max())
            max_vort = float(vort[np.ix_(ii, jj)][near_v].max())
            if max_wind < min_wind_ms or max_vort < min_vorticity:
                continue
            kept.append((lat_c, lon_c))
            value = float(psl[i, j])
            if refine:
                di, dj, value = _refine(psl, int(i), int(j), grid)
                lat_c += di * grid.dlat
                lon_c += dj * grid.dlon
            rows.append({"time": time_values[t], "lat": lat_c, "lon": lon_c, "min_psl_pa": value,
                         "max_wind_ms": max_wind, "depth_pa": depth, "anomaly_pa": anomaly,
                         "vorticity": max_vort})
    return pd.DataFrame(rows, columns=CENTRE_COLUMNS)


def _hours(a: Any, b: Any, calendar: str = "standard") -> float:
    """Hours from ``a`` to ``b`` (cftime, datetime, numpy datetime64 or ISO strings).

    ISO strings are read in ``calendar`` (or the other argument's calendar), so a ``noleap``
    year has no 29 February.
    """
    from hurricane_ode.timeutil import parse_time

    cal = getattr(a, "calendar", None) or getattr(b, "calendar", None) or calendar
    if isinstance(a, str):
        a = parse_time(a[:19], cal)
    if isinstance(b, str):
        b = parse_time(b[:19], cal)
    if isinstance(a, np.datetime64) or isinstance(b, np.datetime64):
        return float((np.datetime64(b, "s") - np.datetime64(a, "s")) / np.timedelta64(1, "h"))
    return (b - a).total_seconds() / 3600.0


def _sorted_times(times: pd.Series) -> list[Any]:
    uniq: dict[str, Any] = {}
    for t in times:
        uniq.setdefault(time_key(t), t)
    return [uniq[k] for k in sorted(uniq)]  # ISO keys sort chronologically


def link_tracks(
    centres: pd.DataFrame,
    max_speed_kmh: float = 60.0,
    max_gap_h: float = 12.0,
    min_points: int = 1,
    calendar: str = "standard",
) -> pd.DataFrame:
    """Link centres into tracks by nearest-neighbour matching between consecutive times.

    A track last seen ``dt`` hours ago (``0 < dt <= max_gap_h``) may continue
    to a centre within ``max_speed_kmh * dt`` km; pairs are taken greedily,
    closest first, each track and centre used once; unmatched centres start
    new tracks. Tracks with fewer than ``min_points`` centres are dropped.

    Parameters
    ----------
    centres : pandas.DataFrame
        Columns ``time``, ``lat``, ``lon`` (degrees), e.g. from :func:`find_centres`.
    max_speed_kmh : float
        Fastest plausible translation (km per hour).
    max_gap_h : float
        Longest gap (hours) a track may bridge.
    min_points : int
        Shortest track kept (centres).
    calendar : str
        How ISO-string times are read (cftime times carry their own).

    Returns
    -------
    pandas.DataFrame
        ``centres`` plus an integer ``track_id`` (0, 1, ... in order of first appearance),
        sorted by ``track_id`` then time.
    """
    for c in ("time", "lat", "lon"):
        if c not in centres.columns:
            raise InputError(f"centres needs a {c!r} column, has {list(centres.columns)}")
    if max_speed_kmh <= 0 or max_gap_h <= 0:
        raise InputError("max_speed_kmh and max_gap_h must be positive")
    df = centres.reset_index(drop=True).copy()
    df["track_id"] = -1
    if df.empty:
        return df
    keys = df["time"].map(time_key)
    last: dict[int, tuple[Any, float, float]] = {}  # track -> (time, lat, lon)
    next_id = 0
    for t in _sorted_times(df["time"]):
        idx = np.flatnonzero(keys.values == time_key(t))
        pairs: list[tuple[float, int, int]] = []
        for tid, (tt, la, lo) in last.items():
            dt = _hours(tt, t, calendar)
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
        for row in idx.tolist():
            last[int(df.loc[row, "track_id"])] = (t, float(df.loc[row, "lat"]), float(df.loc[row, "lon"]))
        last = {k: v for k, v in last.items() if _hours(v[0], t, calendar) < max_gap_h}
    sizes = df.groupby("track_id")["track_id"].transform("size")
    df = df[sizes >= min_points].copy()
    order = {old: new for new, old in enumerate(pd.unique(df["track_id"]))}
    df["track_id"] = df["track_id"].map(order).astype(int)
    df["_key"] = df["time"].map(time_key)
    return df.sort_values(["track_id", "_key"], kind="stable").drop(columns="_key").reset_index(drop=True)
