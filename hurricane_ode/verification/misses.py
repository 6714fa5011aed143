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
  the truth's tracker did not find it at the first lead, or did not find it in the initial fields
  themselves (:func:`detected_at_init`): a storm too weak at the start to be detected, that
  deepened later (intensification, the other thing no model here forecasts);
* ``lost at the first lead``: the same, but the truth's tracker found it at the first lead and (as
  far as the rows tell) at the initial time: a detectable storm the forecast did not hold;
* ``lost later``: held at the first lead and lost by this one (filled, or moved beyond the search
  radius of the first guess);
* ``displaced``: still followed, but farther than the hit radius from the fix (a motion error);
* ``other``: followed within the hit radius and still unmatched (another storm took the centre).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from hurricane_ode.errors import InputError
from hurricane_ode.verification.trackscore import DEFAULT_MATCH_KM

__all__ = ["MISS_CAUSES", "FIXABLE_CAUSES", "classify_misses", "count_misses", "detected_at_init", "reachable_fraction",
           "read_track_scores", "shared_misses"]

MISS_CAUSES = ("born after the initial time", "not followed", "weak at the start", "lost at the first lead",
               "lost later", "displaced", "other")
#: the causes a forecast that moves and keeps what the initial fields show could avoid
FIXABLE_CAUSES = ("lost at the first lead", "lost later", "displaced", "other")
_KEY = ["storm", "init_time", "lead_time_h"]


def _hits(matches: pd.DataFrame) -> pd.DataFrame:
    """The rows of true storms (not false alarms), keyed, with ``matched`` as bool."""
    m = matches[~matches["false_alarm"].astype(bool)].copy()
    m["matched"] = m["matched"].astype(bool)
    m["at_init"] = m["at_init"].astype(bool)
    return m


def read_track_scores(directory: str | os.PathLike, follow: bool = True) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """``(track_matches, track_follow)`` of one ``hurricane-ode score --output`` directory.

    ``follow=False`` skips ``track_follow.csv`` (the truth's own scores need only the matches) and
    returns None for it. Raises ``InputError`` naming the missing file and the command that writes it.
    """
    d = Path(directory)
    names = ["track_matches.csv"] + (["track_follow.csv"] if follow else [])
    for name in names:
        if not (d / name).is_file():
            raise InputError(f"{d / name} not found: expected the track scores that `hurricane-ode score "
                             f"--tracks ... --output {d}` writes (scored without --no-track-scores)")
    return pd.read_csv(d / names[0]), pd.read_csv(d / names[1]) if follow else None


def detected_at_init(truth_matches: pd.DataFrame) -> pd.Series:
    """Whether the truth's tracker found each storm in the fields of each initial time.

    The truth's "forecast" is the true fields, so its rows at valid time ``t`` (the lead of any
    earlier initial time) say whether the tracker finds a storm at ``t``. Returns a bool Series
    indexed by ``(storm, init_time)`` for the initial times some row verifies at (not the first
    initial time of a hindcast whose initial times are further apart than its longest lead). Needs
    the ``time`` column of ``track_matches.csv``; without it, an empty Series.
    """
    if "time" not in truth_matches.columns:
        return pd.Series(dtype=bool, index=pd.MultiIndex.from_arrays([[], []], names=["storm", "init_time"]))
    t = _hits(truth_matches)
    inits = set(t["init_time"].astype(str))
    at = t[t["time"].astype(str).isin(inits)]
    out = at.groupby(["storm", at["time"].astype(str).rename("init_time")])["matched"].any()
    return out.astype(bool)


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
    seen = detected_at_init(truth_matches).rename("truth_init").reset_index()
    miss["init_time"] = miss["init_time"].astype(str)
    miss = miss.merge(seen, on=["storm", "init_time"], how="left")
    unseen_at_init = miss["truth_init"].eq(False).to_numpy()  # NaN (not known) is not "unseen"

    def flag(col: str) -> np.ndarray:
        return miss[col].fillna(False).astype(bool).to_numpy()

    lost = ~flag("followed")
    rules = [  # the first that holds decides
        (~flag("at_init"), "born after the initial time"),
        (miss["followed"].isna().to_numpy(), "not followed"),
        (lost & flag("held_first"), "lost later"),
        (lost & flag("truth_first") & ~unseen_at_init, "lost at the first lead"),
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


def reachable_fraction(truth_matches: pd.DataFrame, lead_h: float) -> float:
    """At lead ``lead_h``: the fraction of the truth's hits that a forecast which neither forms
    storms nor deepens them from below the tracker's threshold could keep.

    Those are the storms with a best-track fix at the initial time that the truth's tracker
    finds at the first lead and, where the rows tell (:func:`detected_at_init`), in the initial
    fields. The truth's own data only; NaN without truth hits at that lead.
    """
    t = _hits(truth_matches)
    t["init_time"] = t["init_time"].astype(str)
    hits = t[(t["lead_time_h"] == lead_h) & t["matched"]]
    if not len(hits):
        return float("nan")
    first = t[t["lead_time_h"] == t.groupby(["storm", "init_time"])["lead_time_h"].transform("min")]
    first = first.set_index(["storm", "init_time"])["matched"].rename("truth_first")
    seen = detected_at_init(truth_matches).rename("truth_init")
    h = hits.join(first, on=["storm", "init_time"]).join(seen, on=["storm", "init_time"])
    ok = h["at_init"] & h["truth_first"].fillna(False).astype(bool) & ~h["truth_init"].eq(False)
    return float(ok.sum() / len(h))


def shared_misses(
    truth_matches: pd.DataFrame,
    forecasts: dict[str, tuple[pd.DataFrame, pd.DataFrame]],
    lead_h: float,
    hit_km: float = DEFAULT_MATCH_KM,
) -> pd.DataFrame:
    """The misses of several forecasts side by side, at lead ``lead_h``.

    ``forecasts``: ``{name: (track_matches, track_follow)}``. Returns one row per ``(storm,
    init_time)`` that the truth's tracker hits and at least one forecast misses, one column per
    forecast with its :func:`classify_misses` cause (NaN where that forecast hits). A miss every
    forecast shares (an advection baseline's included) is a limit of what the inputs show, not of
    one model.
    """
    cols = {}
    for name, (matches, follow) in forecasts.items():
        m = classify_misses(truth_matches, matches, follow, hit_km)
        m = m[m["lead_time_h"] == lead_h]
        cols[name] = m.assign(init_time=m["init_time"].astype(str)).set_index(["storm", "init_time"])["cause"]
    if not cols:
        return pd.DataFrame()
    return pd.concat(cols, axis=1).sort_index()
