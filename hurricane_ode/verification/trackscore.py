"""Track verification of gridded fields: detect centres, match best tracks, score by lead.

:func:`verify_fields` scores one ``(time, lat, lon)`` Dataset (a forecast, or the true
fields themselves to measure the tracker); :func:`verify_hindcast` scores every initial
time of a hindcast ``(init_time, lead_time, lat, lon)``. Both return the match table and
the per-lead summary (:data:`~hurricane_ode.verification.matching.SUMMARY_COLUMNS`).
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hurricane_ode.timeutil import time_key
from hurricane_ode.verification.besttrack import read_tracks, to_calendar
from hurricane_ode.verification.following import (
    DEFAULT_PAST_HOURS,
    follow_storms,
    summarise_following,
)
from hurricane_ode.verification.geometry import Grid
from hurricane_ode.verification.matching import in_domain, match_tracks, summarise_by_lead
from hurricane_ode.verification.tracker import _hours, find_centres

__all__ = ["verify_fields", "verify_hindcast", "domain_box", "DEFAULT_MATCH_KM"]

#: farthest a forecast centre may be from a true fix to count as a hit (km)
DEFAULT_MATCH_KM = 300.0


def domain_box(ds: xr.Dataset) -> tuple[tuple[float, float, float, float], bool]:
    """((lat_min, lat_max, lon_min, lon_max) of the grid's cell edges, periodic?)."""
    lat, lon = np.asarray(ds["lat"].values, float), np.asarray(ds["lon"].values, float)
    g = Grid(np.sort(lat), lon)
    box = (float(lat.min() - abs(g.dlat) / 2), float(lat.max() + abs(g.dlat) / 2),
           float(lon.min() - g.dlon / 2), float(lon.max() + g.dlon / 2))
    return box, g.periodic


def _calendar(ds: xr.Dataset, time_name: str) -> str:
    t = ds[time_name].values.ravel()[0]
    return getattr(t, "calendar", None) or ds[time_name].encoding.get("calendar") or "standard"


def _prepare_truth(tracks: Any, calendar: str) -> tuple[pd.DataFrame, int]:
    tr = read_tracks(tracks) if not (isinstance(tracks, pd.DataFrame) and "cftime" in tracks) else tracks
    return to_calendar(tr, calendar) if "cftime" not in tr else (tr, 0)


def verify_fields(
    fields: xr.Dataset,
    tracks: str | os.PathLike | pd.DataFrame,
    init_time: Any | None = None,
    max_distance_km: float = DEFAULT_MATCH_KM,
    tracker: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Detect centres in ``fields`` (time, lat, lon) and match them to ``tracks`` at every time.

    Parameters
    ----------
    fields : U850, V850, PSL on (time, lat, lon).
    tracks : best tracks (anything :func:`read_tracks` reads).
    init_time : lead times are hours since it (default: the first time).
    max_distance_km : hit radius.
    tracker : keyword arguments for :func:`find_centres`.

    Returns
    -------
    (matches, summary by lead, info). ``info["excluded"]`` lists the true fixes inside the
    domain but within the tracker's edge margin (with ``lead_time_h``); fixes outside the
    domain are ignored and counted in ``info["outside_domain"]``. ``info["followed"]``: every
    storm with a fix at the initial time followed through the fields (:func:`follow_storms`).
    """
    tracker = dict(tracker or {})
    cal = _calendar(fields, "time")
    truth, dropped = _prepare_truth(tracks, cal)
    box, periodic = domain_box(fields)
    margin = float(tracker.get("radius_km", 400.0))
    times = list(fields["time"].values)
    ref = init_time if init_time is not None else times[0]
    if isinstance(ref, str):
        from hurricane_ode.timeutil import parse_time

        ref = parse_time(ref, cal)
    # storms the inputs could show: a fix inside the domain at the initial time (pod_init)
    at_ref = truth[truth["time"] == time_key(ref)]
    init_storms = set(at_ref["storm_id"][in_domain(at_ref["lat"].values, at_ref["lon"].values, box, 0.0, periodic)])
    start = at_ref[in_domain(at_ref["lat"].values, at_ref["lon"].values, box, margin, periodic)]
    before = (ref - np.timedelta64(int(DEFAULT_PAST_HOURS * 3600), "s") if isinstance(ref, np.datetime64)
              else ref - timedelta(hours=DEFAULT_PAST_HOURS))
    past = truth[truth["time"] == time_key(before)]
    keys = {time_key(t) for t in times}
    truth = truth[truth["time"].isin(keys)]
    in_box = in_domain(truth["lat"].values, truth["lon"].values, box, 0.0, periodic)
    inside = in_domain(truth["lat"].values, truth["lon"].values, box, margin, periodic)
    centres = find_centres(fields, **tracker)
    # match against every fix in the box, then drop those near the edge: a centre found
    # next to an excluded storm is neither a hit nor a false alarm
    boxed = truth[in_box]
    m = match_tracks(centres, boxed, init_time=ref, max_distance_km=max_distance_km,
                     valid_times=times, calendar=cal, truth_id="storm_id", init_storms=init_storms)
    edge = truth[in_box & ~inside]
    out_keys = set(zip(edge["storm_id"], edge["time"]))
    if out_keys:
        m = m[[(s, t) not in out_keys for s, t in zip(m["storm"], m["time"])]].reset_index(drop=True)
    edge = edge.assign(lead_time_h=[(t - ref).total_seconds() / 3600.0 for t in edge["cftime"]])
    summary = summarise_by_lead(m, edge.groupby("lead_time_h").size() if len(edge) else None)
    leads = [_hours(ref, t, cal) for t in times]
    followed = follow_storms(centres, start, truth[inside], times, leads, past=past)
    info = {"followed": followed, "excluded": edge, "outside_domain": int((~in_box).sum()), "dropped_not_in_calendar": dropped,
            "domain": box, "edge_margin_km": margin}
    return m, summary, info


def verify_hindcast(
    hindcast: xr.Dataset,
    tracks: str | os.PathLike | pd.DataFrame,
    max_distance_km: float = DEFAULT_MATCH_KM,
    tracker: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Track verification of every initial time of a hindcast; see :func:`verify_fields`.

    Returns
    -------
    (matches with an ``init_time`` column, summary by lead over all initial times, info with
    the total ``n_excluded`` near the domain edge, ``dropped_not_in_calendar``, ``followed``
    (every storm followed through every forecast, :func:`follow_storms` rows with an
    ``init_time`` column) and ``follow_summary`` (:func:`summarise_following`)).
    """
    parts, edges, follows = [], [], []
    info: dict[str, Any] = {"edge_margin_km": float((tracker or {}).get("radius_km", 400.0)),
                            "dropped_not_in_calendar": 0}
    truth = read_tracks(tracks) if not isinstance(tracks, pd.DataFrame) else tracks
    for n in range(hindcast.sizes["init_time"]):
        one = hindcast.isel(init_time=n)
        fields = one.swap_dims({"lead_time": "valid_time"}).rename({"valid_time": "time"})
        fields = fields[["U850", "V850", "PSL"]].drop_vars(
            [c for c in ("lead_time", "forecast_period", "init_time") if c in fields.coords])
        init = one["init_time"].values.item()
        m, _, info = verify_fields(fields, truth, init, max_distance_km, tracker)
        parts.append(m.assign(init_time=time_key(init)))
        edges.append(info["excluded"])
        follows.append(info["followed"].assign(init_time=time_key(init)))
    matches = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    edge = pd.concat(edges, ignore_index=True) if edges else pd.DataFrame()
    summary = summarise_by_lead(matches, edge.groupby("lead_time_h").size() if len(edge) else None)
    followed = pd.concat(follows, ignore_index=True) if follows else pd.DataFrame()
    info = {**info, "n_excluded": len(edge), "followed": followed,
            "follow_summary": summarise_following(followed) if len(followed) else None}
    info.pop("excluded", None)
    return matches, summary, info
