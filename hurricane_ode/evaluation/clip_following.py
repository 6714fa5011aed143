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

__all__ = ["follow_in_clip", "summarise_clip_following", "CLIP_FOLLOW_KEYS"]

#: keys :func:`summarise_clip_following` adds to a score row
CLIP_FOLLOW_KEYS = ("n_follow_cases", "follow_kept", "follow_track_error_km", "follow_persistence_km")


def _keyed(centres: pd.DataFrame, keys: dict[float, str]) -> pd.DataFrame:
    """Centres whose ``time`` is a lead (hours) -> the same with the lead's string key."""
    out = centres.copy()
    out["time"] = [keys[round(float(t), 6)] for t in out["time"]] if len(out) else []
    return out


def follow_in_clip(
    start: pd.DataFrame, truth: pd.DataFrame, forecast: pd.DataFrame, leads_h: Sequence[float]
) -> pd.DataFrame:
    """Follow the storms of ``start`` through one clip; rows of :data:`FOLLOW_COLUMNS`.

    Parameters
    ----------
    start : centres (``lat``, ``lon``) in the clip's last observed input, the storms to follow.
    truth, forecast : centres (``time`` = lead in hours, ``lat``, ``lon``, ``min_psl_pa``) in the
        true and forecast target frames, as ``find_centres`` gives them.
    leads_h : the target frames' leads (hours after the last observed input), ascending or not.
    """
    if not len(start):
        return pd.DataFrame(columns=FOLLOW_COLUMNS)
    leads = [float(v) for v in leads_h]
    keys = {round(v, 6): f"lead{v:+011.4f}" for v in leads}
    valid = [keys[round(v, 6)] for v in leads]
    first = pd.DataFrame({"storm_id": np.arange(len(start)), "lat": start["lat"].to_numpy(float),
                          "lon": start["lon"].to_numpy(float)})  # fmt: skip
    no_fixes = pd.DataFrame(columns=["storm_id", "time", "lat", "lon", "min_psl_pa"])
    true_rows = follow_storms(_keyed(truth, keys), first, no_fixes, valid, leads)
    fixes = true_rows[true_rows["followed"].astype(bool)]
    fixes = pd.DataFrame({"storm_id": fixes["storm"], "time": fixes["time"], "lat": fixes["lat"],
                          "lon": fixes["lon"], "min_psl_pa": np.nan})  # fmt: skip
    return follow_storms(_keyed(forecast, keys), first, fixes, valid, leads)


def summarise_clip_following(rows: pd.DataFrame, lead_h: float | None = None) -> dict[str, float]:
    """:data:`CLIP_FOLLOW_KEYS` over ``rows`` (all leads pooled, or the one ``lead_h``)."""
    nan = float("nan")
    if lead_h is not None and len(rows):
        rows = rows[np.isclose(rows["lead_time_h"].to_numpy(float), lead_h)]
    summary = summarise_following(rows) if len(rows) else pd.DataFrame()
    if not len(summary):
        return {"n_follow_cases": 0, "follow_kept": nan, "follow_track_error_km": nan,
                "follow_persistence_km": nan}  # fmt: skip
    n_cases = summary["n_follow_cases"].to_numpy(float)
    n_kept = summary["n_followed"].to_numpy(float)
    err = summary["follow_track_error_km"].to_numpy(float)
    pers = summary["persistence_km"].to_numpy(float)
    kept_total = float(n_kept.sum())
    has = n_kept > 0

    def weighted(x: np.ndarray) -> float:
        return float((x[has] * n_kept[has]).sum() / kept_total) if kept_total else nan

    return {
        "n_follow_cases": int(n_cases.sum()),
        "follow_kept": kept_total / float(n_cases.sum()) if n_cases.sum() else nan,
        "follow_track_error_km": weighted(err),
        "follow_persistence_km": weighted(pers),
    }
