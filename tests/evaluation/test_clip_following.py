"""Storms followed through a clip: the true track from the truth's centres, the forecast's from the same start."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hurricane_ode.evaluation.clip_following import (
    follow_in_clip,
    summarise_clip_following,
    true_track,
)
from hurricane_ode.verification.geometry import great_circle_km

LEADS = [3.0, 6.0, 9.0, 12.0]


def follow(start, truth, forecast):
    """The forecast's storms followed against the truth's own track, as ``score_model`` does."""
    return follow_in_clip(start, true_track(start, truth, LEADS), forecast, LEADS)


def centres(rows):
    return pd.DataFrame(rows, columns=["time", "lat", "lon", "min_psl_pa"])


def moving(lat0=20.0, lon0=-60.0, dlon_per_3h=0.6):
    """A storm moving west-north-west: (lead, lat, lon) of its centre."""
    return [(t, lat0 + 0.1 * t / 3, lon0 - dlon_per_3h * t / 3) for t in LEADS]


def test_a_frozen_forecast_is_scored_on_the_distance_moved_not_on_a_decoy():
    start = pd.DataFrame({"lat": [20.0], "lon": [-60.0]})
    truth = centres([(t, la, lo, 99000.0) for t, la, lo in moving()])
    frozen = centres([(t, 20.0, -60.0, 99500.0) for t in LEADS])
    rows = follow(start, truth, frozen)
    s = summarise_clip_following(rows)
    assert s["follow_kept"] == 1.0 and s["n_follow_cases"] == 4
    moved = [great_circle_km(20.0, -60.0, la, lo) for _, la, lo in moving()]
    assert s["follow_track_error_km"] == pytest.approx(np.mean(moved), rel=1e-6)
    assert s["follow_persistence_km"] == pytest.approx(s["follow_track_error_km"], rel=1e-6)
    # a perfect forecast: zero error, every case kept, persistence unchanged
    perfect = summarise_clip_following(follow(start, truth, truth))
    assert perfect["follow_track_error_km"] == pytest.approx(0.0, abs=1e-6)
    assert perfect["follow_persistence_km"] == pytest.approx(np.mean(moved), rel=1e-6)
    at12 = summarise_clip_following(rows, 12.0)
    assert at12["n_follow_cases"] == 1 and at12["follow_track_error_km"] == pytest.approx(moved[-1], rel=1e-6)


def test_a_storm_the_forecast_loses_stays_lost_and_counts_against_kept():
    start = pd.DataFrame({"lat": [20.0], "lon": [-60.0]})
    truth = centres([(t, la, lo, 99000.0) for t, la, lo in moving()])
    # the forecast has the storm at 3 h, nothing at 6 h, and a centre back on the track at 9-12 h
    fc = centres([(3.0, *moving()[0][1:], 99000.0)] + [(t, la, lo, 99000.0) for t, la, lo in moving()[2:]])
    s = summarise_clip_following(follow(start, truth, fc))
    assert s["follow_kept"] == pytest.approx(0.25) and s["follow_track_error_km"] == pytest.approx(0.0, abs=1e-6)


def test_only_leads_where_the_true_track_goes_on_are_cases():
    start = pd.DataFrame({"lat": [20.0, 35.0], "lon": [-60.0, -30.0]})
    # the second storm dissipates in the truth after 3 h: later leads are not cases for it
    truth = centres([(t, la, lo, 99000.0) for t, la, lo in moving()] + [(3.0, 35.0, -30.0, 100000.0)])
    s = summarise_clip_following(follow(start, truth, truth))
    assert s["n_follow_cases"] == 5 and s["follow_kept"] == 1.0
    empty = summarise_clip_following(follow(start.iloc[:0], truth, truth))
    assert empty["n_follow_cases"] == 0 and math.isnan(empty["follow_kept"])
