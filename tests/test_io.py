import cftime
import netCDF4
import numpy as np
import pytest
import xarray as xr

import hurricane_ode.io as hio
from hurricane_ode.cf import forecast_dataset
from hurricane_ode.timeutil import parse_times


@pytest.fixture
def forecast_ds():
    times = parse_times("2005-02-28T00/2005-03-01T03/9h", "noleap")
    init = cftime.datetime(2005, 2, 27, 21, calendar="noleap")
    rng = np.random.default_rng(0)
    fields = {
        "U850": rng.normal(0, 10, (4, 3, 5)),
        "V850": rng.normal(0, 10, (4, 3, 5)),
        "PSL": rng.normal(101000, 500, (4, 3, 5)),
    }
    return forecast_dataset(fields, np.array([10.0, 11, 12]), np.arange(260.0, 265), times, init, "noleap", {"basin": "natl"})


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_round_trip_keeps_cf_and_noleap(tmp_path, forecast_ds, ext):
    path = hio.write_dataset(forecast_ds, tmp_path / f"out.{ext}")
    back = hio.open_dataset(path)
    np.testing.assert_allclose(back.PSL.values, forecast_ds.PSL.values)
    assert isinstance(back.time.values[0], cftime.DatetimeNoLeap)
    assert back.time.encoding["calendar"] == "noleap"
    assert back.forecast_period.values.tolist() == [3.0, 12.0, 21.0, 30.0]
    assert back.lead_time.dtype == "timedelta64[ns]"
    assert back.U850.attrs["standard_name"] == "eastward_wind"
    assert back.V850.attrs["standard_name"] == "northward_wind"
    assert back.PSL.attrs["standard_name"] == "air_pressure_at_mean_sea_level"
    assert back.PSL.attrs["units"] == "Pa" and back.U850.attrs["units"] == "m s-1"
    assert float(back.air_pressure) == 85000.0
    assert back.attrs["Conventions"] == "CF-1.8" and back.attrs["basin"] == "natl"
    assert back.lat.attrs["axis"] == "Y" and back.lon.attrs["units"] == "degrees_east"
    assert back.PSL.dims == ("time", "lat", "lon")


def test_no_fill_value_on_coordinates(tmp_path, forecast_ds):
    path = hio.write_dataset(forecast_ds, tmp_path / "out.nc")
    with netCDF4.Dataset(path) as nc:
        for name in ("time", "lat", "lon", "forecast_period"):
            assert "_FillValue" not in nc.variables[name].ncattrs(), name
        assert nc.variables["time"].calendar == "noleap"


def test_existing_output_is_not_overwritten(tmp_path, forecast_ds):
    path = hio.write_dataset(forecast_ds, tmp_path / "out.nc")
    with pytest.raises(FileExistsError, match="overwrite"):
        hio.write_dataset(forecast_ds, path)
    hio.write_dataset(forecast_ds.isel(time=[0]), path, overwrite=True)
    assert hio.open_dataset(path).sizes["time"] == 1


def test_failure_mid_write_leaves_nothing(tmp_path, forecast_ds, monkeypatch):
    def broken(ds, tmp):
        ds.to_netcdf(tmp)  # something is written under the temporary name ...
        raise OSError("disk full")  # ... and then the write fails

    monkeypatch.setitem(hio.WRITERS, ".nc", broken)
    with pytest.raises(OSError, match="disk full"):
        hio.write_dataset(forecast_ds, tmp_path / "out.nc")
    assert list(tmp_path.iterdir()) == []


def test_bad_paths_are_explained(tmp_path, forecast_ds):
    with pytest.raises(ValueError, match="unknown format '.csv'"):
        hio.write_dataset(forecast_ds, tmp_path / "out.csv")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        hio.write_dataset(forecast_ds, tmp_path / "missing" / "out.nc")


def test_plain_xarray_decodes_lead_time(tmp_path, forecast_ds):
    path = hio.write_dataset(forecast_ds, tmp_path / "out.nc")
    with xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)) as ds:
        assert ds.lead_time.dtype == "timedelta64[ns]"
