"""Following each storm through a forecast, with best-track persistence and XTRP beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vortex_world import as_hindcast, truth_frames

from hurricane_ode.verification import score, write_scores
from hurricane_ode.verification.following import follow_storms, summarise_following
from hurricane_ode.verification.geometry import great_circle_km
from hurricane_ode.verification.matching import match_tracks

T = [f"2005-08-01T{h:02d}:00:00" for h in (0, 3, 6, 9, 12)]
LEADS = [3.0, 6.0, 9.0, 12.0]


def _table(rows):
    return pd.DataFrame(rows, columns=["storm_id", "time", "lat", "lon", "min_psl_pa"])


def _centres(rows):
    return pd.DataFrame(rows, columns=["time", "lat", "lon", "min_psl_pa"])


def _moving(storm="A", lat=15.0, lon=300.0, dlon=1.0):
    """A storm moving ``dlon`` degrees east every 3 h, fixes at T."""
    return _table([(storm, t, lat, lon + k * dlon, 99000.0) for k, t in enumerate(T)])


def test_persistence_is_followed_and_scored_on_the_distance_moved_not_on_a_passing_decoy():
    truth = _moving(dlon=1.5)
    # a frozen forecast (the storm left at its initial fix) plus an unrelated decoy centre that
    # sits next to the storm's true position at 12 h (5 degrees from the frozen one)
    fc = _centres([(t, 15.0, 300.0, 99000.0) for t in T[1:]] + [(T[4], 15.2, 306.0, 99500.0)])
    rows = follow_storms(fc, truth[truth["time"] == T[0]], truth[truth["time"] != T[0]], T[1:], LEADS)
    last = rows.iloc[-1]
    assert rows["followed"].all() and last["lon"] == 300.0
    moved = great_circle_km(15.0, 300.0, 15.0, 306.0)
    assert last["track_error_km"] == pytest.approx(moved) == pytest.approx(last["persistence_km"])
    # matching by distance alone pairs the decoy with the storm and reports a small error
    m = match_tracks(fc.assign(max_wind_ms=30.0), truth.assign(max_wind_ms=30.0), init_time=T[0], valid_times=T[1:], calendar="noleap", max_distance_km=300.0)
    assert m[m["time"] == T[4]]["track_error_km"].iloc[0] < 30.0


def test_moving_forecast_is_followed_with_its_own_motion_and_xtrp_extrapolates_the_past():
    truth = _moving(dlon=1.0)
    fc = _centres([(t, 15.0, 300.0 + (k + 1) * 1.1, 99100.0) for k, t in enumerate(T[1:])])
    past = _table([("A", "2005-07-31T12:00:00", 15.0, 296.0, 99000.0)])  # 4 degrees in 12 h: 1 per 3 h
    rows = follow_storms(fc, truth.iloc[:1], truth.iloc[1:], T[1:], LEADS, past=past)
    assert rows["followed"].all()
    err = [great_circle_km(15.0, 300.0 + (k + 1) * 1.1, 15.0, 300.0 + (k + 1)) for k in range(4)]
    assert rows["track_error_km"].to_numpy() == pytest.approx(err)
    assert rows["xtrp_km"].to_numpy() == pytest.approx(0.0, abs=1e-6)  # constant motion: exact
    assert rows["psl_error_hpa"].to_numpy() == pytest.approx(1.0)
    # first guesses move with the followed motion: a storm 280 km on at every step stays followed
    fast = _moving(dlon=2.6)
    fc2 = _centres([(t, 15.0, 300.0 + (k + 1) * 2.6, 99000.0) for k, t in enumerate(T[1:])])
    rows2 = follow_storms(fc2, fast.iloc[:1], fast.iloc[1:], T[1:], LEADS, search_km=150.0)
    assert not rows2["followed"].iloc[0]  # 280 km from the initial fix: beyond 150 km, lost at once
    rows3 = follow_storms(fc2, fast.iloc[:1], fast.iloc[1:], T[1:], LEADS, search_km=300.0)
    assert rows3["followed"].all() and rows3["track_error_km"].max() < 1e-6


def test_a_lost_storm_stays_lost_and_counts_against_kept():
    truth = pd.concat([_moving("A", dlon=0.5), _moving("B", lat=30.0, dlon=0.5)])
    # A's centre vanishes at 6 h and comes back at 9 h; B is followed throughout
    fc = _centres([(T[1], 15.0, 300.5, 99000.0), (T[3], 15.0, 301.5, 99000.0), (T[4], 15.0, 302.0, 99000.0)]
                  + [(t, 30.0, 300.0 + (k + 1) * 0.5, 99000.0) for k, t in enumerate(T[1:])])
    start = truth[truth["time"] == T[0]]
    rows = follow_storms(fc, start, truth[truth["time"] != T[0]], T[1:], LEADS)
    a = rows[rows["storm"] == "A"]
    assert a["followed"].tolist() == [True, False, False, False]
    assert a["track_error_km"].isna().tolist() == [False, True, True, True]
    s = summarise_following(rows)
    assert s["n_follow_cases"].tolist() == [2, 2, 2, 2] and s["kept"].tolist() == [1.0, 0.5, 0.5, 0.5]
    # persistence and XTRP averages are over the followed cases only (B), like the model's
    assert s["persistence_km"].iloc[-1] == pytest.approx(great_circle_km(30.0, 300.0, 30.0, 302.0))


def test_one_centre_serves_one_storm_and_a_dissipated_storm_is_not_scored():
    truth = pd.concat([_moving("A", dlon=0.0), _moving("B", lat=16.0, dlon=0.0)])
    truth = truth[~((truth["storm_id"] == "B") & (truth["time"] == T[4]))]  # B gone at 12 h
    fc = _centres([(t, 15.1, 300.0, 99000.0) for t in T[1:]])
    rows = follow_storms(fc, truth[truth["time"] == T[0]], truth[truth["time"] != T[0]], T[1:], LEADS)
    first = rows[rows["lead_time_h"] == 3.0].set_index("storm")["followed"]
    assert first.to_dict() == {"A": True, "B": False}
    s = summarise_following(rows)
    assert s["n_follow_cases"].tolist() == [2, 2, 2, 1]


def test_score_writes_the_followed_tracks_beside_the_matches(world, tmp_path):
    truth, tracks = world
    leads = [6.0, 12.0, 18.0]
    hc = as_hindcast(truth_frames(truth, [0, 2], leads), truth, [0, 2], leads)
    s = score(hc, truth, tracks, lpips=False)
    assert s["follow_kept"].values.tolist() == [1.0, 1.0, 1.0]
    assert (s["follow_track_error_km"].values < 60).all()
    # the storm moves 0.3 N, 0.8 W every 6 h: persistence errs by that much per step
    step = great_circle_km(15.0, 300.0, 15.3, 299.2)
    assert s["follow_persistence_km"].values[0] == pytest.approx(step, rel=0.05)
    paths = write_scores(s, tmp_path / "out")
    table = pd.read_csv(paths["follow"])
    assert len(table) == 2 * len(leads) and table["followed"].all()
    assert {"storm", "init_time", "track_error_km", "xtrp_km", "persistence_km"} <= set(table.columns)
    assert "follow_kept" in pd.read_csv(paths["csv"]).columns
    assert np.isfinite(table["xtrp_km"]).sum() == 3  # only the second initial time has a fix 12 h before
