"""Storm track points (``tracks.csv``) located on a basin tile: for cyclone windows and crops.

A tracks CSV has the columns ``storm_id,basin,time,lat,lon,min_psl_pa,max_wind_ms`` as written
by :mod:`hurricane_ode.data.synthetic` (one row per storm and time; ``time`` ISO in the data's
calendar). Only ``time``, ``lat`` and ``lon`` are needed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hurricane_ode.errors import InputError
from hurricane_ode.timeutil import ISO_TIME, hours_between, parse_time

__all__ = ["read_track_points", "inside_tile", "nearest_frames", "track_pixels_by_frame", "storm_proximity"]

KM_PER_DEG = 6371.0 * np.pi / 180.0
"""Kilometres per degree of latitude (spherical Earth of radius 6371 km)."""

TIME_TOL_H = 1e-3
"""Track times within this many hours of a frame match it."""


def read_track_points(
    tracks: str | Path | pd.DataFrame, calendar: str, has_year_zero: bool | None = None
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Track points from a tracks CSV (``storm_id,basin,time,lat,lon,...``) or DataFrame.

    Parameters
    ----------
    tracks
        Path of the CSV, or a DataFrame with the same columns.
    calendar
        The data's calendar: ``time`` strings are read as cftime in it (never datetime64).
    has_year_zero
        Passed to cftime when given.

    Returns
    -------
    (times, lat, lon)
        cftime list; lat/lon float64 degrees as written (lon in any convention).
    """
    name = "tracks DataFrame" if isinstance(tracks, pd.DataFrame) else f"tracks file {tracks}"
    if isinstance(tracks, pd.DataFrame):
        df = tracks
    else:
        path = Path(tracks)
        if not path.exists():
            raise FileNotFoundError(f"tracks file not found: {path}")
        df = pd.read_csv(path, dtype={"time": str})
    missing = [c for c in ("time", "lat", "lon") if c not in df.columns]
    if missing:
        raise InputError(
            f"{name} lacks column(s) {missing}; expected storm_id,basin,time,lat,lon,..."
        )
    times = []
    for row, text in enumerate(df["time"].astype(str)):
        if ISO_TIME.match(text) is None:
            raise InputError(f"{name}, row {row}: time {text!r} is not YYYY-MM-DDTHH:MM:SS")
        try:
            times.append(parse_time(text, calendar, has_year_zero))
        except ValueError as exc:
            raise InputError(
                f"{name}, row {row}: time {text!r} is not a valid {calendar} date: {exc}"
            ) from exc
    lat = pd.to_numeric(df["lat"], errors="raise").to_numpy(np.float64)
    lon = pd.to_numeric(df["lon"], errors="raise").to_numpy(np.float64)
    return times, lat, lon


def inside_tile(
    lat: np.ndarray, lon: np.ndarray, tile_lat: np.ndarray, tile_lon: np.ndarray
) -> np.ndarray:
    """Points inside the tile's cell bounds (longitudes compared modulo 360).

    Parameters
    ----------
    lat, lon
        Points, degrees (lon in any convention).
    tile_lat, tile_lon
        The tile's cell centres (lon continuous, as in a tile store).

    Returns
    -------
    numpy.ndarray
        bool mask over the points.
    """
    dlat = float(np.median(np.abs(np.diff(tile_lat)))) if tile_lat.size > 1 else 0.0
    dlon = float(np.median(np.abs(np.diff(tile_lon)))) if tile_lon.size > 1 else 0.0
    lat_ok = (lat >= tile_lat.min() - dlat / 2) & (lat <= tile_lat.max() + dlat / 2)
    west = float(tile_lon[0]) - dlon / 2
    width = float((tile_lon[-1] - tile_lon[0]) % 360.0) + dlon
    lon_ok = np.mod(lon - west, 360.0) <= width + 1e-9
    return lat_ok & lon_ok


def nearest_frames(hours: np.ndarray, frame_hours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For points at ``hours``: the index of the nearest frame and whether it lies within
    :data:`TIME_TOL_H` of it (``frame_hours`` ascending)."""
    k = np.clip(np.searchsorted(frame_hours, hours), 0, frame_hours.size - 1)
    k_prev = np.clip(k - 1, 0, frame_hours.size - 1)
    near = np.where(np.abs(frame_hours[k_prev] - hours) < np.abs(frame_hours[k] - hours), k_prev, k)
    return near, np.abs(frame_hours[near] - hours) <= TIME_TOL_H


def track_pixels_by_frame(
    tracks: str | Path | pd.DataFrame,
    frame_times: np.ndarray,
    frame_hours: np.ndarray,
    tile_lat: np.ndarray,
    tile_lon: np.ndarray,
) -> dict[int, np.ndarray]:
    """Storm positions as tile pixels, per frame: ``{frame index: int array [n, 2] (row, col)}``.

    Parameters
    ----------
    tracks
        Tracks CSV path or DataFrame.
    frame_times, frame_hours
        The store's cftime axis and its hours since the first frame.
    tile_lat, tile_lon
        The tile's cell centres.

    Returns
    -------
    dict
        Only frames with a track point inside the tile (within :data:`TIME_TOL_H`).
    """
    t0 = frame_times[0]
    calendar = getattr(t0, "calendar", "standard") or "standard"
    times, lat, lon = read_track_points(tracks, calendar, getattr(t0, "has_year_zero", None))
    if not times:
        return {}
    inside = inside_tile(lat, lon, tile_lat, tile_lon)
    lat, lon = lat[inside], lon[inside]
    near, hit = nearest_frames(hours_between(times, t0)[inside], frame_hours)
    rows = np.abs(tile_lat[None, :] - lat[:, None]).argmin(axis=1)
    dlon = float(np.median(np.diff(tile_lon))) if tile_lon.size > 1 else 1.0
    offset = np.mod(lon - tile_lon[0] + dlon / 2, 360.0) - dlon / 2  # degrees east of column 0
    cols = np.clip(np.rint(offset / dlon), 0, tile_lon.size - 1)
    out: dict[int, list] = {}
    for f, r, c in zip(near[hit], rows[hit], cols[hit].astype(int)):
        out.setdefault(int(f), []).append((int(r), int(c)))
    return {f: np.asarray(v, dtype=np.int64) for f, v in out.items()}


def storm_proximity(
    pixels_by_frame: dict[int, np.ndarray],
    frames: np.ndarray,
    tile_lat: np.ndarray,
    tile_lon: np.ndarray,
    origin: tuple[int, int] | None,
    size: tuple[int, int] | None,
    sigma_km: float,
) -> np.ndarray:
    """How near each pixel is to a storm, per frame: float32 ``[len(frames), H, W]`` in [0, 1].

    Parameters
    ----------
    pixels_by_frame
        Storm pixels per frame index, as :func:`track_pixels_by_frame` returns.
    frames
        Frame indices (into the store's time axis) to map.
    tile_lat, tile_lon
        The tile's cell centres (degrees).
    origin, size
        Top-left ``(row, col)`` and ``(H, W)`` of the window mapped (a crop); ``None``: the tile.
    sigma_km
        Gaussian width: a pixel ``d`` km from the nearest storm gets ``exp(-d^2 / 2 sigma^2)``;
        distances on the local tangent plane of each storm (``cos(lat)`` shrinks longitudes).
    """
    lat = np.asarray(tile_lat, dtype=float)
    lon = np.asarray(tile_lon, dtype=float)
    h, w = size if size is not None else (lat.size, lon.size)
    y0, x0 = origin if origin is not None else (0, 0)
    dlat = float(np.median(np.abs(np.diff(lat)))) if lat.size > 1 else 1.0
    dlon = float(np.median(np.abs(np.diff(lon)))) if lon.size > 1 else 1.0
    rows, cols = np.arange(y0, y0 + h), np.arange(x0, x0 + w)
    out = np.zeros((len(frames), h, w), dtype=np.float32)
    for k, f in enumerate(frames):
        for r, c in pixels_by_frame.get(int(f), ()):
            dy = (rows - r) * dlat * KM_PER_DEG
            dx = (cols - c) * dlon * KM_PER_DEG * np.cos(np.deg2rad(lat[r]))
            d2 = dy[:, None] ** 2 + dx[None, :] ** 2
            np.maximum(out[k], np.exp(-d2 / (2.0 * sigma_km**2)), out=out[k])
    return out
