"""Wind-vector maps on cartopy axes: PSL shading (hPa) and contours, U850/V850 arrows,
offline coastlines; truth-vs-forecast panels per lead time (the paper's Figure 7); tracks.

Longitudes may be continuous beyond 360 or negative (basin tiles such as ``natl``,
240..400): maps use ``PlateCarree(central_longitude=<box centre>)`` and data are placed
relative to that centre, so such boxes render contiguous. Track longitudes (0..360 or
-180..180) are wrapped onto the same axis.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hurricane_ode.plotting._common import new_figure, require_cartopy, save_png
from hurricane_ode.plotting.coastlines import coastline_feature, scale_for_extent

__all__ = ["plot_wind_map", "plot_forecast_maps", "plot_track_map"]

_VARS = ("U850", "V850", "PSL")
_KEY_SPEEDS = (1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 75, 100)
_ARROWS_ALONG_LONG_SIDE = 22
_PSL_CMAP = "YlGnBu_r"
_ERR_CMAP = "RdBu_r"
_TRACK_COLUMNS = ("time", "lat", "lon")


# --------------------------------------------------------------------------- helpers


def _check_vars(ds: xr.Dataset, what: str) -> xr.Dataset:
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"{what}: expected an xarray.Dataset, got {type(ds).__name__}")
    missing = [v for v in _VARS if v not in ds.data_vars]
    if missing:
        raise ValueError(
            f"{what}: dataset lacks variables {missing}; expected U850, V850 (m s-1) and PSL (Pa) "
            f"on (time, lat, lon); has {list(ds.data_vars)}"
        )
    for v in _VARS:
        if set(ds[v].dims) != {"time", "lat", "lon"}:
            raise ValueError(f"{what}: variable {v} must have dims (time, lat, lon), got {ds[v].dims}")
    if ds.sizes["lat"] < 2 or ds.sizes["lon"] < 2:
        raise ValueError(f"{what}: need at least 2 points along lat and lon, got {dict(ds.sizes)}")
    if ds["lat"].values[0] > ds["lat"].values[-1]:
        ds = ds.isel(lat=slice(None, None, -1))
    return ds


def _time_key(t: Any) -> str:
    """Calendar-agnostic ``YYYY-MM-DDTHH:MM:SS`` key (cftime, datetime64, ISO string)."""
    if isinstance(t, str):
        return t.strip().replace(" ", "T")[:19]
    if isinstance(t, np.datetime64):
        t = pd.Timestamp(t)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"


def _time_label(t: Any) -> str:
    return _time_key(t)[:16].replace("T", " ")


class _Box:
    """A lat/lon box on a continuous longitude axis and its PlateCarree(centre) projection."""

    def __init__(self, lat_min: float, lat_max: float, lon_min: float, lon_max: float) -> None:
        self.lat_min, self.lat_max = float(lat_min), float(lat_max)
        self.lon_min, self.lon_max = float(lon_min), float(lon_max)
        if self.lon_max - self.lon_min > 360.0 + 1e-6:
            raise ValueError(f"longitude span {self.lon_min}..{self.lon_max} exceeds 360 degrees")
        self.centre = 0.5 * (self.lon_min + self.lon_max)
        ccrs = require_cartopy().crs
        self.proj = ccrs.PlateCarree(central_longitude=self.centre)

    @classmethod
    def of(cls, ds: xr.Dataset) -> _Box:
        lat, lon = ds["lat"].values.astype(float), ds["lon"].values.astype(float)
        if np.any(np.diff(lon) <= 0):
            raise ValueError(
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


def _style_axes(ax: Any, box: _Box, coastlines: bool, labels: tuple[bool, bool] = (True, True)) -> None:
    import matplotlib.ticker as mticker

    ccrs = require_cartopy().crs
    ax.set_extent(box.extent, crs=box.proj)
    if coastlines:
        scale = scale_for_extent(box.lon_max - box.lon_min, box.lat_max - box.lat_min)
        ax.add_feature(coastline_feature(scale), zorder=3)
    span = box.lon_max - box.lon_min
    step = 10 if span <= 60 else 20 if span <= 180 else 40
    gl = ax.gridlines(crs=ccrs.PlateCarree(), draw_labels=True, linewidth=0.4, color="0.4",
                      alpha=0.5, linestyle="--")
    gl.top_labels = gl.right_labels = False
    gl.bottom_labels, gl.left_labels = labels
    gl.xlocator = mticker.FixedLocator(np.arange(-180, 181, step))
    gl.ylocator = mticker.FixedLocator(np.arange(-90, 91, 10 if box.lat_max - box.lat_min > 20 else 5))
    gl.xlabel_style = gl.ylabel_style = {"size": 7}


def _frame(ds: xr.Dataset, time: Any) -> xr.Dataset:
    if isinstance(time, (int, np.integer)):
        n = ds.sizes["time"]
        if not -n <= int(time) < n:
            raise ValueError(f"time index {time} out of range for {n} time(s)")
        return ds.isel(time=int(time))
    key = _time_key(time)
    keys = [_time_key(t) for t in ds["time"].values]
    if key not in keys:
        raise ValueError(f"time {key} not in dataset (has {keys[0]} .. {keys[-1]}, {len(keys)} times)")
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


# --------------------------------------------------------------------------- wind map


def plot_wind_map(
    ds: xr.Dataset,
    time: int | Any = 0,
    ax: Any | None = None,
    title: str | None = None,
    stride: int | None = None,
    coastlines: bool = True,
) -> Any:
    """One wind-vector map: PSL shading (hPa, colour bar) and contours, U850/V850 arrows
    (key arrow in m s-1), coastlines, gridline labels, on the dataset's lat/lon box.

    ds: U850, V850 (m s-1), PSL (Pa) on (time, lat, lon). ``time``: an index or a time
    (cftime / ISO string). ``ax``: a cartopy GeoAxes (default: a new Agg figure).
    ``stride``: plot every n-th arrow (default: ~22 arrows along the longer side).
    Returns the Axes.
    """
    ds = _check_vars(ds, "plot_wind_map")
    frame = _frame(ds, time).load()
    box = _Box.of(ds)
    stride = int(stride) if stride else _auto_stride(ds)
    if stride < 1:
        raise ValueError(f"stride must be a positive integer, got {stride}")
    psl = np.asarray(frame["PSL"].values, dtype=float) / 100.0
    rng = (float(np.nanmin(psl)), float(np.nanmax(psl)))
    speed = np.hypot(frame["U850"].values.astype(float), frame["V850"].values.astype(float))
    if ax is None:
        aspect = (box.lat_max - box.lat_min) / (box.lon_max - box.lon_min)
        fig = new_figure((8.0, 8.0 * aspect + 1.6))
        ax = fig.add_subplot(1, 1, 1, projection=box.proj)
    elif not hasattr(ax, "projection"):
        raise TypeError("plot_wind_map: ax must be a cartopy GeoAxes (created with projection=...)")
    width_in = ax.get_position().width * ax.figure.get_figwidth()
    scale, key_speed = _arrow_scale(speed, width_in * stride / ds.sizes["lon"])
    mesh, q = _draw(ax, box, frame, psl_range=rng, scale=scale, stride=stride)
    _style_axes(ax, box, coastlines)
    _key(ax, q, key_speed)
    ax.figure.colorbar(mesh, ax=ax, orientation="horizontal", shrink=0.7, pad=0.08,
                       label="Sea-level pressure (hPa)")
    if title is None:
        lead = ""
        if "forecast_period" in frame.coords:
            lead = f"  (lead {float(frame['forecast_period']):+g} h)"
        title = f"U850/V850 and PSL  {_time_label(frame['time'].values.item())}{lead}"
    ax.set_title(title, fontsize=9, loc="left")
    return ax


# --------------------------------------------------------------------------- tracks


def _read_tracks(tracks: str | os.PathLike | pd.DataFrame, what: str) -> pd.DataFrame:
    if isinstance(tracks, pd.DataFrame):
        df = tracks.copy()
    else:
        p = Path(tracks).expanduser()
        if not p.is_file():
            raise FileNotFoundError(f"{what} tracks file not found: {p}")
        df = pd.read_csv(p)
    missing = [c for c in _TRACK_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} tracks lack columns {missing}; expected storm_id/track_id, time, lat, lon "
            f"(have {list(df.columns)})"
        )
    df["_key"] = df["time"].map(_time_key)
    idc = next((c for c in ("storm_id", "track_id", "storm") if c in df.columns), None)
    df["_id"] = df[idc] if idc else 0
    return df


def _segments(x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split a track where it jumps across the map seam (|dx| > 180) into drawable pieces."""
    cut = np.flatnonzero(np.abs(np.diff(x)) > 180.0) + 1 if x.size > 1 else []
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


# --------------------------------------------------------------------------- forecast panels


def _align_truth(forecast: xr.Dataset, truth: xr.Dataset) -> xr.Dataset:
    keys = [_time_key(t) for t in forecast["time"].values]
    tkeys = [_time_key(t) for t in truth["time"].values]
    missing = [k for k in keys if k not in tkeys]
    if missing:
        raise ValueError(
            f"plot_forecast_maps: truth lacks forecast time(s) {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''} (truth has {len(tkeys)} times, "
            f"{tkeys[0] if tkeys else '-'} .. {tkeys[-1] if tkeys else '-'})"
        )
    return truth.isel(time=[tkeys.index(k) for k in keys])


def plot_forecast_maps(
    forecast: xr.Dataset,
    truth: xr.Dataset,
    path: str | os.PathLike,
    tracks: str | os.PathLike | pd.DataFrame | None = None,
    max_leads: int | None = None,
    error: bool = False,
    stride: int | None = None,
    coastlines: bool = True,
) -> Path:
    """Truth and forecast side by side, one row per lead time (the paper's Figure 7), as PNG.

    forecast / truth: U850, V850 (m s-1), PSL (Pa) on (time, lat, lon); truth must contain
    every forecast time (extra times are ignored). Columns: truth, forecast and, with
    ``error=True``, forecast minus truth (PSL in hPa, wind-difference arrows; same grid
    required). Shared PSL colour scale and arrow scale. ``tracks``: a tracks CSV / DataFrame
    (storm_id, time, lat, lon) drawn dashed with the true centre at each valid time circled.
    ``max_leads``: plot only the first n lead times. Returns the written path.
    """
    forecast = _check_vars(forecast, "plot_forecast_maps forecast")
    truth = _check_vars(truth, "plot_forecast_maps truth")
    if max_leads is not None:
        if int(max_leads) < 1:
            raise ValueError(f"max_leads must be >= 1, got {max_leads}")
        forecast = forecast.isel(time=slice(0, int(max_leads)))
    truth = _align_truth(forecast, truth)
    forecast, truth = forecast[list(_VARS)].load(), truth[list(_VARS)].load()
    if error:
        same = forecast.sizes["lat"] == truth.sizes["lat"] and forecast.sizes["lon"] == truth.sizes["lon"]
        if not same or not (np.allclose(forecast["lat"], truth["lat"])
                            and np.allclose(forecast["lon"], truth["lon"])):
            raise ValueError("plot_forecast_maps: error=True needs truth and forecast on the same lat/lon grid")
    track_df = _read_tracks(tracks, "true") if tracks is not None else None

    box = _Box.of(forecast)
    stride = int(stride) if stride else _auto_stride(forecast)
    psl_all = np.concatenate([forecast["PSL"].values.ravel(), truth["PSL"].values.ravel()]) / 100.0
    psl_range = (math.floor(np.nanmin(psl_all)), math.ceil(np.nanmax(psl_all)))
    speeds = np.hypot(np.concatenate([forecast["U850"].values.ravel(), truth["U850"].values.ravel()]),
                      np.concatenate([forecast["V850"].values.ravel(), truth["V850"].values.ravel()]))
    panel_w = 5.0
    scale, key_speed = _arrow_scale(speeds, 0.9 * panel_w * stride / forecast.sizes["lon"])
    if error:
        d = (forecast["PSL"].values - truth["PSL"].values) / 100.0
        lim = max(float(np.nanmax(np.abs(d))), 0.5)
        err_range = (-lim, lim)

    n = forecast.sizes["time"]
    ncols = 3 if error else 2
    aspect = (box.lat_max - box.lat_min) / (box.lon_max - box.lon_min)
    fig = new_figure((ncols * panel_w, n * (0.9 * panel_w * aspect + 0.45) + 1.2))
    model = str(forecast.attrs.get("model", "")) or "model"
    leads = (forecast["forecast_period"].values.astype(float) if "forecast_period" in forecast.coords
             else np.full(n, np.nan))
    keys = [_time_key(t) for t in forecast["time"].values]
    window = (keys[0], keys[-1])
    meshes: dict[str, Any] = {}
    for i in range(n):
        lead = "" if np.isnan(leads[i]) else f", lead {leads[i]:+g} h"
        when = f"{_time_label(forecast['time'].values[i])}{lead}"
        panels = [("truth", truth.isel(time=i), f"Truth  {when}"),
                  ("forecast", forecast.isel(time=i), f"Forecast ({model})  {when}")]
        if error:
            diff = forecast.isel(time=i) - truth.isel(time=i)
            panels.append(("error", diff, f"Forecast $-$ truth  {when}"))
        for j, (kind, frame, title) in enumerate(panels):
            ax = fig.add_subplot(n, ncols, i * ncols + j + 1, projection=box.proj)
            mesh, q = _draw(ax, box, frame, psl_range=err_range if kind == "error" else psl_range,
                            scale=scale, stride=stride, diff=kind == "error")
            _style_axes(ax, box, coastlines, labels=(i == n - 1, j == 0))
            if track_df is not None and kind != "error":
                _overlay_truth_track(ax, box, track_df, keys[i], window)
            ax.set_title(title, fontsize=8, loc="left")
            if i == 0:
                _key(ax, q, key_speed)
            meshes[kind] = mesh
    axes = fig.axes
    psl_axes = [a for k, a in enumerate(axes) if k % ncols < 2]
    fig.colorbar(meshes["truth"], ax=psl_axes, orientation="horizontal", shrink=0.5, pad=0.03,
                 aspect=40, label="Sea-level pressure (hPa)")
    if error:
        fig.colorbar(meshes["error"], ax=[a for k, a in enumerate(axes) if k % ncols == 2],
                     orientation="horizontal", shrink=0.9, pad=0.03, aspect=20,
                     label="PSL error (hPa)")
    basin = forecast.attrs.get("basin", "")
    fig.suptitle(f"U850/V850 wind vectors and sea-level pressure{f' — {basin}' if basin else ''}",
                 fontsize=10)
    return save_png(fig, path)


# --------------------------------------------------------------------------- track map


def plot_track_map(
    true_tracks: str | os.PathLike | pd.DataFrame,
    forecast_tracks: str | os.PathLike | pd.DataFrame | None,
    path: str | os.PathLike,
    basin: Any | None = None,
    coastlines: bool = True,
    restrict_to_forecast: bool = True,
) -> Path:
    """True (solid, black) vs forecast (dashed, red) cyclone tracks on a map, as PNG.

    Tracks: CSV paths or DataFrames with columns time, lat, lon (degrees; any longitude
    convention) and an id column (storm_id / track_id). ``basin``: a basin name, box or
    :class:`~hurricane_ode.data.basins.Basin` for the map extent (default: the tracks'
    extent plus 5 degrees). With ``restrict_to_forecast`` true storms are drawn only over
    the forecast tracks' time window. Returns the written path.
    """
    truth = _read_tracks(true_tracks, "true")
    fc = _read_tracks(forecast_tracks, "forecast") if forecast_tracks is not None else None
    if fc is not None and len(fc) and restrict_to_forecast:
        lo, hi = fc["_key"].min(), fc["_key"].max()
        truth = truth[(truth["_key"] >= lo) & (truth["_key"] <= hi)]
    if basin is not None:
        from hurricane_ode.data.basins import get_basin

        b = get_basin(basin)
        box = _Box(b.lat_min, b.lat_max, b.lon_min, b.lon_max)
    else:
        pts = pd.concat([d for d in (truth, fc) if d is not None and len(d)], ignore_index=True) \
            if (len(truth) or (fc is not None and len(fc))) else None
        if pts is None:
            raise ValueError("plot_track_map: no track points to plot (give basin= for an empty map)")
        lon = np.radians(pts["lon"].values.astype(float))
        centre = math.degrees(math.atan2(np.sin(lon).mean(), np.cos(lon).mean()))
        x = np.mod(pts["lon"].values - centre + 180.0, 360.0) - 180.0
        half = min(max(abs(x.min()), abs(x.max())) + 5.0, 180.0)
        lat = pts["lat"].values.astype(float)
        box = _Box(max(lat.min() - 5, -90), min(lat.max() + 5, 90), centre - half, centre + half)
    aspect = (box.lat_max - box.lat_min) / (box.lon_max - box.lon_min)
    fig = new_figure((8.0, max(8.0 * aspect, 2.5) + 1.2))
    ax = fig.add_subplot(1, 1, 1, projection=box.proj)
    _style_axes(ax, box, coastlines)
    if len(truth):
        _draw_tracks(ax, box, truth, color="k", style="-", marker="o", label="true track",
                     annotate=True)
    if fc is not None and len(fc):
        _draw_tracks(ax, box, fc, color="tab:red", style="--", marker="^", label="forecast track")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    keys = sorted(pd.concat([truth["_key"]] + ([fc["_key"]] if fc is not None else [])))
    span = f"  {keys[0][:16].replace('T', ' ')} .. {keys[-1][:16].replace('T', ' ')}" if keys else ""
    ax.set_title(f"Cyclone tracks{span}", fontsize=9, loc="left")
    return save_png(fig, path)

