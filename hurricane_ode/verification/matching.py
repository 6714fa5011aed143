"""Matching forecast cyclone centres to true tracks: hits, misses, false alarms, errors by lead.

At every verified valid time the true fixes (inside the scored domain) and the forecast
centres are paired greedily, closest first, each used once, when closer than
``max_distance_km`` (great circle). An unpaired true fix is a **miss**, an unpaired
forecast centre a **false alarm**; nothing is dropped. Scores per lead time, each with
its count: POD = hits / (hits + misses), ``pod_init`` = the same over the storms that already
had a best-track fix at the initial time (a storm born during the lead cannot be forecast
from the inputs; track-forecast verification usually scores only those), FAR = false alarms / (hits + false alarms),
track error (km, mean over hits), central-pressure error (hPa, forecast minus truth) and
wind error (m s-1; note that a gridded 850 hPa maximum wind is not a best track's 10 m
sustained wind, so read wind errors as a consistency check, not as intensity skill).

True fixes outside the scored domain, or closer to a regional domain's edge than the
tracker can see (``margin_km``, its closed-isobar radius), are excluded and counted in
``n_excluded``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from hurricane_ode.errors import InputError
from hurricane_ode.timeutil import time_key
from hurricane_ode.verification.geometry import great_circle_km
from hurricane_ode.verification.tracker import _hours, _sorted_times

__all__ = ["pair_centres", "in_domain", "match_tracks", "track_errors", "summarise_by_lead",
           "SUMMARY_COLUMNS"]

SUMMARY_COLUMNS = [
    "lead_time_h", "n_true", "hits", "misses", "false_alarms", "pod", "far", "pod_init", "n_true_init",
    "track_error_km", "n_track", "psl_error_hpa", "psl_bias_hpa", "n_psl",
    "wind_error_ms", "wind_bias_ms", "n_wind", "n_excluded",
]


def pair_centres(
    truth_lat: np.ndarray, truth_lon: np.ndarray, fc_lat: np.ndarray, fc_lon: np.ndarray,
    max_distance_km: float,
) -> list[tuple[int, int, float]]:
    """Greedy closest-first one-to-one pairs ``(truth index, forecast index, km)`` within range."""
    if len(truth_lat) == 0 or len(fc_lat) == 0:
        return []
    d = great_circle_km(np.asarray(truth_lat, float)[:, None], np.asarray(truth_lon, float)[:, None],
                        np.asarray(fc_lat, float)[None, :], np.asarray(fc_lon, float)[None, :])
    order = np.argsort(d, axis=None, kind="stable")
    used_t: set[int] = set()
    used_f: set[int] = set()
    pairs = []
    for flat in order:
        i, j = divmod(int(flat), d.shape[1])
        if d[i, j] > max_distance_km:
            break
        if i in used_t or j in used_f:
            continue
        used_t.add(i)
        used_f.add(j)
        pairs.append((i, j, float(d[i, j])))
    return pairs


def in_domain(lat: Any, lon: Any, box: tuple[float, float, float, float] | None, margin_km: float = 0.0,
              periodic: bool = False) -> np.ndarray:
    """True where points lie inside ``box = (lat_min, lat_max, lon_min, lon_max)`` by ``margin_km``.

    Longitudes in any convention are brought onto the box's axis; a periodic (global) box
    only has latitude edges.
    """
    lat = np.asarray(lat, float)
    if box is None:
        return np.ones(lat.shape, bool)
    lat0, lat1, lon0, lon1 = box
    m_lat = margin_km / 111.195
    ok = (lat >= lat0 + m_lat) & (lat <= lat1 - m_lat)
    if not periodic:
        lon = lon0 + np.mod(np.asarray(lon, float) - lon0, 360.0)
        m_lon = margin_km / (111.195 * np.maximum(np.cos(np.radians(lat)), 0.05))
        ok &= (lon >= lon0 + m_lon) & (lon <= lon1 - m_lon)
    return ok


def _id_column(df: pd.DataFrame, given: Hashable | None) -> Hashable | None:
    if given is not None:
        if given not in df.columns:
            raise InputError(f"id column {given!r} not in {list(df.columns)}")
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
    valid_times: Iterable[Any] | None = None,
    calendar: str = "standard",
    init_storms: Iterable[Hashable] | None = None,
) -> pd.DataFrame:
    """Match true centres to forecast centres at the same time, one to one.

    Parameters
    ----------
    forecast, truth : tables with ``time, lat, lon, min_psl_pa, max_wind_ms`` (``min_psl_pa`` /
        ``max_wind_ms`` may be NaN in the truth).
    init_time : lead times are hours since it (else the forecast's ``lead_time_h`` column,
        else its earliest time).
    max_distance_km : farthest a match may be.
    truth_id : the truth's id column (default ``storm_id`` / ``track_id``).
    valid_times : the forecast's valid times. Give them: a time at which the forecast has
        no centre at all is otherwise unknown, and its true storms would not count as misses.
    calendar : how ISO-string times are read.
    init_storms : ids of the storms present at the initial time (``at_init``); default: those
        with a fix in ``truth`` at ``init_time``.

    Returns
    -------
    One row per true centre at a forecast valid time and per unmatched forecast centre:
    ``storm``, ``time``, ``lead_time_h``, ``matched``, ``false_alarm``, ``at_init`` (the storm
    had a fix at ``init_time``), ``track_error_km``,
    ``psl_error_pa`` / ``psl_error_hpa`` and ``wind_error_ms`` (forecast minus truth; NaN if
    unmatched).
    """
    need = ("time", "lat", "lon", "min_psl_pa", "max_wind_ms")
    for name, df in (("forecast", forecast), ("truth", truth)):
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise InputError(f"{name} tracks lack columns {missing} (have {list(df.columns)})")
    tid = _id_column(truth, truth_id)
    fkeys = forecast["time"].map(time_key)
    tkeys = truth["time"].map(time_key)
    times = list(valid_times) if valid_times is not None else (
        _sorted_times(forecast["time"]) if len(forecast) else [])
    if "lead_time_h" in forecast.columns and valid_times is None:
        lead_by_key = dict(zip(fkeys, forecast["lead_time_h"].astype(float)))
    else:
        ref = init_time if init_time is not None else (times[0] if times else None)
        lead_by_key = {time_key(t): _hours(ref, t, calendar) for t in times}
    existing: set = set(init_storms) if init_storms is not None else set()
    if init_storms is None and init_time is not None and tid is not None:
        existing = set(truth.loc[tkeys.values == time_key(init_time), tid])
    rows = []
    for key, lead in sorted(lead_by_key.items()):
        f = forecast[fkeys.values == key]
        t = truth[tkeys.values == key]
        pairs = pair_centres(t["lat"].values, t["lon"].values, f["lat"].values, f["lon"].values,
                             max_distance_km)
        by_truth = {i: (j, d) for i, j, d in pairs}
        for i in range(len(t)):
            r = t.iloc[i]
            out = {"storm": r[tid] if tid is not None else None, "time": key, "lead_time_h": lead,
                   "matched": False, "false_alarm": False,
                   "at_init": tid is not None and r[tid] in existing, "track_error_km": np.nan,
                   "psl_error_pa": np.nan, "psl_error_hpa": np.nan, "wind_error_ms": np.nan}
            if i in by_truth:
                j, d = by_truth[i]
                dp = float(f["min_psl_pa"].values[j]) - float(r["min_psl_pa"])
                out.update(matched=True, track_error_km=d, psl_error_pa=dp, psl_error_hpa=dp / 100.0,
                           wind_error_ms=float(f["max_wind_ms"].values[j]) - float(r["max_wind_ms"]))
            rows.append(out)
        paired_f = {j for _, j, _ in pairs}
        for j in range(len(f)):
            if j not in paired_f:
                rows.append({"storm": None, "time": key, "lead_time_h": lead, "matched": False,
                             "false_alarm": True, "at_init": False, "track_error_km": np.nan, "psl_error_pa": np.nan,
                             "psl_error_hpa": np.nan, "wind_error_ms": np.nan})
    cols = ["storm", "time", "lead_time_h", "matched", "false_alarm", "at_init", "track_error_km",
            "psl_error_pa", "psl_error_hpa", "wind_error_ms"]
    return pd.DataFrame(rows, columns=cols)


def summarise_by_lead(matches: pd.DataFrame, excluded: pd.Series | None = None) -> pd.DataFrame:
    """Per-lead POD, FAR, track/pressure/wind errors with counts from :func:`match_tracks` rows.

    ``excluded``: true fixes left out of the domain, counted per ``lead_time_h`` (a Series).
    """
    out = []
    leads = sorted(set(matches["lead_time_h"].astype(float)) |
                   (set(excluded.index.astype(float)) if excluded is not None else set()))
    for lead in leads:
        g = matches[matches["lead_time_h"].astype(float) == lead]
        true = g[~g["false_alarm"]]
        hits = true[true["matched"]]
        n_hit, n_miss, n_fa = len(hits), len(true) - len(hits), int(g["false_alarm"].sum())
        psl = hits["psl_error_hpa"].dropna()
        wind = hits["wind_error_ms"].dropna()
        old = true[true["at_init"].astype(bool)] if "at_init" in true else true.iloc[:0]
        out.append({
            "lead_time_h": float(lead), "n_true": len(true), "hits": n_hit, "misses": n_miss,
            "false_alarms": n_fa,
            "pod": n_hit / len(true) if len(true) else np.nan,
            "far": n_fa / (n_hit + n_fa) if n_hit + n_fa else np.nan,
            "pod_init": float(old["matched"].mean()) if len(old) else np.nan, "n_true_init": len(old),
            "track_error_km": hits["track_error_km"].mean() if n_hit else np.nan, "n_track": n_hit,
            "psl_error_hpa": psl.abs().mean() if len(psl) else np.nan,
            "psl_bias_hpa": psl.mean() if len(psl) else np.nan, "n_psl": len(psl),
            "wind_error_ms": wind.abs().mean() if len(wind) else np.nan,
            "wind_bias_ms": wind.mean() if len(wind) else np.nan, "n_wind": len(wind),
            "n_excluded": int(excluded.get(lead, 0)) if excluded is not None else 0,
        })
    return pd.DataFrame(out, columns=SUMMARY_COLUMNS)


def track_errors(
    forecast: pd.DataFrame,
    truth: pd.DataFrame,
    init_time: Any | None = None,
    max_distance_km: float = 500.0,
    truth_id: Hashable | None = None,
    valid_times: Iterable[Any] | None = None,
    calendar: str = "standard",
) -> pd.DataFrame:
    """Track and intensity errors per lead time (see :func:`match_tracks` for the matching).

    Parameters
    ----------
    forecast, truth, init_time, max_distance_km, truth_id, valid_times, calendar
        As :func:`match_tracks`: the forecast and true centres, the initial time leads count
        from, the largest distance of a hit (km), the truth's id column, the valid times
        scored and the calendar of ISO-string times.

    Returns
    -------
    pandas.DataFrame
        One row per lead time; columns ``lead_time_h``, ``n_true`` (true centres at that
        time), ``n_matched`` (hits), ``n_missed``, ``n_false_alarms``, ``pod``, ``far``,
        ``track_error_km`` (mean over hits), ``psl_bias_pa`` / ``psl_mae_pa`` /
        ``psl_mae_hpa``, ``wind_bias_ms`` / ``wind_mae_ms``.
    """
    m = match_tracks(forecast, truth, init_time, max_distance_km, truth_id, valid_times, calendar)
    out = []
    for lead, g in m.groupby("lead_time_h", sort=True):
        true = g[~g["false_alarm"]]
        h = true[true["matched"]]
        n_fa = int(g["false_alarm"].sum())
        out.append({
            "lead_time_h": float(lead), "n_true": len(true), "n_matched": len(h),
            "n_missed": len(true) - len(h), "n_false_alarms": n_fa,
            "pod": len(h) / len(true) if len(true) else np.nan,
            "far": n_fa / (len(h) + n_fa) if len(h) + n_fa else np.nan,
            "track_error_km": h["track_error_km"].mean(),
            "psl_bias_pa": h["psl_error_pa"].mean(), "psl_mae_pa": h["psl_error_pa"].abs().mean(),
            "psl_mae_hpa": h["psl_error_hpa"].abs().mean(),
            "wind_bias_ms": h["wind_error_ms"].mean(), "wind_mae_ms": h["wind_error_ms"].abs().mean(),
        })
    cols = ["lead_time_h", "n_true", "n_matched", "n_missed", "n_false_alarms", "pod", "far",
            "track_error_km", "psl_bias_pa", "psl_mae_pa", "psl_mae_hpa", "wind_bias_ms", "wind_mae_ms"]
    return pd.DataFrame(out, columns=cols)
