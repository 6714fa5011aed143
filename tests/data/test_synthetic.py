import re

import cftime
import netCDF4
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hurricane_ode.cli import main
from hurricane_ode.data.cam5 import open_cam5
from hurricane_ode.data.synthetic import TRACK_COLUMNS, make_synthetic_world

NATL_BOX = dict(lat=(0.0, 60.0), lon=(260.0, 420.0))


def _raw(world):
    return xr.open_mfdataset(
        world.files,
        decode_times=xr.coders.CFDatetimeCoder(use_cftime=True),
        data_vars="minimal",
        coords="minimal",
        compat="override",
    ).load()


def _tracks(world):
    tr = pd.read_csv(world.tracks)
    return tr


def _centre_index(ds, lat, lon):
    res = float(ds.lat[1] - ds.lat[0])
    i = int(round((lat - float(ds.lat[0])) / res))
    j = int(round(lon / res)) % ds.sizes["lon"]
    return i, j


def _isolated_strong_rows(tr, max_abs_lat=30.0, max_psl=100500.0, min_sep_deg=15.0):
    """Tropical rows with a clear low and no other storm within ``min_sep_deg``."""
    keep = []
    for idx, r in tr.iterrows():
        if abs(r.lat) > max_abs_lat or r.min_psl_pa > max_psl:
            continue
        other = tr[(tr.time == r.time) & (tr.storm_id != r.storm_id)]
        dlon = (other.lon - r.lon + 180.0) % 360.0 - 180.0
        if (np.hypot(other.lat - r.lat, dlon) < min_sep_deg).any():
            continue
        keep.append(idx)
    return tr.loc[keep]


def test_same_seed_same_world_other_seed_differs(tmp_path):
    kw = dict(days=1, resolution=6.0, days_per_file=1, progress=False)
    a = make_synthetic_world(tmp_path / "a", seed=3, **kw)
    b = make_synthetic_world(tmp_path / "b", seed=3, **kw)
    c = make_synthetic_world(tmp_path / "c", seed=4, **kw)
    da, db, dc = (_raw(w) for w in (a, b, c))
    for name in ("U850", "V850", "PSL"):
        np.testing.assert_array_equal(da[name].values, db[name].values)
        assert not np.array_equal(da[name].values, dc[name].values)
    assert a.tracks.read_text() == b.tracks.read_text()
    assert a.tracks.read_text() != c.tracks.read_text()


def test_file_layout_looks_like_cam_history_files(demo_world):
    assert len(demo_world.files) == 2
    assert [f.parent for f in demo_world.files] == [demo_world.directory] * 2
    for f in demo_world.files:
        assert re.fullmatch(r".+\.cam\.h2\.\d{4}-\d{2}-\d{2}-\d{5}\.nc", f.name)
    assert demo_world.files[0].name.endswith("2005-08-01-00000.nc")
    assert demo_world.files[1].name.endswith("2005-08-03-00000.nc")
    assert not list(demo_world.directory.glob(".*tmp*"))  # no temporary leftovers

    with netCDF4.Dataset(demo_world.files[0]) as nc:
        assert nc.data_model == "NETCDF4"
        assert nc.source == "CAM" and nc.case
        assert nc.dimensions["time"].isunlimited()
        t = nc["time"]
        assert t.calendar == "noleap" and t.units == "days since 2005-08-01 00:00:00"
        np.testing.assert_allclose(np.diff(t[:]), 0.125)  # 3-hourly
        assert nc["time_bnds"].shape == (16, 2)
        assert list(nc["date"][:2]) == [20050801, 20050801]
        lat, lon = nc["lat"][:], nc["lon"][:]
        assert lat[0] == -90 and lat[-1] == 90 and nc["lat"].units == "degrees_north"
        assert lon[0] == 0 and lon[-1] < 360 and nc["lon"].units == "degrees_east"
        expect = {
            "U850": ("m/s", "Zonal wind at 850 mbar pressure surface"),
            "V850": ("m/s", "Meridional wind at 850 mbar pressure surface"),
            "PSL": ("Pa", "Sea level pressure"),
        }
        for name, (units, long_name) in expect.items():
            v = nc[name]
            assert v.dimensions == ("time", "lat", "lon")
            assert v.dtype == np.float32
            assert (v.units, v.long_name) == (units, long_name)

    ds = _raw(demo_world)
    assert isinstance(ds.time.values[0], cftime.DatetimeNoLeap)
    assert ds.sizes["time"] == 32
    psl = ds.PSL.values / 100.0
    assert 930 < psl.min() and psl.max() < 1045  # hPa, plausible
    zonal = ds.mean(["time", "lon"])
    # subtropical highs above the equatorial trough; trades easterly, westerlies in mid-latitudes
    assert float(zonal.PSL.sel(lat=30)) > float(zonal.PSL.sel(lat=0)) + 800
    assert float(zonal.U850.sel(lat=slice(8, 20)).mean()) < -3
    assert float(zonal.U850.sel(lat=slice(40, 50)).mean()) > 3
    assert float(zonal.U850.sel(lat=slice(-50, -40)).mean()) > 3


def test_tracks_csv_schema(demo_world):
    tr = _tracks(demo_world)
    assert tuple(tr.columns) == TRACK_COLUMNS
    assert set(tr.basin) <= {"natl", "epac", "wpac", "nio", "sio", "spac"}
    assert tr.lon.between(0, 360, inclusive="left").all()
    assert tr.time.str.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}").all()
    assert tr.time.min() >= "2005-08-01T00:00:00" and tr.time.max() <= "2005-08-04T21:00:00"
    assert not tr.duplicated(["storm_id", "time"]).any()
    assert tr.min_psl_pa.between(90000, 103000).all() and (tr.max_wind_ms > 0).all()
    # storms in both hemispheres and several in the North Atlantic box
    assert (tr.lat > 0).any() and (tr.lat < 0).any()
    lon = np.where(tr.lon < 100, tr.lon + 360, tr.lon)
    in_box = tr[tr.lat.between(*NATL_BOX["lat"]) & (lon >= 260) & (lon <= 420)]
    assert in_box.storm_id.nunique() >= 2


def test_storm_count_in_north_atlantic_over_a_month(tmp_path):
    # tracks do not depend on the grid, so a coarse grid checks the genesis tuning cheaply
    world = make_synthetic_world(tmp_path, days=30, resolution=10.0, seed=0, progress=False)
    tr = _tracks(world)
    lon = np.where(tr.lon < 100, tr.lon + 360, tr.lon)
    box = tr[tr.lat.between(0, 60) & (lon >= 260) & (lon <= 420)]
    counts = box.groupby("time").storm_id.nunique().reindex(sorted(set(tr.time)), fill_value=0)
    assert len(counts) == 240
    assert 1.0 <= counts.mean() <= 3.0
    assert counts.between(1, 3).mean() >= 0.6


def test_storms_are_cyclonic_in_both_hemispheres(demo_world):
    ds = _raw(demo_world)
    tr = _isolated_strong_rows(_tracks(demo_world))
    times = {str(t).replace(" ", "T"): k for k, t in enumerate(ds.time.values)}
    res = np.deg2rad(float(ds.lat[1] - ds.lat[0])) * 6.371e6
    signs = []
    for r in tr.itertuples():
        k = times[r.time]
        i, j = _centre_index(ds, r.lat, r.lon)
        nlon = ds.sizes["lon"]
        u, v = ds.U850.values[k], ds.V850.values[k]
        dx = res * np.cos(np.deg2rad(float(ds.lat[i])))
        zeta = (v[i, (j + 1) % nlon] - v[i, j - 1]) / (2 * dx) - (u[i + 1, j] - u[i - 1, j]) / (
            2 * res
        )
        signs.append((np.sign(r.lat), np.sign(zeta)))
    signs = np.array(signs)
    assert (signs[:, 0] > 0).sum() >= 10 and (signs[:, 0] < 0).sum() >= 5
    np.testing.assert_array_equal(signs[:, 0], signs[:, 1])  # NH positive, SH negative


def test_psl_minimum_sits_at_the_tracked_centre(demo_world):
    ds = _raw(demo_world)
    tr = _isolated_strong_rows(_tracks(demo_world))
    assert len(tr) >= 20
    times = {str(t).replace(" ", "T"): k for k, t in enumerate(ds.time.values)}
    psl = ds.PSL.values
    nlon = ds.sizes["lon"]
    w = 3  # cells: +-6 degrees on the 2-degree grid
    for r in tr.itertuples():
        k = times[r.time]
        i, j = _centre_index(ds, r.lat, r.lon)
        window = psl[k, i - w : i + w + 1][:, (j + np.arange(-w, w + 1)) % nlon]
        a, b = np.unravel_index(np.argmin(window), window.shape)
        assert abs(a - w) <= 1 and abs(b - w) <= 1, (r.storm_id, r.time, a - w, b - w)
        # a real low: the centre is well below the ring of the window
        ring = np.r_[window[0], window[-1], window[:, 0], window[:, -1]]
        assert window.min() < np.median(ring) - 300.0
        # the analytic central pressure is not above the gridded minimum (1 hPa slack: the
        # background varies across the cell between the centre and the nearest grid point)
        assert r.min_psl_pa <= window.min() + 100.0


def test_open_cam5_reads_the_synthetic_world_as_is(demo_world):
    ds = open_cam5(demo_world.files)
    raw = _raw(demo_world)
    assert ds.attrs["hurricane_ode_aliases"] == ""
    assert list(ds.data_vars) == ["U850", "V850", "PSL"]
    assert ds.sizes == {"time": 32, "lat": 91, "lon": 180}
    np.testing.assert_array_equal(ds.PSL.values, raw.PSL.values)
    assert isinstance(ds.time.values[0], cftime.DatetimeNoLeap)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(resolution=7.0), "resolution"),
        (dict(start="2005-02-29"), "noleap"),
        (dict(start="2005-08-01 01:00"), "3-hourly"),
        (dict(days=0), "days"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, kwargs, match):
    args = dict(days=1, resolution=10.0, progress=False) | kwargs
    with pytest.raises(ValueError, match=match):
        make_synthetic_world(tmp_path, **args)


def test_cli_synth(tmp_path, capsys):
    rc = main(["synth", "--output", str(tmp_path / "w"), "--days", "1", "--resolution", "10",
               "--seed", "1", "--days-per-file", "0.5", "--quiet"])  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert "tracks.csv" in out and str(tmp_path / "w") in out
    assert len(list((tmp_path / "w").glob("*.cam.h2.*.nc"))) == 2
    assert main(["synth", "--output", str(tmp_path / "x"), "--resolution", "7", "--quiet"]) == 2
