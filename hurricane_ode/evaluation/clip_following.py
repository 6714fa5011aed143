"""Storms followed through a clip's forecast, for the paper's experiments (``score_model``).

The experiment runner scores clips cut from a tile store, which carry no best tracks. Matching
forecast centres to the truth's centres at each lead within a radius (``track_error_km``,
``detection_rate``) scores a forecast only where it happens to have a centre near a true one,
so a forecast that leaves a storm behind is scored on its few chance hits. Here, as in
:mod:`hurricane_ode.verification.following` (the GFDL vortex tracker's way), each storm the
tracker finds in the clip's **last observed input** is followed instead:

* its true track: the truth's own centres followed from that start, lead by lead (the
  tracker on the true fields is the reference, as for POD);
* the forecast's track: the forecast's centres followed from the same start;

and the forecast is scored on every lead where the true track goes on: ``follow_kept`` (the
fraction of those cases the forecast still follows), ``follow_track_error_km`` (great-circle
distance of the followed cases) and ``follow_persistence_km`` (the storm left at its start, on
the same cases). A storm the forecast loses stays lost for the rest of the clip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hurricane_ode.verification.following import FOLLOW_COLUMNS, follow_storms, summarise_following

__all__ = ["true_track", "follow_in_clip", "summarise_clip_following"]

_NO_FIXES = ["storm_id", "time", "lat", "lon", "min_psl_pa"]


def _keyed(centres: pd.DataFrame, keys: dict[float, str]) -> pd.DataFrame:
    """Centres whose ``time`` is a lead (hours) -> the same with the lead's string key."""
    out = centres.copy()
    out["time"] = [keys[round(float(t), 6)] for t in out["time"]] if len(out) else []
    return out


def _follow(centres: pd.DataFrame, start: pd.DataFrame, fixes: pd.DataFrame, leads_h: Sequence[float]) -> pd.DataFrame:
    """:func:`follow_storms` of ``start`` (storm ids = its row numbers) through centres timed by lead."""
    leads = [float(v) for v in leads_h]
    keys = {round(v, 6): f"lead{v:+011.4f}" for v in leads}
    first = pd.DataFrame({"storm_id": np.arange(len(start)), "lat": start["lat"].to_numpy(float),
                          "lon": start["lon"].to_numpy(float)})  # fmt: skip
    return follow_storms(_keyed(centres, keys), first, fixes, [keys[round(v, 6)] for v in leads], leads)


def true_track(start: pd.DataFrame, truth: pd.DataFrame, leads_h: Sequence[float]) -> pd.DataFrame:
    """The storms of ``start`` followed through the truth's centres: their fixes, the reference.

    Parameters
    ----------
    start : centres (``lat``, ``lon``) in the clip's last observed input, the storms to follow.
    truth : centres (``time`` = lead in hours, ``lat``, ``lon``, ``min_psl_pa``) in the true
        target frames, as ``find_centres`` gives them.
    leads_h : the target frames' leads (hours after the last observed input), ascending or not.

    Returns
    -------
    DataFrame of fixes (``storm_id`` = row of ``start``, ``time`` = lead key, ``lat``, ``lon``);
    a storm the tracker loses in the truth has no fix from then on. Depends on the clip only.
    """
    if not len(start):
        return pd.DataFrame(columns=_NO_FIXES)
    rows = _follow(truth, start, pd.DataFrame(columns=_NO_FIXES), leads_h)
    rows = rows[rows["followed"].astype(bool)]
    return pd.DataFrame({"storm_id": rows["storm"], "time": rows["time"], "lat": rows["lat"],
                         "lon": rows["lon"], "min_psl_pa": np.nan})  # fmt: skip


def follow_in_clip(
    start: pd.DataFrame, fixes: pd.DataFrame, forecast: pd.DataFrame, leads_h: Sequence[float]
) -> pd.DataFrame:
    """Follow the storms of ``start`` through one forecast; rows of :data:`FOLLOW_COLUMNS`.

    ``fixes`` is :func:`true_track` of the same ``start``; ``forecast`` holds the forecast's
    centres timed by lead, as the truth's are there.
    """
    if not len(start):
        return pd.DataFrame(columns=FOLLOW_COLUMNS)
    return _follow(forecast, start, fixes, leads_h)


def summarise_clip_following(rows: pd.DataFrame, lead_h: float | None = None) -> dict[str, float]:
    """``n_follow_cases``, ``follow_kept``, ``follow_track_error_km``, ``follow_persistence_km``
    over ``rows`` (all leads pooled, or the one ``lead_h``)."""
    if lead_h is not None and len(rows):
        rows = rows[np.isclose(rows["lead_time_h"].to_numpy(float), lead_h)]
    if not len(rows):
        nan = float("nan")
        return {"n_follow_cases": 0, "follow_kept": nan, "follow_track_error_km": nan,
                "follow_persistence_km": nan}  # fmt: skip
    pooled = summarise_following(rows.assign(lead_time_h=0.0)).iloc[0]  # one group: every lead
    return {
        "n_follow_cases": int(pooled["n_follow_cases"]),
        "follow_kept": float(pooled["kept"]),
        "follow_track_error_km": float(pooled["follow_track_error_km"]),
        "follow_persistence_km": float(pooled["persistence_km"]),
    }
