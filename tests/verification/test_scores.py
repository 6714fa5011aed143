"""score(): hand-computed RMSE, bias, NMSE, PSNR, skill; weighting and regions."""

from __future__ import annotations

import numpy as np
import pytest
from vortex_world import as_hindcast, make_world, truth_frames

from hurricane_ode.verification import score, write_scores


def _offset_hindcast(truth, leads, offsets):
    """Forecast = truth + offsets[v] * (k + 1) at lead index k (constant in space)."""
    frames = truth_frames(truth, [0, 2], leads)
    for c, off in enumerate(offsets):
        for k in range(len(leads)):
            frames[:, k, c] += off * (k + 1)
    stats = {"U850": (0.0, 2.0), "V850": (0.0, 4.0), "PSL": (101000.0, 500.0)}
    return as_hindcast(frames, truth, [0, 2], leads, stats=stats)


def test_scores_match_hand_computed_values(tmp_path):
    truth, _ = make_world(n_times=6)
    leads = [0.0, 6.0, 12.0]
    hc = _offset_hindcast(truth, leads, offsets=(1.0, -2.0, 50.0))
    s = score(hc, truth, lpips=False, normalise="hindcast")
    assert s["lead_time"].values.tolist() == leads
    # a constant offset: RMSE = |offset|, bias = offset, whatever the weights
    np.testing.assert_allclose(s["rmse"].sel(variable="PSL").values, [50.0, 100.0, 150.0], rtol=1e-5)
    np.testing.assert_allclose(s["bias"].sel(variable="V850").values, [-2.0, -4.0, -6.0], rtol=1e-5)
    # normalised MSE uses the hindcast's normalisation std; PSNR = 10 log10(6^2 / NMSE)
    nmse = (np.array([50.0, 100.0, 150.0]) / 500.0) ** 2
    np.testing.assert_allclose(s["nmse"].sel(variable="PSL").values, nmse, rtol=1e-4)
    np.testing.assert_allclose(s["psnr"].sel(variable="PSL").values, 10 * np.log10(36.0 / nmse), rtol=1e-4)
    assert s["rmse_by_init"].dims == ("init_time", "lead_time", "variable")
    # persistence = truth at the initial time: zero error at lead 0, skill undefined there
    assert s["rmse_persistence"].sel(lead_time=0.0).values.tolist() == [0.0, 0.0, 0.0]
    assert np.isnan(s["skill"].sel(lead_time=0.0)).all()
    pers = s["rmse_persistence"].sel(variable="PSL", lead_time=6.0).item()
    assert s["skill"].sel(variable="PSL", lead_time=6.0).item() == pytest.approx(1 - 100.0**2 / pers**2, rel=1e-4)
    assert np.isnan(s["lpips"]).all() and s["lpips"].attrs["note"] == "not computed"
    assert s["ssim"].sel(variable="U850").values[0] < 1.0
    paths = write_scores(s, tmp_path / "out")
    import pandas as pd

    table = pd.read_csv(paths["csv"])
    assert table["lead_time_h"].tolist() == leads and table["rmse_PSL"].iloc[1] == pytest.approx(100.0, rel=1e-5)
    with pytest.raises(FileExistsError):
        write_scores(s, tmp_path / "out")


def test_nmse_by_default_shares_the_truths_denominator_across_models():
    """Two models with the same frames but different normalisation statistics score the same
    NMSE by default (the truth's variance), and differently with normalise="hindcast"."""
    truth, _ = make_world(n_times=6)
    leads = [0.0, 6.0, 12.0]
    frames = truth_frames(truth, [0, 2], leads)
    frames[:, :, 2] += 40.0
    a = as_hindcast(frames, truth, [0, 2], leads, stats={"U850": (0, 2), "V850": (0, 4), "PSL": (101000, 500)})
    b = as_hindcast(frames, truth, [0, 2], leads, stats={"U850": (0, 9), "V850": (0, 1), "PSL": (100000, 900)})
    sa, sb = score(a, truth, lpips=False), score(b, truth, lpips=False)
    np.testing.assert_allclose(sa["nmse"].values, sb["nmse"].values)
    psl = truth["PSL"].values[[0, 1, 2, 2, 3, 4]]  # the valid times scored (inits 0, 2; leads 0, 6, 12 h)
    np.testing.assert_allclose(sa["nmse"].sel(variable="PSL").values, 40.0**2 / psl.var(), rtol=1e-3)
    ha = score(a, truth, lpips=False, normalise="hindcast")["nmse"].sel(variable="PSL").values
    hb = score(b, truth, lpips=False, normalise="hindcast")["nmse"].sel(variable="PSL").values
    np.testing.assert_allclose(ha / hb, (900.0 / 500.0) ** 2, rtol=1e-4)
    with pytest.raises(ValueError, match="normalise"):
        score(a, truth, lpips=False, normalise="model")


def test_coslat_weighting_and_region():
    truth, _ = make_world(n_times=3)
    leads = [0.0, 6.0]
    frames = truth_frames(truth, [0], leads)
    lat = truth["lat"].values
    err = np.where(lat > 20.0, 10.0, 0.0)[:, None]  # error only north of 20N
    frames[:, :, 2] += err
    hc = as_hindcast(frames, truth, [0], leads, stats={"U850": (0, 1), "V850": (0, 1), "PSL": (0, 100)})
    w = np.cos(np.radians(lat))
    expect_w = np.sqrt((w * err[:, 0] ** 2).sum() / w.sum())
    expect_u = np.sqrt((err[:, 0] ** 2).mean())
    sw = score(hc, truth, lpips=False)
    su = score(hc, truth, lpips=False, weights=None)
    assert sw["rmse"].sel(variable="PSL").values[0] == pytest.approx(expect_w, rel=1e-5)
    assert su["rmse"].sel(variable="PSL").values[0] == pytest.approx(expect_u, rel=1e-5)
    south = score(hc, truth, lpips=False, region=(0.0, 19.0, -100.0, -20.0))  # other lon convention
    assert south["rmse"].sel(variable="PSL").values.tolist() == [0.0, 0.0]
    assert south.attrs["region"].startswith("box")


def test_storm_radius_region_and_missing_truth():
    truth, tracks = make_world(n_times=4)
    frames = truth_frames(truth, [0], [0.0, 6.0])
    frames[:, :, 2] += 7.0
    hc = as_hindcast(frames, truth, [0], [0.0, 6.0])
    s = score(hc, truth, tracks, lpips=False, storm_radius_km=300.0)
    assert s["rmse"].sel(variable="PSL").values == pytest.approx([7.0, 7.0], rel=1e-5)
    assert s.attrs["region"] == "whole domain, cells within 300 km of a best-track fix"
    with pytest.raises(ValueError, match="truth lacks 2 valid time"):
        score(hc, truth.isel(time=[2, 3]), lpips=False)


def test_lpips_plumbing_with_test_weights_and_missing_backbone(tmp_path, monkeypatch):
    from hurricane_ode.metrics import LPIPS

    truth, _ = make_world(n_times=4)  # 40 x 80 cells: large enough for AlexNet
    hc = _offset_hindcast(truth, [0.0, 6.0], offsets=(0.0, 0.0, 300.0))
    net = LPIPS(allow_untrained_backbone_for_testing=True, value_range=(-3.0, 3.0))
    s = score(hc, truth, lpips=net)
    assert np.isfinite(s["lpips"]).all() and s["lpips"].values[1] > s["lpips"].values[0] >= 0
    assert "NOT the published weights" in s["lpips"].attrs["note"]
    monkeypatch.setenv("HURRICANE_ODE_LPIPS_BACKBONE", str(tmp_path / "absent.pth"))
    s2 = score(hc, truth)
    assert np.isnan(s2["lpips"]).all() and "absent.pth" in s2["lpips"].attrs["note"]
