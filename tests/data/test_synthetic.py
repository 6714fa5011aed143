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


# --------------------------------------------------------------------------- prefix stability


@pytest.mark.parametrize("background", ["zonal", "spectral", "eddies"])
def test_longer_run_only_adds_days(tmp_path, background):
    from hurricane_ode.data.synthetic import Climate

    climate = Climate(background=background, noise_psl_pa=5.0, noise_wind_ms=0.2)
    kw = dict(resolution=4.0, seed=11, progress=False, climate=climate)
    short = make_synthetic_world(tmp_path / "short", days=2, days_per_file=1.5, **kw)
    long = make_synthetic_world(tmp_path / "long", days=16, days_per_file=5, **kw)
    a, b = _raw(short), _raw(long)
    assert a.sizes["time"] == 16 and b.sizes["time"] == 128
    np.testing.assert_array_equal(a.time.values, b.time.values[:16])
    for name in ("U850", "V850", "PSL"):
        np.testing.assert_array_equal(a[name].values, b[name].values[:16])  # bitwise
    ta, tb = _tracks(short), _tracks(long)
    tb = tb[tb.time <= ta.time.max()].reset_index(drop=True)
    assert len(ta) > 20
    pd.testing.assert_frame_equal(ta, tb)
    # the long run goes on with storms born after the short run ended
    assert set(_tracks(long).storm_id) > set(ta.storm_id)


# --------------------------------------------------------------------------- climates


def test_climate_validation_and_training_range():
    from hurricane_ode.data.synthetic import TRAINING_RANGES, Climate
    from hurricane_ode.errors import ConfigError

    assert Climate().outside_training_range() == {}
    with pytest.raises(ConfigError, match="background"):
        Climate(background="fft")
    with pytest.raises(ConfigError, match="dp_peak_hpa"):
        Climate(dp_peak_hpa=(50.0, 10.0))
    with pytest.raises(ConfigError, match="trough_hpa"):
        Climate(trough_hpa=1030.0)
    with pytest.raises(ConfigError, match="unknown Climate key.*jet"):
        Climate.from_dict({"jet": 2})
    c1 = Climate.sample(np.random.default_rng(4))
    assert (
        c1 == Climate.sample(np.random.default_rng(4)) != Climate.sample(np.random.default_rng(5))
    )
    for _ in range(20):
        c = Climate.sample(np.random.default_rng(_), spread=1.0)
        assert c.outside_training_range() == {}
        for name, value in c.scalars().items():
            lo, hi = TRAINING_RANGES[name]
            assert lo - 1e-9 <= value <= hi + 1e-9, name
    mid = Climate.sample(np.random.default_rng(0), spread=0.0)
    assert mid.subtropical_high_hpa == pytest.approx(
        sum(TRAINING_RANGES["subtropical_high_hpa"]) / 2
    )
    hot = Climate.from_scalars({"subtropical_high_lat": 37.0, "genesis_scale": 2.0,
                                "background": "spectral"})  # fmt: skip
    out = hot.outside_training_range()
    assert out["subtropical_high_lat"]["by"] == pytest.approx(3.0)
    assert out["genesis_scale"]["by"] == pytest.approx(0.5)
    assert out["background"]["value"] == "spectral"
    # the second training generator is inside the training range; the third is not
    assert Climate(background="eddies").outside_training_range() == {}
    assert Climate.from_dict(hot.to_dict()) == hot


def test_climate_knobs_change_the_world(tmp_path):
    from hurricane_ode.data.synthetic import Climate

    def world(name, **knobs):
        w = make_synthetic_world(tmp_path / name, days=6, resolution=5.0, seed=2, progress=False,
                                 climate=Climate.from_scalars(knobs))  # fmt: skip
        return _raw(w).mean(["time", "lon"]), _tracks(w)

    base_z, base_t = world("base")
    high_z, _ = world("high", subtropical_high_hpa=1025.0, subtropical_high_lat=35.0)
    assert float(high_z.PSL.sel(lat=35)) > float(base_z.PSL.sel(lat=35)) + 300.0
    assert float(high_z.PSL.sel(lat=35)) > float(high_z.PSL.sel(lat=30))
    # a mapping of knobs is accepted as the climate too
    w = make_synthetic_world(tmp_path / "m", days=1, resolution=10.0, seed=2, progress=False,
                             climate={"size_scale": 1.2, "background": "spectral"})  # fmt: skip
    assert w.climate.background == "spectral" and w.climate.outer_radius_km == (720.0, 1080.0)
    _, busy = world("busy", genesis_scale=2.5)
    assert busy.storm_id.nunique() > 1.5 * base_t.storm_id.nunique()
    _, strong = world("strong", intensity_scale=1.5)
    assert strong.min_psl_pa.min() < base_t.min_psl_pa.min() - 1000.0

    def speed(tr):
        d = tr.groupby("storm_id")[["lat", "lon"]].diff().dropna()
        return float(np.hypot(d.lat, (d.lon + 180) % 360 - 180).median())

    _, fast = world("fast", translation_scale=1.5, track_noise_ms=0.0)
    _, slow = world("slow", translation_scale=0.7, track_noise_ms=0.0)
    assert speed(fast) > 1.6 * speed(slow)


def test_spectral_background_is_another_generator(tmp_path):
    from hurricane_ode.data.synthetic import Climate

    kw = dict(days=2, resolution=3.0, seed=1, progress=False)
    z = _raw(make_synthetic_world(tmp_path / "z", **kw))
    s = _raw(make_synthetic_world(tmp_path / "s", climate=Climate(background="spectral"), **kw))
    assert not np.allclose(z.PSL.values, s.PSL.values, atol=200.0)
    zonal = s.mean(["time", "lon"])
    assert float(zonal.PSL.sel(lat=30)) > float(zonal.PSL.sel(lat=0)) + 800
    assert float(zonal.U850.sel(lat=slice(8, 20)).mean()) < -3
    assert float(zonal.U850.sel(lat=slice(40, 50)).mean()) > 3
    eddy = s.PSL - s.PSL.mean("lon")
    assert 100.0 < float(eddy.sel(lat=slice(30, 60)).std()) < 2000.0


def test_eddies_background_is_a_third_generator(tmp_path):
    from hurricane_ode.data.synthetic import Climate

    kw = dict(days=3, resolution=2.0, seed=1, progress=False)
    worlds = {bg: _raw(make_synthetic_world(tmp_path / bg, climate=Climate(background=bg), **kw))
              for bg in ("zonal", "spectral", "eddies")}  # fmt: skip
    e = worlds["eddies"]
    for other in ("zonal", "spectral"):
        assert not np.allclose(e.PSL.values, worlds[other].PSL.values, atol=200.0), other
    zonal = e.mean(["time", "lon"])
    assert float(zonal.PSL.sel(lat=30)) > float(zonal.PSL.sel(lat=0)) + 800  # highs over the trough
    assert float(zonal.PSL.sel(lat=60)) < float(zonal.PSL.sel(lat=30)) - 1500  # subpolar lows
    assert float(zonal.U850.sel(lat=slice(40, 50)).mean()) > 3  # westerlies
    anomaly = e.PSL - e.PSL.mean("lon")
    assert 150.0 < float(anomaly.sel(lat=slice(30, 60)).std()) < 2000.0
    # coherent eddies drift eastward in mid-latitudes: the anomaly 6 h later correlates best
    # with the earlier one shifted east
    band = anomaly.sel(lat=slice(35, 60))
    a0, a1 = band.isel(time=8).values, band.isel(time=10).values
    corr = [np.corrcoef(np.roll(a0, s, axis=1).ravel(), a1.ravel())[0, 1] for s in range(-3, 4)]
    assert int(np.argmax(corr)) - 3 > 0, corr
    # stronger wave knobs make stronger eddies
    strong = _raw(make_synthetic_world(tmp_path / "strong", climate=Climate(
        background="eddies", rossby_amp_scale=1.4), **kw))  # fmt: skip
    sa = (strong.PSL - strong.PSL.mean("lon")).sel(lat=slice(30, 60)).std()
    assert float(sa) > 1.2 * float(anomaly.sel(lat=slice(30, 60)).std())


# --------------------------------------------------------------------------- given tracks, IBTrACS


def _one_storm():
    times = [f"2005-08-0{1 + h // 24}T{h % 24:02d}:00:00" for h in range(0, 72, 6)]
    n = len(times)
    return pd.DataFrame({
        "storm_id": "KATRINA", "basin": "natl", "time": times,
        "lat": np.linspace(20.0, 28.0, n), "lon": np.linspace(-70.0, -85.0, n),
        "min_psl_pa": np.linspace(99000.0, 95000.0, n), "max_wind_ms": np.nan,
    })  # fmt: skip


def test_storms_on_given_tracks(tmp_path):
    given = _one_storm()
    w = make_synthetic_world(tmp_path, days=2, resolution=1.0, seed=0, progress=False,
                             storm_tracks=given, days_per_file=2)  # fmt: skip
    tr = _tracks(w)
    assert set(tr.storm_id) == {"KATRINA"} and len(tr) == 16  # 3-hourly within the 2-day run
    np.testing.assert_allclose(tr.lat, np.linspace(20.0, 28.0, 23)[:16], atol=1e-4)
    np.testing.assert_allclose(tr.lon, (np.linspace(-70.0, -85.0, 23)[:16]) % 360, atol=1e-4)
    np.testing.assert_allclose(tr.min_psl_pa, np.linspace(99000, 95000, 23)[:16], atol=0.1)
    ds = _raw(w)
    for k in (0, 15):
        i, j = _centre_index(ds, tr.lat[k], tr.lon[k])
        win = ds.PSL.values[k, i - 3 : i + 4, j - 3 : j + 4]
        a, b = np.unravel_index(np.argmin(win), win.shape)
        assert abs(a - 3) <= 1 and abs(b - 3) <= 1
        ring = np.r_[win[0], win[-1], win[:, 0], win[:, -1]]
        assert win.min() < np.median(ring) - 1000.0  # a deep low on the 1-degree grid
        assert tr.min_psl_pa[k] <= win.min() + 100.0
    with pytest.raises(ValueError, match="no track has two 3-hourly steps within the run"):
        make_synthetic_world(tmp_path / "y", start="2006-08-01", days=1, resolution=10.0,
                             progress=False, storm_tracks=given)  # fmt: skip
    with pytest.raises(ValueError, match="lacks column"):
        make_synthetic_world(tmp_path / "x", days=1, resolution=10.0, progress=False,
                             storm_tracks=given.drop(columns="min_psl_pa"))  # fmt: skip


def test_ibtracs_tracks_layout_and_round_trip(tmp_path):
    from hurricane_ode.data.synthetic import IBTRACS_COLUMNS

    w = make_synthetic_world(tmp_path / "a", days=2, resolution=10.0, seed=5, progress=False,
                             tracks_format="ibtracs")  # fmt: skip
    assert w.ibtracs == tmp_path / "a" / "tracks_ibtracs.csv"
    raw = pd.read_csv(w.ibtracs, dtype=str, keep_default_na=False)
    assert tuple(raw.columns) == IBTRACS_COLUMNS
    units = raw.iloc[0]
    assert (units.LAT, units.LON, units.WMO_WIND, units.WMO_PRES) == (
        "degrees_north",
        "degrees_east",
        "kts",
        "mb",
    )
    body = raw.iloc[1:]
    assert "NA" in set(body.BASIN) and set(body.BASIN) <= {"NA", "EP", "WP", "NI", "SI", "SP"}
    off = ~body.ISO_TIME.str[11:13].isin(["00", "06", "12", "18"])
    assert off.any() and (body.WMO_PRES[off].str.strip() == "").all()  # blank = missing
    assert (body.USA_PRES.str.strip() != "").all()
    assert pd.to_numeric(body.LON).between(-180, 180).all()
    assert body.SID.str.fullmatch(r"\d{7}[NS]\d{5}").all()
    # the IBTrACS file drives another world: same positions, pressures to the hPa
    ours = _tracks(w)
    # (same seed: same background, so the same central pressures are reachable)
    w2 = make_synthetic_world(tmp_path / "b", days=2, resolution=10.0, seed=5, progress=False,
                              storm_tracks=w.ibtracs)  # fmt: skip
    back = _tracks(w2)
    assert len(back) == len(ours[ours.groupby("storm_id").time.transform("size") >= 2])
    merged = back.merge(ours, on=["time", "lat", "lon"], suffixes=("", "_o"))
    assert len(merged) == len(back)
    np.testing.assert_allclose(merged.min_psl_pa, merged.min_psl_pa_o, atol=60.0)


def test_cli_synth_climate_and_tracks(tmp_path, capsys):
    (tmp_path / "c.yaml").write_text("subtropical_high_hpa: 1024\ngenesis_scale: 1.5\n")
    _one_storm().to_csv(tmp_path / "t.csv", index=False)
    rc = main(["synth", "--output", str(tmp_path / "w"), "--days", "1", "--resolution", "10",
               "--climate", str(tmp_path / "c.yaml"), "--background", "spectral",
               "--storm-tracks", str(tmp_path / "t.csv"), "--tracks-format", "both", "--quiet"])  # fmt: skip
    assert rc == 0
    assert "tracks_ibtracs.csv" in capsys.readouterr().out
    meta = __import__("json").loads((tmp_path / "w" / "world.json").read_text())
    assert (
        meta["climate"]["background"] == "spectral"
        and meta["climate"]["subtropical_high_hpa"] == 1024
    )
    assert meta["storms_on_given_tracks"] and set(_tracks_path(tmp_path / "w").storm_id) == {
        "KATRINA"
    }
    # every generator can be asked for from the CLI
    from hurricane_ode.data.synthetic import BACKGROUNDS

    for bg in BACKGROUNDS:
        out = tmp_path / f"bg_{bg}"
        assert main(["synth", "--output", str(out), "--days", "0.25", "--resolution", "10",
                     "--background", bg, "--quiet"]) == 0, bg  # fmt: skip
        meta = __import__("json").loads((out / "world.json").read_text())
        assert meta["climate"]["background"] == bg
    (tmp_path / "bad.yaml").write_text("jet_speed: 3\n")
    assert main(["synth", "--output", str(tmp_path / "x"), "--days", "1", "--resolution", "10",
                 "--climate", str(tmp_path / "bad.yaml"), "--quiet"]) == 2  # fmt: skip
    assert "jet_speed" in capsys.readouterr().err


def _tracks_path(directory):
    return pd.read_csv(directory / "tracks.csv")


# --------------------------------------------------------------------------- scripts/make_worlds.py


def _make_worlds_module():
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "make_worlds.py"
    spec = importlib.util.spec_from_file_location("make_worlds", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_worlds"] = module  # so a process pool (--jobs) can pickle its functions
    spec.loader.exec_module(module)
    return module


def test_make_worlds_script(tmp_path, capsys):
    import json

    mw = _make_worlds_module()
    (tmp_path / "train.yaml").write_text(
        "output: train\ntraining_seeds: [1000, 1999]\ntracks_format: both\nworlds:\n"
        "  - {name: a, seed: 1000, days: 1, resolution: 10.0, climate: sample}\n"
        "  - {name: b, seed: 1001, days: 1, resolution: 10.0, climate: default}\n"
    )
    (tmp_path / "held.yaml").write_text(
        "output: held\nrequire_outside_training: true\ntraining_seeds: [1000, 1999]\nworlds:\n"
        "  - {name: h, seed: 9001, days: 1, resolution: 10.0,"
        " climate: {genesis_scale: 2.0, background: spectral}}\n"
    )
    args = [
        str(tmp_path / "train.yaml"),
        str(tmp_path / "held.yaml"),
        "--output",
        str(tmp_path / "w"),
    ]
    assert mw.main(args) == 0
    manifest = json.loads((tmp_path / "w" / "train" / "manifest.json").read_text())
    a, b = manifest["worlds"]
    assert (a["seed"], b["seed"]) == (1000, 1001) and a["outside_training_range"] == {}
    assert a["climate"] != b["climate"]  # sampled vs default
    assert (tmp_path / "w" / "train" / "a" / "tracks_ibtracs.csv").exists()
    held = json.loads((tmp_path / "w" / "held" / "manifest.json").read_text())["worlds"][0]
    assert held["outside_training_range"]["genesis_scale"]["by"] == pytest.approx(0.5)
    assert held["background"] == "spectral"
    # the same sampled climate again (seeded by the world seed); a rerun skips up-to-date worlds
    assert (
        mw.world_climate({"name": "a", "seed": 1000, "climate": "sample"}, 1.0).scalars()
        == a["climate"]
    )
    capsys.readouterr()
    assert mw.main(args) == 0
    assert capsys.readouterr().out.count("up to date, skipped") == 3
    # a held-out world inside the training range or with a training seed is refused
    (tmp_path / "bad.yaml").write_text(
        "output: bad\nrequire_outside_training: true\ntraining_seeds: [1000, 1999]\nworlds:\n"
        "  - {name: x, seed: 9003, days: 1, resolution: 10.0, climate: {genesis_scale: 1.2}}\n"
    )
    assert mw.main([str(tmp_path / "bad.yaml"), "--output", str(tmp_path / "w")]) == 2
    assert "inside the training range" in capsys.readouterr().err


def test_make_worlds_jobs_make_the_same_worlds(tmp_path):
    """``--jobs 2`` (a process pool) writes the same worlds, in the same manifest order."""
    import json

    import xarray as xr

    mw = _make_worlds_module()
    (tmp_path / "train.yaml").write_text(
        "output: train\nworlds:\n"
        "  - {name: a, seed: 1000, days: 1, resolution: 10.0, climate: sample}\n"
        "  - {name: b, seed: 1001, days: 1, resolution: 10.0, climate: {sample: true, background: eddies}}\n"
        "  - {name: c, seed: 1002, days: 1, resolution: 10.0, climate: default}\n"
    )
    for jobs, out in ((1, "serial"), (2, "pool")):
        assert mw.main([str(tmp_path / "train.yaml"), "--output", str(tmp_path / out), "--jobs", str(jobs)]) == 0
    manifests = [json.loads((tmp_path / o / "train" / "manifest.json").read_text())["worlds"] for o in ("serial", "pool")]
    assert [w["name"] for w in manifests[1]] == ["a", "b", "c"]
    for one, other in zip(*manifests):
        assert (one["climate"], one["n_storms"]) == (other["climate"], other["n_storms"])
        name = one["name"]
        files = sorted((tmp_path / "serial" / "train" / name).glob("*.nc"))
        assert files
        for f in files:
            with xr.open_dataset(f) as x, xr.open_dataset(tmp_path / "pool" / "train" / name / f.name) as y:
                xr.testing.assert_identical(x[["U850", "V850", "PSL"]], y[["U850", "V850", "PSL"]])
        assert (tmp_path / "serial" / "train" / name / "tracks.csv").read_text() == (
            tmp_path / "pool" / "train" / name / "tracks.csv"
        ).read_text()
    with pytest.raises(SystemExit):
        mw.main([str(tmp_path / "train.yaml"), "--output", str(tmp_path / "x"), "--jobs", "0"])


def test_the_shipped_world_configs_keep_training_and_held_out_apart():
    """Training worlds (any generator) lie inside the training range with training seeds; every
    held-out world is outside it, and world B's generator is used by no training world."""
    from pathlib import Path

    from hurricane_ode.data.synthetic import TRAINING_BACKGROUNDS

    mw = _make_worlds_module()
    root = Path(__file__).resolve().parents[2] / "configs" / "worlds"
    train_backgrounds = set()
    names = sorted(p.name for p in root.glob("train*.yaml"))
    assert {"train.yaml", "train_extra.yaml", "train_eddies.yaml", "train_gen4.yaml"} <= set(names)
    seeds: list[int] = []
    for name in names:
        cfg = mw.load_config(root / name)
        seeds += [int(spec["seed"]) for spec in cfg["worlds"]]
        lo, hi = cfg["training_seeds"]
        for spec in cfg["worlds"]:
            climate = mw.world_climate(spec, float(cfg.get("spread", 1.0)))
            assert climate.outside_training_range() == {}, spec["name"]
            assert lo <= spec["seed"] <= hi
            train_backgrounds.add(climate.background)
    assert train_backgrounds == set(TRAINING_BACKGROUNDS)
    assert len(seeds) == len(set(seeds)), "two training worlds share a seed"
    held = mw.load_config(root / "heldout.yaml")
    for spec in held["worlds"]:
        climate = mw.world_climate(spec, 1.0)
        assert mw.check_heldout(held, spec["name"], spec["seed"], climate), spec["name"]
    assert {mw.world_climate(s, 1.0).background for s in held["worlds"]} - train_backgrounds
