"""Why a forecast misses a storm that the tracker finds in the true fields.

POD over the truth's POD (issue 13's target) counts the storms the tracker finds in the truth and
not in the forecast, but not why. :func:`classify_misses` reads the files ``hurricane-ode score``
writes (``track_matches.csv`` of the truth and of a forecast, and the forecast's
``track_follow.csv``) and gives each such miss one cause, in this order:

* ``born after the initial time``: no best-track fix at the initial time (genesis; no model
  here forecasts it, and the "ceiling without genesis" of POD leaves it out);
* ``not followed``: a fix at the initial time, but too near the domain's edge (or outside it)
  to be followed from it;
* ``weak at the start``: the forecast had no centre near its initial fix at the first lead, and
  the truth's tracker did not find it at the first lead either: a storm too weak at the start to
  be detected, that deepened later (intensification, the other thing no model here forecasts);
* ``lost at the first lead``: the same, but the truth's tracker found it at the first lead: a
  detectable storm the forecast did not hold;
* ``lost later``: held at the first lead and lost by this one (filled, or moved beyond the search
  radius of the first guess);
* ``displaced``: still followed, but farther than the hit radius from the fix (a motion error);
* ``other``: followed within the hit radius and still unmatched (another storm took the centre).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hurricane_ode.verification.trackscore import DEFAULT_MATCH_KM

__all__ = ["MISS_CAUSES", "classify_misses", "count_misses"]

MISS_CAUSES = ("born after the initial time", "not followed", "weak at the start", "lost at the first lead",
               "lost later", "displaced", "other")
_KEY = ["storm", "init_time", "lead_time_h"]


def _hits(matches: pd.DataFrame) -> pd.DataFrame:
    """The rows of true storms (not false alarms), keyed, with ``matched`` as bool."""
    m = matches[~matches["false_alarm"].astype(bool)].copy()
    m["matched"] = m["matched"].astype(bool)
    m["at_init"] = m["at_init"].astype(bool)
    return m


def classify_misses(
    truth_matches: pd.DataFrame,
    matches: pd.DataFrame,
    follow: pd.DataFrame,
    hit_km: float = DEFAULT_MATCH_KM,
) -> pd.DataFrame:
    """One row per (storm, initial time, lead) that the truth's tracker hits and the forecast misses.

    ``truth_matches`` / ``matches``: ``track_matches.csv`` of the truth and of the forecast (columns
    ``storm, init_time, lead_time_h, matched, false_alarm, at_init``); ``follow``: the forecast's
    ``track_follow.csv`` (``storm, init_time, lead_time_h, followed, track_error_km``); ``hit_km``:
    the hit radius the matches used. Returns the keys, ``track_error_km`` of the followed position
    (NaN if not followed) and ``cause`` (one of :data:`MISS_CAUSES`).
    """
    for name, df, cols in (("truth_matches", truth_matches, _KEY + ["matched", "false_alarm", "at_init"]),
                           ("matches", matches, _KEY + ["matched", "false_alarm"]),
                           ("follow", follow, _KEY + ["followed", "track_error_km"])):
        missing = [c for c in cols if c not in df.columns]
        if missing:
            raise ValueError(f"classify_misses: {name} lacks column(s) {missing}; expected the CSV that "
                             "`hurricane-ode score` writes (track_matches.csv / track_follow.csv)")
    t = _hits(truth_matches)
    f = _hits(matches)[_KEY + ["matched"]].rename(columns={"matched": "forecast_matched"})
    j = t[t["matched"]].merge(f, on=_KEY, how="left")
    miss = j[~j["forecast_matched"].fillna(False).astype(bool)][_KEY + ["at_init"]].copy()
    fo = follow[_KEY + ["followed", "track_error_km"]].copy()
    fo["followed"] = fo["followed"].astype(bool)
    # each storm's first followed lead: held there by the forecast, and found there by the truth's tracker?
    first = fo[fo["lead_time_h"] == fo.groupby(["storm", "init_time"])["lead_time_h"].transform("min")]
    first = first[_KEY + ["followed"]].merge(t[_KEY + ["matched"]], on=_KEY, how="left")
    first = first.rename(columns={"followed": "held_first", "matched": "truth_first"}).drop(columns="lead_time_h")
    miss = miss.merge(fo, on=_KEY, how="left").merge(first, on=["storm", "init_time"], how="left")

    def flag(col: str) -> np.ndarray:
        return miss[col].fillna(False).astype(bool).to_numpy()

    lost = ~flag("followed")
    rules = [  # the first that holds decides
        (~flag("at_init"), "born after the initial time"),
        (miss["followed"].isna().to_numpy(), "not followed"),
        (lost & flag("held_first"), "lost later"),
        (lost & flag("truth_first"), "lost at the first lead"),
        (lost, "weak at the start"),
        (miss["track_error_km"].to_numpy(float) > hit_km, "displaced"),
    ]
    miss["cause"] = np.select([c for c, _ in rules], [n for _, n in rules], default="other") if len(miss) else []
    return miss[_KEY + ["track_error_km", "cause"]].reset_index(drop=True)


def count_misses(
    truth_matches: pd.DataFrame, matches: pd.DataFrame, follow: pd.DataFrame, lead_h: float,
    hit_km: float = DEFAULT_MATCH_KM,
) -> dict[str, int]:
    """At lead ``lead_h`` (hours): the misses of :func:`classify_misses` by cause, with ``truth hits``
    (the storms the truth's tracker hits) and ``hits the truth missed`` (the forecast's hits on storms
    the truth's tracker misses), so that ``truth hits - sum(causes) + hits the truth missed`` is the
    forecast's hit count."""
    m = classify_misses(truth_matches, matches, follow, hit_km)
    m = m[m["lead_time_h"] == lead_h]
    t, f = _hits(truth_matches), _hits(matches)
    t, f = t[t["lead_time_h"] == lead_h], f[f["lead_time_h"] == lead_h]
    both = t.merge(f[_KEY + ["matched"]], on=_KEY, how="inner", suffixes=("_t", "_f"))
    out = {"truth hits": int(t["matched"].sum())}
    out.update({c: int((m["cause"] == c).sum()) for c in MISS_CAUSES})
    out["hits the truth missed"] = int((~both["matched_t"] & both["matched_f"]).sum())
    return out
