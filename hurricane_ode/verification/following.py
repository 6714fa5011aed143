"""Track verification by following each storm through a forecast, as operational trackers do.

:func:`~hurricane_ode.verification.matching.match_tracks` pairs centres with fixes at each
valid time, by distance only, so a forecast is scored only where it happens to have a centre
within the hit radius of a true storm; a forecast that leaves a storm behind is scored only on
the cases it got nearly right, or on another storm that wandered near. That flatters slow
forecasts: persistence "hits" a fast storm only when some other centre lies near its new fix.

Here each storm with a best-track fix at the initial time (inside the domain and farther from
its edge than the tracker's radius) is followed instead, as the GFDL vortex tracker does
(Marchok 2002): from its fix at the initial time, lead by lead, the forecast centre nearest to a
first guess (the last followed position moved on with the last followed motion) within
``search_km`` becomes its next position, each centre used by one storm at most.
A storm with no centre in range is lost for the rest of that forecast (``followed`` False), not
dropped. Track error is the great-circle distance from the followed position to the storm's
fix at the valid time.

Beside every followed case the rows carry two track-only references computed from the best
track, as the National Hurricane Center's annual forecast verification reports do:

* ``persistence_km``: the storm left at its initial fix (the distance it moved);
* ``xtrp_km``: its fix at the initial time moved on with its mean motion over the preceding
  ``past_hours`` (the XTRP aid; Atlantic CLIPER's persistence-of-motion part).

Neither is a gridded forecast: they tell how far a forecast is from "no motion" and from
"yesterday's motion" on the very same cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from hurricane_ode.timeutil import time_key
from hurricane_ode.verification.geometry import great_circle_km
from hurricane_ode.verification.matching import pair_centres

__all__ = ["follow_storms", "summarise_following", "FOLLOW_COLUMNS", "FOLLOW_SUMMARY_COLUMNS",
           "DEFAULT_SEARCH_KM", "DEFAULT_PAST_HOURS", "FOLLOW_NOTE"]

#: radius (km) around the first guess within which the next centre must lie
DEFAULT_SEARCH_KM = 300.0
#: hours of past best-track motion the XTRP reference extrapolates
DEFAULT_PAST_HOURS = 12.0

FOLLOW_NOTE = (
    f"each storm with a fix at the initial time followed lead by lead from that fix: the nearest centre "
    f"within {DEFAULT_SEARCH_KM:g} km of the last position moved on with the last motion, else lost "
    f"(follow_kept = followed / cases with a verifying fix); follow_track_error_km averages the followed "
    f"cases; follow_persistence_km (storm left at its initial fix) and follow_xtrp_km (its past "
    f"{DEFAULT_PAST_HOURS:g} h best-track motion extrapolated) are best-track references on the same cases"
)
FOLLOW_COLUMNS = ["storm", "time", "lead_time_h", "followed", "lat", "lon", "true_lat", "true_lon",
                  "track_error_km", "persistence_km", "xtrp_km", "psl_error_hpa"]
FOLLOW_SUMMARY_COLUMNS = ["lead_time_h", "n_follow_cases", "n_followed", "kept", "follow_track_error_km",
                          "persistence_km", "xtrp_km"]


def _wrap(dlon: Any) -> Any:
    return (np.asarray(dlon, float) + 180.0) % 360.0 - 180.0


def follow_storms(
    centres: pd.DataFrame,
    start: pd.DataFrame,
    truth: pd.DataFrame,
    valid_times: Sequence[Any],
    lead_hours: Sequence[float],
    search_km: float = DEFAULT_SEARCH_KM,
    past: pd.DataFrame | None = None,
    past_hours: float = DEFAULT_PAST_HOURS,
) -> pd.DataFrame:
    """Follow every storm of ``start`` through the forecast ``centres``; one row per storm and lead.

    Parameters
    ----------
    centres : forecast centres (``time``, ``lat``, ``lon``, ``min_psl_pa``), as ``find_centres`` gives.
    start : the storms to follow: ``storm_id``, ``lat``, ``lon`` of their fixes at the initial time.
    truth : the fixes that verify (``storm_id``, ``time``, ``lat``, ``lon``, ``min_psl_pa``); a
        storm with no fix at a valid time (dissipated, or where the tracker cannot see) is not
        scored there.
    valid_times, lead_hours : the forecast's valid times and their leads (hours), same order.
    search_km : farthest a next centre may lie from the first guess (km).
    past : fixes ``past_hours`` before the initial time (``storm_id``, ``lat``, ``lon``) for the
        XTRP reference; storms without one get NaN there.
    past_hours : how far back ``past`` lies (hours).

    Returns
    -------
    DataFrame with :data:`FOLLOW_COLUMNS`; ``time`` as ISO keys, distances in km, pressure in hPa.
    """
    order = np.argsort(np.asarray(lead_hours, float), kind="stable")
    leads = np.asarray(lead_hours, float)[order]
    keys = [time_key(valid_times[i]) for i in order]
    fkeys = centres["time"].map(time_key).to_numpy() if len(centres) else np.array([])
    tkeys = truth["time"].map(time_key).to_numpy() if len(truth) else np.array([])
    ids = list(start["storm_id"])
    lat0, lon0 = start["lat"].to_numpy(float), start["lon"].to_numpy(float)
    pos = np.stack([lat0, lon0], axis=1)
    vel = np.zeros_like(pos)  # degrees per hour
    alive = np.ones(len(ids), bool)
    vel_past = np.full_like(pos, np.nan)
    if past is not None and len(past):
        by_id = {s: (la, lo) for s, la, lo in zip(past["storm_id"], past["lat"], past["lon"])}
        for k, s in enumerate(ids):
            if s in by_id:
                la, lo = by_id[s]
                vel_past[k] = [(lat0[k] - la) / past_hours, _wrap(lon0[k] - lo) / past_hours]
    rows = []
    t_prev = 0.0
    for key, lead in zip(keys, leads):
        dt = lead - t_prev
        guess = pos + vel * dt
        f = centres[fkeys == key] if len(centres) else centres
        f_lat, f_lon = f["lat"].to_numpy(float), f["lon"].to_numpy(float)
        f_psl = f["min_psl_pa"].to_numpy(float)
        live = np.flatnonzero(alive)
        pairs = pair_centres(guess[live, 0], guess[live, 1], f_lat, f_lon, search_km) if len(live) and len(f) else []
        got = {int(live[i]): j for i, j, _ in pairs}
        for k in live.tolist():
            if k in got:
                new = np.array([f_lat[got[k]], f_lon[got[k]]])
                vel[k] = [(new[0] - pos[k, 0]) / dt, _wrap(new[1] - pos[k, 1]) / dt] if dt > 0 else 0.0
                pos[k] = new
            else:
                alive[k] = False
        t_prev = lead
        t = truth[tkeys == key] if len(truth) else truth
        fix = {s: (la, lo, p) for s, la, lo, p in zip(t["storm_id"], t["lat"], t["lon"], t["min_psl_pa"])}
        for k, s in enumerate(ids):
            tl, tn, tp = fix.get(s, (np.nan, np.nan, np.nan))
            ok = bool(alive[k])
            fc_psl = float(f_psl[got[k]]) if ok else np.nan  # a storm still followed was paired now
            xl, xn = lat0[k] + vel_past[k, 0] * lead, lon0[k] + vel_past[k, 1] * lead
            rows.append({
                "storm": s, "time": key, "lead_time_h": float(lead), "followed": ok,
                "lat": pos[k, 0] if ok else np.nan, "lon": pos[k, 1] if ok else np.nan,
                "true_lat": tl, "true_lon": tn,
                "track_error_km": float(great_circle_km(pos[k, 0], pos[k, 1], tl, tn)) if ok else np.nan,
                "persistence_km": float(great_circle_km(lat0[k], lon0[k], tl, tn)),
                "xtrp_km": float(great_circle_km(xl, xn, tl, tn)),
                "psl_error_hpa": (fc_psl - float(tp)) / 100.0 if ok else np.nan,
            })
    return pd.DataFrame(rows, columns=FOLLOW_COLUMNS)


def summarise_following(rows: pd.DataFrame) -> pd.DataFrame:
    """Per lead: cases (storms with a verifying fix), how many were followed, the fraction
    ``kept``, and the mean track error of the followed cases beside the best-track persistence
    and XTRP errors **of those same cases** (km)."""
    out = []
    for lead, g in rows.groupby("lead_time_h", sort=True):
        cases = g[np.isfinite(g["true_lat"].to_numpy(float))]
        kept = cases[cases["followed"].astype(bool)]
        out.append({
            "lead_time_h": float(lead), "n_follow_cases": len(cases), "n_followed": len(kept),
            "kept": len(kept) / len(cases) if len(cases) else np.nan,
            "follow_track_error_km": kept["track_error_km"].mean() if len(kept) else np.nan,
            "persistence_km": kept["persistence_km"].mean() if len(kept) else np.nan,
            "xtrp_km": kept["xtrp_km"].mean() if len(kept) else np.nan,
        })
    return pd.DataFrame(out, columns=FOLLOW_SUMMARY_COLUMNS)
