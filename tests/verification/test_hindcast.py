"""hindcast(): batched initial times, CF layout, baselines, input offsets; CLI hindcast -> score."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hurricane_ode.cli import main
from hurricane_ode.errors import InputError
from hurricane_ode.forecasting import forecast, hindcast, load_forecaster
from hurricane_ode.io import open_dataset, write_dataset

INITS = "2005-08-02T00/2005-08-03T00/12h"


@pytest.fixture(scope="module")
def demo_fc():
    return load_forecaster(None)  # the shipped demo model


@pytest.fixture(scope="module")
def hc(demo_fc, demo_world):
    return hindcast(demo_fc, list(demo_world.files), "natl", INITS, "0/12h/3h")


def test_hindcast_dims_coords_and_cf_attributes(hc, tmp_path):
    from hurricane_ode.forecasting.inputs import model_grid

    h, w = model_grid(load_forecaster(None), "natl")  # the shipped model's basin grid
    assert dict(hc.sizes) == {"init_time": 3, "lead_time": 5, "lat": h, "lon": w}
    assert hc["PSL"].dims == ("init_time", "lead_time", "lat", "lon")
    assert hc["valid_time"].dims == ("init_time", "lead_time")
    assert hc["valid_time"].attrs["standard_name"] == "time"
    assert hc["init_time"].attrs["standard_name"] == "forecast_reference_time"
    assert hc["forecast_period"].values.tolist() == [0.0, 3.0, 6.0, 9.0, 12.0]
    assert hc["lead_time"].dtype.kind == "m"
    assert str(hc["valid_time"].values[1, 2]) == "2005-08-02 18:00:00"
    assert hc["PSL"].attrs["units"] == "Pa" and hc["U850"].attrs["standard_name"] == "eastward_wind"
    assert hc.attrs["Conventions"] == "CF-1.8" and hc.attrs["model"] == "vid_ode"
    assert hc.attrs["normalisation"].startswith("from checkpoint")
    for ext in (".nc", ".zarr"):
        back = open_dataset(write_dataset(hc, tmp_path / f"h{ext}"))
        assert back["valid_time"].values[2, 4].calendar == "noleap"
        assert str(back["init_time"].values[2]) == "2005-08-03 00:00:00"
        np.testing.assert_array_equal(back["PSL"].values, hc["PSL"].values)


def test_batched_hindcast_equals_per_init_forecasts(hc, demo_fc, demo_world):
    for n, t0 in enumerate(["2005-08-02T00", "2005-08-02T12", "2005-08-03T00"]):
        one = forecast(demo_fc, list(demo_world.files), "natl", init_time=t0, lead_times="0/12h/3h")
        np.testing.assert_allclose(hc["PSL"].values[n], one["PSL"].values, rtol=0, atol=0.1)
        np.testing.assert_allclose(hc["U850"].values[n], one["U850"].values, rtol=0, atol=1e-3)


def test_baseline_offsets_and_refusals(demo_world):
    files = list(demo_world.files)
    p = hindcast(None, files, "natl", "2005-08-02T00,2005-08-02T06", "0,6h", model="persistence",
                 input_offsets="-12h,-6h,0h", shape=(16, 32))
    assert p.attrs["model"] == "persistence" and "computed from the inputs" in p.attrs["normalisation"]
    assert p.attrs["input_selection"].startswith("offsets -12h,-6h,0h")
    # persistence repeats the frame at the initial time
    np.testing.assert_allclose(p["PSL"].values[:, 0], p["PSL"].values[:, 1])
    with pytest.raises(InputError, match=r"input time\(s\) \['2005-08-01 01:00:00'\] are not frames"):
        hindcast(None, files, "natl", "2005-08-02T00", "0", model="persistence", input_offsets="-23h")
    with pytest.raises(InputError, match="inputs=None"):
        hindcast(None, None, "natl", "2005-08-02T00", "0", model="persistence")
    with pytest.raises(InputError, match="inputs=None"):
        forecast(None, None, "natl", "2005-08-02T00")


def test_nan_inputs_are_refused_naming_their_times(demo_fc, demo_world):
    from hurricane_ode.data.cam5 import open_cam5

    ds = open_cam5(list(demo_world.files)).load()
    ds["PSL"][6, 50:55, 140:145] = np.nan  # 2005-08-01T18, inside natl (10-18N, 280-288E)
    with pytest.raises(InputError, match=r"NaN or inf values at 2005-08-01T18:00:00 \(\d+ cells\)"):
        hindcast(demo_fc, ds, "natl", "2005-08-02T00", "3h")
    with pytest.raises(InputError, match="2005-08-01T18:00:00"):
        forecast(demo_fc, ds, "natl", "2005-08-02T03", input_times="2005-08-01T18,2005-08-01T21")


def test_cli_hindcast_then_score_end_to_end(tmp_path, capsys):
    from hurricane_ode.data.synthetic import make_synthetic_world

    world = make_synthetic_world(tmp_path / "w", days=3, resolution=2.0, seed=11, progress=False)
    h = tmp_path / "h.zarr"
    rc = main(["hindcast", "--basin", "natl", "--input", str(world.directory), "--init",
               "2005-08-02T00/2005-08-02T12/6h", "--lead", "0/12h/6h", "--model", "advection",
               "--shape", "32", "64", "--output", str(h)])
    assert rc == 0 and h.is_dir()
    rc = main(["score", "--hindcast", str(h), "--truth", str(world.directory), "--output",
               str(tmp_path / "scores"), "--no-lpips"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "RMSE PSL (Pa)" in out and "tracks.csv (found beside the truth files)" in out
    assert "storms followed from their initial fix" in out
    table = pd.read_csv(tmp_path / "scores" / "scores.csv")
    assert table["lead_time_h"].tolist() == [0.0, 6.0, 12.0]
    assert table["rmse_PSL"].iloc[0] == pytest.approx(0.0, abs=1e-3)  # advection at lead 0 is the input
    for col in ("pod", "far", "hits", "misses", "false_alarms", "track_error_km", "skill_PSL", "n_excluded"):
        assert col in table.columns
    assert (tmp_path / "scores" / "track_matches.csv").is_file()
    assert (tmp_path / "scores" / "track_follow.csv").is_file() and "follow_kept" in table.columns
    assert (tmp_path / "scores" / "scores_by_init.csv").is_file()
    rc = main(["score", "--hindcast", str(h), "--truth", str(world.directory), "--output",
               str(tmp_path / "scores"), "--no-lpips"])
    assert rc == 2 and "already exists" in capsys.readouterr().err
    rc = main(["score", "--hindcast", str(h), "--truth", str(world.directory), "--output",
               str(tmp_path / "s2"), "--no-lpips", "--tracker", "min_vorticity=6e-5,radius_km=300"])
    assert rc == 0 and (tmp_path / "s2" / "scores.csv").is_file()
    rc = main(["score", "--hindcast", str(h), "--truth", str(world.directory), "--output",
               str(tmp_path / "s3"), "--tracker", "min_vort=1"])
    assert rc == 2 and "unknown key 'min_vort'" in capsys.readouterr().err


def test_the_truth_reference_is_the_inputs_at_the_valid_times(demo_world):
    from hurricane_ode.forecasting.inputs import open_basin_fields

    files = list(demo_world.files)
    t = hindcast(None, files, "natl", "2005-08-02T00,2005-08-02T12", "0/12h/6h", model="truth", shape=(16, 32))
    assert t.attrs["model"] == "truth" and t.attrs["normalisation"] == "none"
    assert dict(t.sizes) == {"init_time": 2, "lead_time": 3, "lat": 16, "lon": 32}
    fields = open_basin_fields(files, "natl", ["U850", "V850", "PSL"], (16, 32), "test")
    for n, lead in ((0, 0), (0, 2), (1, 1)):
        valid = t["valid_time"].values[n, lead]
        np.testing.assert_array_equal(t["PSL"].values[n, lead], fields["PSL"].sel(time=valid).values)
        np.testing.assert_array_equal(t["V850"].values[n, lead], fields["V850"].sel(time=valid).values)
    # the 12 h lead of the first initial time is the initial field of the second
    np.testing.assert_array_equal(t["U850"].values[0, 2], t["U850"].values[1, 0])
    # the truth exists only where the inputs have it (the world ends on 2005-08-04T21)
    with pytest.raises(InputError, match=r"model 'truth': valid time\(s\) 2005-08-05T00:00:00 are not frames"):
        hindcast(None, files, "natl", "2005-08-04T00", "24h", model="truth", shape=(16, 32))
