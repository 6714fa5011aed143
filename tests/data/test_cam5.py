import logging
import os

import cftime
import dask.array
import numpy as np
import pytest
import xarray as xr

from hurricane_ode.data.cam5 import CAM5FormatError, open_cam5

NLAT, NLON = 5, 8


def _dataset(
    days=(0.0, 0.125, 0.25, 0.375),
    lat=None,
    lon=None,
    names=("U850", "V850", "PSL"),
    units=None,
    psl_value=101000.0,
    calendar="noleap",
):
    """A tiny CAM-like dataset; time raw (days since 2005-08-01) so any order can be written."""
    lat = np.linspace(-60.0, 60.0, NLAT) if lat is None else np.asarray(lat, float)
    lon = np.arange(NLON) * 45.0 if lon is None else np.asarray(lon, float)
    units = {"U850": "m/s", "V850": "m/s", "PSL": "Pa"} | (units or {})
    nt = len(days)
    rng = np.random.default_rng(0)
    base = {
        "U850": rng.normal(0, 5, (nt, len(lat), len(lon))),
        "V850": rng.normal(0, 5, (nt, len(lat), len(lon))),
        "PSL": psl_value + rng.normal(0, 10, (nt, len(lat), len(lon))),
    }
    data_vars = {}
    for name, canonical in zip(names, ("U850", "V850", "PSL")):
        attrs = {"long_name": canonical}
        if units.get(canonical) is not None:
            attrs["units"] = units[canonical]
        data_vars[name] = (("time", "lat", "lon"), base[canonical].astype(np.float32), attrs)
    data_vars["date"] = ("time", np.full(nt, 20050801, np.int32))
    return xr.Dataset(
        data_vars,
        coords={
            "time": ("time", np.asarray(days, float),
                     {"units": "days since 2005-08-01 00:00:00", "calendar": calendar}),
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        attrs={"source": "CAM", "case": "tiny"},
    )  # fmt: skip


def _write(ds, path):
    enc = {v: {"_FillValue": None} for v in ("time", "lat", "lon") if v in ds.variables}
    ds.to_netcdf(path, engine="netcdf4", encoding=enc)
    return path


# ----------------------------------------------------------------------------- errors


def test_missing_variable_names_file_and_variable(tmp_path):
    path = _write(_dataset().drop_vars("V850"), tmp_path / "a.nc")
    with pytest.raises(CAM5FormatError, match=r"a\.nc.*'V850' not found"):
        open_cam5(path)


def test_wrong_units(tmp_path):
    path = _write(_dataset(units={"U850": "km/h"}), tmp_path / "a.nc")
    with pytest.raises(CAM5FormatError, match=r"a\.nc.*'U850'.*'km/h'.*m/s"):
        open_cam5(path)
    path = _write(_dataset(units={"PSL": "K"}), tmp_path / "b.nc")
    with pytest.raises(CAM5FormatError, match=r"b\.nc.*'PSL'.*'K'.*Pa"):
        open_cam5(path)


def test_missing_units(tmp_path):
    path = _write(_dataset(units={"PSL": None}), tmp_path / "a.nc")
    with pytest.raises(CAM5FormatError, match=r"a\.nc.*'PSL' has no 'units'"):
        open_cam5(path)


def test_duplicate_times_within_a_file(tmp_path):
    path = _write(_dataset(days=(0.0, 0.125, 0.125, 0.25)), tmp_path / "a.nc")
    with pytest.raises(CAM5FormatError, match=r"a\.nc.*duplicate.*2005-08-01 03:00:00"):
        open_cam5(path)


def test_unsorted_times_within_a_file(tmp_path):
    path = _write(_dataset(days=(0.0, 0.25, 0.125)), tmp_path / "a.nc")
    with pytest.raises(CAM5FormatError, match=r"a\.nc.*out-of-order.*06:00:00 then .*03:00:00"):
        open_cam5(path)


def test_overlapping_times_across_files(tmp_path):
    a = _write(_dataset(days=(0.0, 0.125, 0.25)), tmp_path / "a.nc")
    b = _write(_dataset(days=(0.25, 0.375)), tmp_path / "b.nc")
    with pytest.raises(CAM5FormatError, match=r"a\.nc ends at 2005-08-01 06:00:00 but .*b\.nc"):
        open_cam5([a, b])
    c = _write(_dataset(days=(0.125, 0.5)), tmp_path / "c.nc")  # interleaves with a
    with pytest.raises(CAM5FormatError, match=r"overlap.*a\.nc.*c\.nc"):
        open_cam5([c, a])


def test_files_given_out_of_order_are_sorted_by_time(tmp_path):
    a = _write(_dataset(days=(0.0, 0.125)), tmp_path / "a.nc")
    b = _write(_dataset(days=(0.25, 0.375)), tmp_path / "b.nc")
    ds = open_cam5([b, a])
    assert [t.hour for t in ds.time.values] == [0, 3, 6, 9]


def test_missing_coordinate(tmp_path):
    path = _write(_dataset().drop_vars("lat"), tmp_path / "a.nc")
    with pytest.raises(CAM5FormatError, match=r"a\.nc.*'lat'"):
        open_cam5(path)
    no_lon = _dataset().rename_dims(lon="x").drop_vars("lon")
    path = _write(no_lon, tmp_path / "b.nc")
    with pytest.raises(CAM5FormatError, match=r"b\.nc: no 'lon' coordinate"):
        open_cam5(path)


def test_grids_differ_between_files(tmp_path):
    a = _write(_dataset(days=(0.0,)), tmp_path / "a.nc")
    b = _write(_dataset(days=(0.125,), lat=np.linspace(-50, 50, NLAT)), tmp_path / "b.nc")
    with pytest.raises(
        CAM5FormatError, match=r"grids differ between files .*a\.nc and .*b\.nc.*'lat'"
    ):
        open_cam5([a, b])
    c = _write(_dataset(days=(0.125,), lon=np.arange(NLON + 1) * 40.0), tmp_path / "c.nc")
    with pytest.raises(CAM5FormatError, match=r"a\.nc and .*c\.nc.*'lon' has 8 points vs 9"):
        open_cam5([a, c])


def test_unreadable_and_truncated_files(tmp_path):
    junk = tmp_path / "junk.nc"
    junk.write_text("this is not NetCDF")
    with pytest.raises(CAM5FormatError, match=r"junk\.nc: cannot be read"):
        open_cam5(junk)
    good = _write(_dataset(), tmp_path / "good.nc")
    truncated = tmp_path / "truncated.nc"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(CAM5FormatError, match=r"truncated\.nc"):
        open_cam5([good, truncated])


def test_all_nan_field(tmp_path):
    ds = _dataset()
    ds["V850"][:] = np.nan
    path = _write(ds, tmp_path / "a.nc")
    with pytest.raises(CAM5FormatError, match=r"a\.nc.*'V850' is entirely missing"):
        open_cam5(path)
    # NaN at the sampled steps (first, middle, last) but not everywhere is fine
    ds = _dataset(days=(0.0, 0.125, 0.25, 0.375, 0.5))
    ds["V850"][[0, 2, 4]] = np.nan
    ok = open_cam5(_write(ds, tmp_path / "b.nc"))
    assert np.isfinite(ok.V850.values[1]).all()


def test_missing_paths(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.nc"):
        open_cam5(tmp_path / "nope.nc")
    with pytest.raises(FileNotFoundError, match=r"no files match"):
        open_cam5(str(tmp_path / "*.nc"))


# ----------------------------------------------------------------------------- standardising


def test_output_schema_cf_attrs_and_laziness(tmp_path):
    path = _write(_dataset(days=np.arange(20) * 0.125), tmp_path / "a.nc")
    ds = open_cam5(path)
    assert list(ds.data_vars) == ["U850", "V850", "PSL"]  # 'date' dropped
    assert set(ds.coords) == {"time", "lat", "lon"}
    for name in ds.data_vars:
        da = ds[name]
        assert da.dims == ("time", "lat", "lon") and da.dtype == np.float32
        assert isinstance(da.data, dask.array.Array)  # lazy
        assert da.data.chunks[0] == (8, 8, 4)
    assert ds.U850.attrs["standard_name"] == "eastward_wind" and ds.U850.attrs["units"] == "m s-1"
    assert ds.V850.attrs["standard_name"] == "northward_wind"
    assert ds.PSL.attrs == {"standard_name": "air_pressure_at_mean_sea_level",
                            "long_name": "Sea level pressure", "units": "Pa"}  # fmt: skip
    assert ds.lat.attrs["units"] == "degrees_north" and ds.lon.attrs["units"] == "degrees_east"
    assert open_cam5(path, chunks={"time": 5}).PSL.data.chunks[0] == (5, 5, 5, 5)
    raw = xr.open_dataset(path)
    np.testing.assert_array_equal(ds.PSL.values, raw.PSL.values)


def test_hpa_converted_to_pa(tmp_path):
    path = _write(_dataset(units={"PSL": "hPa"}, psl_value=1010.0), tmp_path / "a.nc")
    ds = open_cam5(path)
    raw = xr.open_dataset(path)
    assert isinstance(ds.PSL.data, dask.array.Array)
    np.testing.assert_allclose(ds.PSL.values, raw.PSL.values * 100.0, rtol=1e-6)
    assert ds.PSL.attrs["units"] == "Pa"
    for unit in ("mb", "millibar"):
        p = _write(_dataset(units={"PSL": unit}, psl_value=1010.0), tmp_path / f"{unit}.nc")
        assert 100000 < float(open_cam5(p).PSL.mean()) < 102000


def test_aliases_are_renamed_logged_and_recorded(tmp_path, caplog):
    ds = _dataset(names=("ua850", "va850", "slp"), units={"U850": "m s-1", "V850": "m s**-1"})
    path = _write(ds, tmp_path / "a.nc")
    with caplog.at_level(logging.INFO, logger="hurricane_ode.data.cam5"):
        out = open_cam5(path)
    assert list(out.data_vars) == ["U850", "V850", "PSL"]
    assert out.attrs["hurricane_ode_aliases"] == "U850<-ua850; V850<-va850; PSL<-slp"
    assert "using variable 'slp' as PSL" in caplog.text


def test_minus180_180_longitudes_become_0_360(tmp_path):
    lon = np.arange(-180.0, 180.0, 45.0)
    raw = _dataset(lon=lon)
    out = open_cam5(_write(raw, tmp_path / "a.nc"))
    np.testing.assert_array_equal(out.lon.values, np.arange(0.0, 360.0, 45.0))
    for src in (-180.0, -45.0, 0.0, 135.0):
        np.testing.assert_array_equal(
            out.U850.sel(lon=src % 360).values, raw.U850.sel(lon=src).values
        )


def test_descending_latitude_made_ascending(tmp_path):
    raw = _dataset(lat=np.linspace(60.0, -60.0, NLAT))
    out = open_cam5(_write(raw, tmp_path / "a.nc"))
    assert np.all(np.diff(out.lat.values) > 0)
    np.testing.assert_array_equal(out.PSL.sel(lat=60.0).values, raw.PSL.sel(lat=60.0).values)


def test_noleap_calendar_kept(tmp_path):
    # 2004-02-28 18:00 + 6 h is 2004-03-01 in noleap (2004-02-29 in the standard calendar)
    ds = _dataset(days=(-518.25, -518.0))
    out = open_cam5(_write(ds, tmp_path / "a.nc"))
    times = out.time.values
    assert all(isinstance(t, cftime.DatetimeNoLeap) for t in times)
    assert (times[0].month, times[0].day, times[1].month, times[1].day) == (2, 28, 3, 1)
    assert out.time.encoding["calendar"] == "noleap"
    assert out.time.encoding["units"] == "days since 2005-08-01 00:00:00"


def test_cam_fill_value_without_attribute_becomes_nan(tmp_path):
    ds = _dataset()
    ds["U850"][0, 0, 0] = 1e36
    out = open_cam5(_write(ds, tmp_path / "a.nc"))
    assert np.isnan(out.U850.values[0, 0, 0]) and np.isfinite(out.U850.values[0, 0, 1])


def test_glob_list_and_directory_inputs(tmp_path):
    a = _write(_dataset(days=(0.0, 0.125)), tmp_path / "x.cam.h2.a.nc")
    b = _write(_dataset(days=(0.25, 0.375)), tmp_path / "x.cam.h2.b.nc")
    by_glob = open_cam5(str(tmp_path / "x.cam.h2.*.nc"))
    by_list = open_cam5([a, str(b)])
    by_dir = open_cam5(tmp_path)
    assert by_glob.sizes["time"] == by_list.sizes["time"] == by_dir.sizes["time"] == 4
    xr.testing.assert_identical(by_glob, by_list)
    assert by_glob.attrs["hurricane_ode_files"] == 2


def test_calendars_differ_between_files(tmp_path):
    a = _write(_dataset(days=(0.0,)), tmp_path / "a.nc")
    b = _write(_dataset(days=(0.125,), calendar="standard"), tmp_path / "b.nc")
    with pytest.raises(CAM5FormatError, match=r"calendars differ.*a\.nc.*b\.nc"):
        open_cam5([a, b])


# ----------------------------------------------------------------------------- foreign inputs
def test_dataset_input_is_standardised_like_a_file(tmp_path):
    path = _write(_dataset(lat=np.linspace(60.0, -60.0, NLAT)), tmp_path / "a.nc")
    from_file = open_cam5(path)
    raw = xr.open_dataset(path, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    from_ds = open_cam5(raw)
    xr.testing.assert_identical(from_file.drop_attrs(), from_ds.drop_attrs())
    assert from_ds.lat.values[0] < from_ds.lat.values[-1]
    with pytest.raises(CAM5FormatError, match=r"a\.nc: variable 'PSL' not found"):
        open_cam5(raw.drop_vars("PSL"))  # a Dataset opened from a file is named by its source
    with pytest.raises(CAM5FormatError, match=r"<input Dataset>: variable 'PSL' not found"):
        open_cam5(raw.load().drop_vars("PSL").drop_encoding())
    with pytest.raises(CAM5FormatError, match="no input given"):
        open_cam5(None)


def test_unstructured_ncol_grid_is_named(tmp_path):
    n = 12
    ds = xr.Dataset(
        {
            "PSL": (("time", "ncol"), np.full((2, n), 101000.0, np.float32), {"units": "Pa"}),
            "lat": ("ncol", np.linspace(-80, 80, n)),
            "lon": ("ncol", np.linspace(0, 350, n)),
        },
        coords={"time": ("time", [0.0, 0.125], {"units": "days since 2005-08-01"})},
    )
    path = _write(ds, tmp_path / "se.nc")
    with pytest.raises(CAM5FormatError, match=r"se\.nc: an unstructured grid \(dimension 'ncol' of 12"):
        open_cam5(path)


def test_decode_warnings_condensed_to_one_line_each(tmp_path, caplog):
    ds = _dataset()
    for name in ("U850", "V850", "PSL"):
        ds[name].attrs["missing_value"] = np.float32(-999.0)
    enc = {v: {"_FillValue": np.float32(1e36)} for v in ("U850", "V850", "PSL")}
    enc |= {v: {"_FillValue": None} for v in ("time", "lat", "lon")}
    path = tmp_path / "multi.nc"
    ds.to_netcdf(path, engine="netcdf4", encoding=enc)
    with caplog.at_level(logging.WARNING, logger="hurricane_ode.data.cam5"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("error")  # none may escape as a raw warning
            open_cam5(path)
    lines = [r.getMessage() for r in caplog.records]
    assert lines, "the multiple-fill-value warnings are reported"
    assert all("\n" not in line and "multi.nc" in line for line in lines)
    assert len(lines) < 3 and any("and 2 more like it" in line for line in lines)


def _open_handles(paths):
    """How many of this process's file descriptors point at ``paths`` (Linux /proc)."""
    fd_dir = "/proc/self/fd"
    targets = {str(p.resolve()) for p in paths}
    count = 0
    for fd in os.listdir(fd_dir):
        try:
            count += os.readlink(os.path.join(fd_dir, fd)) in targets
        except OSError:
            continue
    return count


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs Linux /proc")
def test_closing_the_dataset_closes_every_file_it_opened(tmp_path):
    """open_cam5 opens one file at a time: ``close()`` (or ``with``) must close them all, as
    open_mfdataset's does. prepare relies on it: an xarray handle left open shares HDF5's file
    with the direct reads and keeps every chunk they read in memory."""
    paths = [_write(_dataset(days=(0.0, 0.125)), tmp_path / "a.nc"),
             _write(_dataset(days=(0.25, 0.375)), tmp_path / "b.nc")]  # fmt: skip
    with open_cam5(paths) as ds:
        ds.load()
        assert _open_handles(paths) == 2
    assert _open_handles(paths) == 0
