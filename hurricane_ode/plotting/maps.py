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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from hurricane_ode.errors import InputError, InputTypeError
from hurricane_ode.plotting._common import check_png, finish, new_figure
from hurricane_ode.plotting._mapkit import (  # noqa: F401  (_Box is used by tests)
    _VARS,
    _arrow_scale,
    _auto_stride,
    _Box,
    _check_vars,
    _coast_segments,
    _crop,
    _draw,
    _draw_tracks,
    _frame,
    _key,
    _overlay_truth_track,
    _read_tracks,
    _style_axes,
    _time_label,
    storm_region,
)
from hurricane_ode.timeutil import time_key

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_wind_map", "plot_forecast_maps", "plot_track_map", "storm_region"]



# --------------------------------------------------------------------------- wind map


def plot_wind_map(
    ds: xr.Dataset,
    time: int | Any = 0,
    ax: Any | None = None,
    title: str | None = None,
    stride: int | None = None,
    coastlines: bool = True,
    path: str | os.PathLike | None = None,
) -> Figure:
    """One wind-vector map: PSL shading (hPa, colour bar) and contours, U850/V850 arrows
    (key arrow in m s-1), coastlines, gridline labels, on the dataset's lat/lon box.

    Parameters
    ----------
    ds : U850, V850 (m s-1), PSL (Pa) on (time, lat, lon).
    time : an index into ``time`` or a time (cftime / ISO string).
    ax : a cartopy GeoAxes to draw into (default: a new Agg figure).
    title : the panel title (default: variables, valid time and lead).
    stride : plot every n-th arrow (default: ~22 arrows along the longer side).
    coastlines : draw coastlines (offline Natural Earth).
    path : also write the figure there as PNG (atomic).

    Returns
    -------
    matplotlib.figure.Figure
        The figure holding the map (``ax``'s figure when ``ax`` is given); the map is its
        first Axes.
    """
    check_png(path)
    ds = _check_vars(ds, "plot_wind_map")
    frame = _frame(ds, time).load()
    box = _Box.of(ds)
    stride = int(stride) if stride else _auto_stride(ds)
    if stride < 1:
        raise InputError(f"stride must be a positive integer, got {stride}")
    psl = np.asarray(frame["PSL"].values, dtype=float) / 100.0
    rng = (float(np.nanmin(psl)), float(np.nanmax(psl)))
    speed = np.hypot(frame["U850"].values.astype(float), frame["V850"].values.astype(float))
    if ax is None:
        aspect = (box.lat_max - box.lat_min) / (box.lon_max - box.lon_min)
        fig = new_figure((8.0, 8.0 * aspect + 1.6))
        ax = fig.add_subplot(1, 1, 1, projection=box.proj)
    elif not hasattr(ax, "projection"):
        raise InputTypeError("plot_wind_map: ax must be a cartopy GeoAxes (created with projection=...)")
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
    return finish(ax.figure, path)


# --------------------------------------------------------------------------- forecast panels


def _align_truth(forecast: xr.Dataset, truth: xr.Dataset) -> xr.Dataset:
    keys = [time_key(t) for t in forecast["time"].values]
    tkeys = [time_key(t) for t in truth["time"].values]
    missing = [k for k in keys if k not in tkeys]
    if missing:
        raise InputError(
            f"plot_forecast_maps: truth lacks forecast time(s) {missing[:5]}"
            f"{' ...' if len(missing) > 5 else ''} (truth has {len(tkeys)} times, "
            f"{tkeys[0] if tkeys else '-'} .. {tkeys[-1] if tkeys else '-'})"
        )
    return truth.isel(time=[tkeys.index(k) for k in keys])


def plot_forecast_maps(
    forecast: xr.Dataset,
    truth: xr.Dataset,
    path: str | os.PathLike | None = None,
    tracks: str | os.PathLike | pd.DataFrame | None = None,
    max_leads: int | None = None,
    error: bool = False,
    stride: int | None = None,
    coastlines: bool = True,
    leads: Any = None,
    region: tuple[float, float, float, float] | None = None,
    storm: str | None = None,
) -> Figure:
    """Truth and forecast side by side, one row per lead time (the paper's Figure 7).

    Parameters
    ----------
    forecast, truth : U850, V850 (m s-1), PSL (Pa) on (time, lat, lon); truth must contain
        every forecast time (extra times are ignored).
    path : PNG to write (adaptive palette, atomic); None: only return the Figure.
    tracks : tracks CSV (IBTrACS or storm_id,time,lat,lon) / DataFrame, drawn dashed with the
        true centre at each valid time circled.
    max_leads : plot only the first n lead times.
    error : add a forecast-minus-truth column (same grid required).
    stride : every n-th wind arrow (default: ~22 along the longer side).
    coastlines : draw coastlines (offline Natural Earth).
    leads : lead hours to plot (a subset of ``forecast_period``), e.g. ``[6, 12, 24, 48]``.
    region : zoom to ``(lat0, lat1, lon0, lon1)``.
    storm : zoom on this storm id of ``tracks`` (its fixes over the forecast window, padded by
        7.5 degrees) and draw only its track.

    Returns
    -------
    matplotlib.figure.Figure
        Rows of truth | forecast (| error) panels, one row per lead; also written to ``path``
        when given.
    """
    check_png(path)
    forecast = _check_vars(forecast, "plot_forecast_maps forecast")
    truth = _check_vars(truth, "plot_forecast_maps truth")
    if max_leads is not None:
        if int(max_leads) < 1:
            raise InputError(f"max_leads must be >= 1, got {max_leads}")
        forecast = forecast.isel(time=slice(0, int(max_leads)))
    if leads is not None:
        if "forecast_period" not in forecast.coords:
            raise InputError("leads= needs the forecast's forecast_period coordinate")
        want = np.atleast_1d(np.asarray(leads, dtype=float))
        have = forecast["forecast_period"].values.astype(float)
        missing = [f"{x:g}" for x in want if not np.isclose(have, x).any()]
        if missing:
            raise InputError(f"lead(s) {missing} h not in the forecast (has {', '.join(f'{h:g}' for h in have)} h)")
        forecast = forecast.isel(time=[i for i, h in enumerate(have) if np.isclose(want, h).any()])
    if storm is not None:
        if tracks is None:
            raise InputError("storm= needs tracks= (the best tracks holding that storm)")
        region, tracks = storm_region(tracks, storm, [time_key(t) for t in forecast["time"].values])
    if region is not None:
        forecast, truth = _crop(forecast, region), _crop(truth, region)
    truth = _align_truth(forecast, truth)
    forecast, truth = forecast[list(_VARS)].load(), truth[list(_VARS)].load()
    if error:
        same = forecast.sizes["lat"] == truth.sizes["lat"] and forecast.sizes["lon"] == truth.sizes["lon"]
        if not same or not (np.allclose(forecast["lat"], truth["lat"])
                            and np.allclose(forecast["lon"], truth["lon"])):
            raise InputError("plot_forecast_maps: error=True needs truth and forecast on the same lat/lon grid")
    track_df = _read_tracks(tracks, "true") if tracks is not None else None

    box = _Box.of(forecast)
    coast = _coast_segments(box) if coastlines else None
    stride = int(stride) if stride else _auto_stride(forecast)
    psl_all = np.concatenate([forecast["PSL"].values.ravel(), truth["PSL"].values.ravel()]) / 100.0
    psl_range = (math.floor(np.nanmin(psl_all)), math.ceil(np.nanmax(psl_all)))
    speeds = np.hypot(np.concatenate([forecast["U850"].values.ravel(), truth["U850"].values.ravel()]),
                      np.concatenate([forecast["V850"].values.ravel(), truth["V850"].values.ravel()]))
    panel_w = 4.2
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
    keys = [time_key(t) for t in forecast["time"].values]
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
            _style_axes(ax, box, coastlines, labels=(i == n - 1, j == 0), coast=coast)
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
    zoom = f" — storm {storm}" if storm is not None else ""
    fig.suptitle(f"U850/V850 wind vectors and sea-level pressure{f' — {basin}' if basin else ''}{zoom}",
                 fontsize=10)
    return finish(fig, path, dpi=100, compact=True)


# --------------------------------------------------------------------------- track map


def plot_track_map(
    true_tracks: str | os.PathLike | pd.DataFrame,
    forecast_tracks: str | os.PathLike | pd.DataFrame | None,
    path: str | os.PathLike | None = None,
    basin: Any | None = None,
    coastlines: bool = True,
    restrict_to_forecast: bool = True,
) -> Figure:
    """True (solid, black) vs forecast (dashed, red) cyclone tracks on a map.

    Parameters
    ----------
    true_tracks, forecast_tracks : CSV paths or DataFrames with columns time, lat, lon
        (degrees; any longitude convention) and an id column (storm_id / track_id);
        ``forecast_tracks`` may be None (true tracks only).
    path : also write the figure there as PNG (adaptive palette, atomic).
    basin : a basin name, box or :class:`~hurricane_ode.data.basins.Basin` for the map
        extent (default: the tracks' extent plus 5 degrees).
    coastlines : draw coastlines (offline Natural Earth).
    restrict_to_forecast : draw true storms only over the forecast tracks' time window.

    Returns
    -------
    matplotlib.figure.Figure
        One map with both sets of tracks; also written to ``path`` when given.
    """
    check_png(path)
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
            raise InputError("plot_track_map: no track points to plot (give basin= for an empty map)")
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
    return finish(fig, path, dpi=100, compact=True)

