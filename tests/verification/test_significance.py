"""compare_scores(): the Diebold-Mariano comparison of two forecasts' per-initial-time errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from vortex_world import as_hindcast, make_world, truth_frames

from hurricane_ode.errors import InputError
from hurricane_ode.verification import compare_scores, score, write_scores
from hurricane_ode.verification.significance import loss_by_init, verdict

LEADS = [3.0, 12.0, 24.0, 48.0]


def _scores(rmse_psl: np.ndarray, spacing_h: int = 12) -> xr.Dataset:
    """A minimal ``score()`` Dataset: ``rmse_psl`` [init, lead] (Pa); U850 and V850 1 m/s everywhere."""
    n, k = rmse_psl.shape
    by_init = np.stack([np.ones((n, k)), np.ones((n, k)), rmse_psl], axis=-1)
    inits = pd.date_range("2005-08-01", periods=n, freq=f"{spacing_h}h").strftime("%Y-%m-%dT%H:%M:%S")
    rmse = np.sqrt(np.nanmean(by_init**2, axis=0))
    var = np.array([4.0, 4.0, 250_000.0])  # the truth's variance per variable
    return xr.Dataset(
        {"rmse_by_init": (("init_time", "lead_time", "variable"), by_init),
         "rmse": (("lead_time", "variable"), rmse), "nmse": (("lead_time", "variable"), rmse**2 / var)},
        coords={"init_time": list(inits), "lead_time": LEADS, "variable": ["U850", "V850", "PSL"]},
    )


def _pair(n: int = 40, ratio: float = 0.8, seed: int = 0) -> tuple[xr.Dataset, xr.Dataset]:
    """b's PSL error grows with lead and wanders from one initial time to the next (AR(1)); a's is ``ratio`` of it."""
    rng = np.random.default_rng(seed)
    wander = np.zeros(n)
    for i in range(1, n):
        wander[i] = 0.7 * wander[i - 1] + rng.normal()
    b = (100.0 + 20.0 * np.abs(wander))[:, None] * (1 + np.arange(len(LEADS)))[None]
    a = b * ratio * (1 + 0.05 * rng.normal(size=b.shape))
    return _scores(a), _scores(b)


def test_a_clearly_better_forecast_wins_at_every_lead_and_the_order_matters():
    a, b = _pair(ratio=0.8)
    t = compare_scores(a, b, "mse", "PSL")
    assert t.index.tolist() == LEADS
    assert (t.apply(verdict, axis=1) == "a").all()
    assert (t["mean_diff"] < 0).all() and (t["p_a_better"] > 0.95).all()
    # pooled RMSE is the tables' value: sqrt of the mean MSE over initial times
    np.testing.assert_allclose(t["a"], np.sqrt((a["rmse_by_init"].sel(variable="PSL") ** 2).mean("init_time")))
    back = compare_scores(b, a, "mse", "PSL")
    assert (back.apply(verdict, axis=1) == "b").all()
    np.testing.assert_allclose(back["mean_diff"], -t["mean_diff"])


def test_forecasts_that_differ_by_noise_tie():
    a, b = _pair(ratio=1.0, seed=3)
    t = compare_scores(a, b, "mse", "PSL")
    assert (t.apply(verdict, axis=1) == "tie").all()
    assert ((t["ci_lower"] < 0) & (t["ci_upper"] > 0)).all()


def test_the_test_does_not_depend_on_the_units():
    """Pa^2 differences are ~1e9: the interval must scale with them and the verdict must not change
    (HG's least-squares fit fails on unscaled values and returns a zero-width interval)."""
    a, b = _pair(ratio=0.97, seed=1)
    t = compare_scores(a, b, "mse", "PSL")
    big = compare_scores(a * 100.0, b * 100.0, "mse", "PSL")  # RMSE x 100 -> MSE x 1e4
    for col in ("mean_diff", "ci_lower", "ci_upper"):
        np.testing.assert_allclose(big[col], 1e4 * t[col], rtol=1e-6)
    np.testing.assert_allclose(big["p_a_better"], t["p_a_better"], atol=1e-9)
    assert (t["ci_upper"] - t["ci_lower"] > 0.05 * t["mean_diff"].abs()).all()


def test_h_counts_the_initial_times_a_forecast_window_spans():
    a, b = _pair()
    assert compare_scores(a, b)["h"].tolist() == [1, 1, 2, 4]  # 12-hourly inits, leads 3/12/24/48 h
    a6, b6 = (_scores(s["rmse_by_init"].sel(variable="PSL").values, spacing_h=6) for s in (a, b))
    assert compare_scores(a6, b6)["h"].tolist() == [1, 2, 4, 8]


def test_initial_times_without_storms_are_left_out():
    a, b = _pair()
    for s in (a, b):
        s["rmse_by_init"][:5, :, 2] = np.nan  # no storm within the radius at the first five inits
    t = compare_scores(a, b, "mse", "PSL")
    assert (t["n"] == 35).all() and (t.apply(verdict, axis=1) == "a").all()


def test_nmse_loss_is_the_tables_mean_of_the_variables_nmse(tmp_path):
    truth, _ = make_world(n_times=8)
    leads = [0.0, 6.0, 12.0]
    inits = [0, 1, 2, 3, 4]
    frames = truth_frames(truth, inits, leads)
    rng = np.random.default_rng(0)
    noisy = frames + rng.normal(size=frames.shape) * np.array([1.0, 1.0, 60.0])[None, None, :, None, None]
    stats = {"U850": (0, 2), "V850": (0, 4), "PSL": (101000, 500)}
    sa = score(as_hindcast(noisy, truth, inits, leads, stats=stats), truth, lpips=False, track_scores=False)
    sb = score(as_hindcast(frames + 2 * (noisy - frames), truth, inits, leads, stats=stats), truth, lpips=False,
               track_scores=False)
    write_scores(sa, tmp_path / "a")
    write_scores(sb, tmp_path / "b")
    t = compare_scores(tmp_path / "a", tmp_path / "b")  # the directories `hurricane-ode score` writes
    np.testing.assert_allclose(t["a"], sa["nmse"].mean("variable").values, rtol=1e-6)
    np.testing.assert_allclose(loss_by_init(sb).mean("init_time"), sb["nmse"].mean("variable"), rtol=1e-6)
    assert t["mean_diff"].iloc[1:].lt(0).all()


def test_bad_inputs_are_named(tmp_path):
    a, b = _pair()
    with pytest.raises(InputError, match="different init_times"):
        compare_scores(a, b.isel(init_time=slice(1, None)))
    with pytest.raises(InputError, match="no scores at"):
        compare_scores(a, tmp_path / "nowhere")
    with pytest.raises(InputError, match="loss must be one of"):
        compare_scores(a, b, "mae")
    with pytest.raises(InputError, match="'T850' is not scored"):
        compare_scores(a, b, "mse", "T850")
    with pytest.raises(InputError, match="confidence"):
        compare_scores(a, b, confidence=90)


def test_the_compare_command_prints_writes_and_keeps_a_users_file(tmp_path, capsys):
    from hurricane_ode.cli import main

    a, b = _pair()
    for name, s in (("a", a), ("b", b)):
        (tmp_path / name).mkdir()
        s.to_netcdf(tmp_path / name / "scores.nc")
    out = tmp_path / "cmp.csv"
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--loss", "mse", "--output", str(out)]) == 0
    text = capsys.readouterr().out
    assert "RMSE of PSL" in text and text.count("| A |\n") == len(LEADS)
    assert pd.read_csv(out)["better"].tolist() == ["A"] * len(LEADS)
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    mine = tmp_path / "notes.csv"
    mine.write_text("station,value\n")
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--output", str(mine), "--overwrite"]) == 2
    assert "refusing to replace" in capsys.readouterr().err and mine.read_text() == "station,value\n"


def test_a_model_calendar_date_does_not_stop_the_spacing():
    """360_day has 30 February, which pandas cannot parse: its gaps are skipped, not refused."""
    a, b = _pair(n=6)
    keys = ["2005-02-29T00:00:00", "2005-02-29T12:00:00", "2005-02-30T00:00:00", "2005-02-30T12:00:00",
            "2005-03-01T00:00:00", "2005-03-01T12:00:00"]
    a, b = (s.assign_coords(init_time=keys) for s in (a, b))
    assert compare_scores(a, b)["h"].tolist() == [1, 1, 2, 4]
