"""Track matching that counts its misses and false alarms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vortex_world import as_hindcast, make_world, truth_frames

from hurricane_ode.verification import score
from hurricane_ode.verification.matching import (
    in_domain,
    match_tracks,
    pair_centres,
    summarise_by_lead,
)
from hurricane_ode.verification.trackscore import verify_fields, verify_hindcast


def test_forecast_that_fills_its_storm_scores_pod_zero(world):
    truth, tracks = world
    leads = [0.0, 6.0, 12.0, 18.0]
    frames = truth_frames(truth, [0, 1], leads)
    # the "forecast" fills the storm after 6 h: background only (the vortex-free field)
    calm, _ = make_world(storms=())
    bg = calm.to_array("channel").transpose("time", "channel", "lat", "lon").values
    frames[:, 2:] = bg[None, :2]
    hc = as_hindcast(frames, truth, [0, 1], leads)
    matches, summary, info = verify_hindcast(hc, tracks)
    assert summary["lead_time_h"].tolist() == leads
    assert summary["pod"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert summary["misses"].tolist() == [0, 0, 2, 2] and summary["hits"].tolist() == [2, 2, 0, 0]
    assert summary["false_alarms"].sum() == 0 and summary["n_true"].tolist() == [2, 2, 2, 2]
    assert summary["n_track"].tolist() == [2, 2, 0, 0] and np.isnan(summary["track_error_km"].iloc[2])
    assert (summary["track_error_km"].iloc[:2] < 60).all()
    # score() carries the same counts
    s = score(hc, truth, tracks, lpips=False)
    assert s["pod"].values.tolist() == [1.0, 1.0, 0.0, 0.0]
    assert s["misses"].values.tolist() == [0, 0, 2, 2]


def test_false_alarms_and_displacement():
    truth, tracks = make_world(n_times=3)
    # a forecast with the storm displaced 2 degrees north and a spurious second storm
    fake, _ = make_world(n_times=3, storms=((17.0, 300.0, 0.3, -0.8, 2500.0), (30.0, 280.0, 0.0, 0.0, 2500.0)))
    m, s, _ = verify_fields(fake, tracks)
    assert s["hits"].tolist() == [1, 1, 1] and s["false_alarms"].tolist() == [1, 1, 1]
    assert s["far"].tolist() == [0.5, 0.5, 0.5]
    # 2 degrees, within the shift of the gridded minimum by the background pressure gradient
    assert s["track_error_km"].to_numpy() == pytest.approx(2 * 111.2, abs=30.0)
    # hit radius below the displacement: each true fix is a miss and each centre a false alarm
    _, s2, _ = verify_fields(fake, tracks, max_distance_km=150.0)
    assert s2["misses"].tolist() == [1, 1, 1] and s2["false_alarms"].tolist() == [2, 2, 2]


def test_storms_outside_domain_or_at_its_edge_are_excluded():
    truth, _ = make_world(n_times=2)
    tracks = pd.DataFrame({"storm_id": ["IN", "EDGE", "FAR"], "time": ["2005-08-01T00:00:00"] * 3,
                           "lat": [15.0, 1.0, -30.0], "lon": [300.0, 300.0, 300.0],
                           "min_psl_pa": np.nan, "max_wind_ms": np.nan})
    _, s, info = verify_fields(truth, tracks)
    row = s.iloc[0]
    assert row["n_true"] == 1 and row["hits"] == 1 and row["n_excluded"] == 1
    assert info["outside_domain"] == 1
    assert in_domain([15.0], [-60.0], (0, 40, 260, 340)).all()  # other longitude convention


def test_pairing_is_one_to_one_and_misses_are_never_dropped():
    pairs = pair_centres([10, 10.5], [300, 300], [10.2], [300], 300.0)
    assert len(pairs) == 1 and pairs[0][0] == 0
    truth = pd.DataFrame({"storm_id": ["A"], "time": ["2005-08-01T06:00:00"], "lat": [10.0], "lon": [300.0],
                          "min_psl_pa": [99000.0], "max_wind_ms": [30.0]})
    empty = pd.DataFrame(columns=["time", "lat", "lon", "min_psl_pa", "max_wind_ms"])
    m = match_tracks(empty, truth, init_time="2005-08-01T00:00:00",
                     valid_times=["2005-08-01T06:00:00"], calendar="noleap")
    assert len(m) == 1 and not m["matched"].iloc[0] and m["lead_time_h"].iloc[0] == 6.0
    s = summarise_by_lead(m)
    assert s["misses"].tolist() == [1] and s["pod"].tolist() == [0.0]


def test_pod_init_counts_only_storms_that_existed_at_the_initial_time():
    t = ["2005-08-01T00:00:00", "2005-08-01T06:00:00"]
    truth = pd.DataFrame({
        "storm_id": ["old", "old", "new"],
        "time": [t[0], t[1], t[1]],  # "new" is born during the lead
        "lat": [15.0, 15.5, 25.0], "lon": [300.0, 299.0, 320.0],
        "min_psl_pa": [99000.0] * 3, "max_wind_ms": [30.0] * 3,
    })
    forecast = pd.DataFrame({"time": [t[1]], "lat": [15.4], "lon": [299.1], "min_psl_pa": [99100.0],
                             "max_wind_ms": [28.0]})
    m = match_tracks(forecast, truth, init_time=t[0], valid_times=[t[1]], calendar="noleap")
    assert m.set_index("storm")["at_init"].to_dict() == {"old": True, "new": False}
    s = summarise_by_lead(m)
    assert s["pod"].tolist() == [0.5] and s["n_true"].tolist() == [2]
    assert s["pod_init"].tolist() == [1.0] and s["n_true_init"].tolist() == [1]


def test_score_without_track_scores_skips_the_tracker(world):
    truth, tracks = world
    hc = as_hindcast(truth_frames(truth, [0], [0.0, 6.0]), truth, [0], [0.0, 6.0])
    s = score(hc, truth, tracks, lpips=False, track_scores=False, storm_radius_km=600.0)
    assert "pod" not in s and s.attrs["tracks"] == "track verification not requested"
    assert np.allclose(s["rmse"].values, 0.0)
    full = score(hc, truth, tracks, lpips=False)
    assert full["pod_init"].values.tolist() == [1.0, 1.0] and full["n_true_init"].values.tolist() == [1, 1]
