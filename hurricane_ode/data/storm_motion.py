"""How each storm moved between a clip's reference frame and its targets, as a warp's flow.

For the storm flow prior (``loss.lambda_storm_flow``, ours): near a storm at a target time, the
flow that warps the reference frame (the last observed input) onto the target is the storm's
own displacement, read from its best track. :func:`storm_positions_by_frame` locates every
storm on the tile (fractional pixels, by ``storm_id``) at every frame;
:func:`storm_motion` turns the positions at the reference frame and at the targets into
``[K, 3, H, W]``: the flow (x, y; pixels; the backward warp's convention of
:func:`hurricane_ode.models.motion.warp`, ``out[y, x] = ref[y + fy, x + fx]``, so ``-`` the
storm's displacement) of the nearest storm, and its weight, a Gaussian of ``sigma_km`` around
the storm's target position (0 where no storm was in both frames).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hurricane_ode.data.tracks import KM_PER_DEG, inside_tile, nearest_frames, read_track_points
from hurricane_ode.errors import InputError
from hurricane_ode.timeutil import hours_between

__all__ = ["storm_positions_by_frame", "storm_motion"]


def storm_positions_by_frame(
    tracks: str | Path | pd.DataFrame,
    frame_times: np.ndarray,
    frame_hours: np.ndarray,
    tile_lat: np.ndarray,
    tile_lon: np.ndarray,
) -> dict[int, dict[str, tuple[float, float]]]:
    """``{frame index: {storm_id: (row, col)}}``: fractional tile pixels of every track point
    inside the tile at a frame time (within :data:`~hurricane_ode.data.tracks.TIME_TOL_H`).
    Tracks without ``storm_id`` must hold one storm (one point per time)."""
    df = tracks if isinstance(tracks, pd.DataFrame) else pd.read_csv(Path(tracks), dtype={"time": str})
    if "storm_id" not in df.columns:  # one storm at a time needs no ids; more cannot be told apart
        if "time" in df.columns and df["time"].duplicated().any():
            raise InputError(f"tracks {'DataFrame' if isinstance(tracks, pd.DataFrame) else tracks} have several "
                             "points at one time but no storm_id column to tell the storms apart")
        df = df.assign(storm_id="storm")
    t0 = frame_times[0]
    times, lat, lon = read_track_points(df, getattr(t0, "calendar", "standard") or "standard",
                                        getattr(t0, "has_year_zero", None))
    if not times:
        return {}
    ids = df["storm_id"].astype(str).to_numpy()
    near, on_frame = nearest_frames(hours_between(times, t0), frame_hours)
    hit = on_frame & inside_tile(lat, lon, tile_lat, tile_lon)
    dlat = float(tile_lat[1] - tile_lat[0]) if tile_lat.size > 1 else 1.0
    dlon = float(np.median(np.diff(tile_lon))) if tile_lon.size > 1 else 1.0
    rows = (lat - float(tile_lat[0])) / dlat
    cols = (np.mod(lon - tile_lon[0] + dlon / 2, 360.0) - dlon / 2) / dlon
    out: dict[int, dict[str, tuple[float, float]]] = {}
    for i in np.flatnonzero(hit):
        out.setdefault(int(near[i]), {})[ids[i]] = (float(rows[i]), float(cols[i]))
    return out


def storm_motion(
    positions: dict[int, dict[str, tuple[float, float]]],
    reference: int,
    frames: np.ndarray,
    tile_lat: np.ndarray,
    tile_lon: np.ndarray,
    origin: tuple[int, int] | None,
    size: tuple[int, int],
    sigma_km: float,
) -> np.ndarray:
    """float32 ``[len(frames), 3, H, W]``: flow x, flow y (pixels) and weight per target frame.

    ``reference``: the store index of the frame warped; ``frames``: the targets' store indices;
    ``origin``/``size``: the window (a crop's top-left ``(row, col)`` and ``(H, W)``).
    """
    h, w = size
    y0, x0 = origin if origin is not None else (0, 0)
    lat = np.asarray(tile_lat, float)
    dlat = abs(float(lat[1] - lat[0])) if lat.size > 1 else 1.0
    dlon = float(np.median(np.abs(np.diff(tile_lon)))) if np.size(tile_lon) > 1 else 1.0
    rows, cols = np.arange(y0, y0 + h, dtype=float), np.arange(x0, x0 + w, dtype=float)
    out = np.zeros((len(frames), 3, h, w), dtype=np.float32)
    ref = positions.get(int(reference), {})
    for k, f in enumerate(frames):
        best = out[k, 2]
        for sid, (r, c) in positions.get(int(f), {}).items():
            if sid not in ref:
                continue
            r0, c0 = ref[sid]
            coslat = np.cos(np.deg2rad(lat[int(np.clip(round(r), 0, lat.size - 1))]))
            d2 = ((rows - r)[:, None] * dlat * KM_PER_DEG) ** 2 + ((cols - c)[None, :] * dlon * KM_PER_DEG * coslat) ** 2
            g = np.exp(-d2 / (2.0 * sigma_km**2)).astype(np.float32)
            take = g > best
            out[k, 0][take], out[k, 1][take] = -(c - c0), -(r - r0)
            best[take] = g[take]
    return out
