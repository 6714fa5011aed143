"""The Zarr tile store: round trip, statistics, resume, scheduler, errors, CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import cftime
import numpy as np
import pytest
import xarray as xr

from hurricane_ode.data import store as store_mod
from hurricane_ode.data.basins import tile_basin
from hurricane_ode.data.store import open_tiles, prepare_tiles, read_norm_stats

VARS = ("U850", "V850", "PSL")


def make_world(n_times: int = 20, res: float = 4.0, seed: int = 1) -> xr.Dataset:
    """CAM5-schema dataset with irregular noleap times that step over 28 Feb."""
    rng = np.random.default_rng(seed)
    t0 = cftime.DatetimeNoLeap(2005, 2, 27, 0)
    hours = np.cumsum(rng.choice([3, 3, 6, 1.5], size=n_times)) - 3
    times = [t0 + dt.timedelta(hours=float(h)) for h in hours]
    lat = np.arange(-90 + res / 2, 90, res)
    lon = np.arange(res / 2, 360, res)
    shp = (n_times, lat.size, lon.size)
    data = {
        "U850": rng.normal(2, 5, shp), "V850": rng.normal(-1, 4, shp),
        "PSL": 101325 + rng.normal(0, 800, shp),
    }  # fmt: skip
    units = {"U850": "m s-1", "V850": "m s-1", "PSL": "Pa"}
    return xr.Dataset(
        {k: (("time", "lat", "lon"), v.astype("f4"), {"units": units[k]}) for k, v in data.items()},
        coords={
            "time": times,
            "lat": ("lat", lat, {"units": "degrees_north"}),
            "lon": ("lon", lon, {"units": "degrees_east"}),
        },
        attrs={"case": "hand-made"},
    ).chunk({"time": 8})


@pytest.fixture(scope="module")
def world() -> xr.Dataset:
    return make_world()


def test_round_trip_consolidated_times_calendar_and_values(world, tmp_path: Path) -> None:
    out = prepare_tiles(
        world, ["natl", "bbox:-20,20,170,190"], None, tmp_path / "t.zarr", progress=False
    )
    assert out == tmp_path / "t.zarr" and not (tmp_path / "t.zarr.tmp").exists()
    assert (out / ".zmetadata").exists() and (out / "natl" / ".zmetadata").exists()
    ds = xr.open_zarr(out, group="natl", consolidated=True)
    ref = tile_basin(world, "natl")
    assert list(ds.time.values) == list(world.time.values)  # irregular, over 28 Feb, exact
    assert ds.time.encoding["calendar"] == "noleap"
    np.testing.assert_array_equal(ds.lon.values, ref.lon.values)
    for v in VARS:
        assert ds[v].dtype == np.float32 and ds[v].dims == ("time", "lat", "lon")
        assert ds[v].encoding["chunks"] == (8, ref.sizes["lat"], ref.sizes["lon"])
        np.testing.assert_array_equal(ds[v].values, ref[v].values)
    assert ds.attrs["basin"] == "natl" and ds.attrs["hurricane_ode_complete"] is True
    zattrs = json.loads((out / "natl" / "lat" / ".zattrs").read_text())
    assert "_FillValue" not in zattrs
    box = open_tiles(out, "bbox_m20_20_170_190")
    np.testing.assert_array_equal(box.lon.values, np.arange(170.0, 190, 4.0))


def test_normalisation_stats_match_numpy(world, tmp_path: Path) -> None:
    out = prepare_tiles(world, "sio", (9, 16), tmp_path / "t.zarr", progress=False, time_chunk=3)
    ds = open_tiles(out, "sio")
    assert ds["PSL"].shape == (20, 9, 16)
    stats = read_norm_stats(out)  # one group: basin may be omitted
    ref = tile_basin(world, "sio", (9, 16))
    for v in VARS:
        x = ref[v].values.astype(np.float64)
        mean, std = stats[v]
        np.testing.assert_allclose(mean, x.mean(), rtol=1e-10, atol=1e-9)
        np.testing.assert_allclose(std, x.std(), rtol=1e-8)
        assert ds[v].attrs["norm_mean"] == mean and ds[v].attrs["norm_std"] == std
        assert ds.attrs["normalization"][v] == {"mean": mean, "std": std}
    assert read_norm_stats(ds) == stats


class _Interrupt(RuntimeError):
    pass


def test_rerun_skips_and_interrupted_run_resumes(world, tmp_path: Path, monkeypatch) -> None:
    output = tmp_path / "t.zarr"
    real = store_mod._write_chunk
    calls: list[int] = []

    def failing(*args, **kwargs):
        calls.append(args[3])
        if len(calls) > 4:
            raise _Interrupt("simulated crash")
        return real(*args, **kwargs)

    monkeypatch.setattr(store_mod, "_write_chunk", failing)
    with pytest.raises(_Interrupt):
        prepare_tiles(
            world, ["natl"], (6, 16), output, progress=False, time_chunk=2, scheduler="sync"
        )
    assert not output.exists(), "nothing may appear under the final name"
    assert (tmp_path / "t.zarr.tmp").exists()
    with pytest.raises(FileNotFoundError, match=r"unfinished run left .*t\.zarr\.tmp"):
        open_tiles(output, "natl")
    written_before = {int(p.stem) for p in (tmp_path / "t.zarr.tmp/progress/natl").glob("*.json")}
    assert written_before == {0, 2, 4, 6}

    calls.clear()
    monkeypatch.setattr(
        store_mod, "_write_chunk", lambda *a, **k: (calls.append(a[3]), real(*a, **k))[1]
    )
    prepare_tiles(world, ["natl"], (6, 16), output, progress=False, time_chunk=2)
    assert sorted(calls) == [8, 10, 12, 14, 16, 18], "only the missing chunks are written"
    resumed = open_tiles(output, "natl")
    fresh = tile_basin(world, "natl", (6, 16))
    np.testing.assert_array_equal(resumed["PSL"].values, fresh["PSL"].values)
    np.testing.assert_allclose(
        read_norm_stats(resumed)["U850"][1], fresh["U850"].values.astype("f8").std(), rtol=1e-8
    )

    calls.clear()  # complete store: a re-run writes nothing
    prepare_tiles(world, ["natl"], (6, 16), output, progress=False, time_chunk=2)
    assert calls == []

    # extend the finished store with another basin: natl untouched, wpac added
    prepare_tiles(world, ["natl", "wpac"], (6, 16), output, progress=False, time_chunk=2)
    assert sorted(calls) == list(range(0, 20, 2))
    assert store_mod.list_basins_in_store(output) == ["natl", "wpac"]
    assert open_tiles(output, "wpac").attrs["basin"] == "wpac"
    xr.open_zarr(output, group="wpac", consolidated=True)  # consolidated metadata refreshed

    with pytest.raises(ValueError, match="another shape.*--overwrite"):
        prepare_tiles(world, ["natl"], (12, 32), output, progress=False)
    prepare_tiles(world, ["natl"], (12, 32), output, progress=False, overwrite=True)
    assert open_tiles(output, "natl")["PSL"].shape == (20, 12, 32)
    assert store_mod.list_basins_in_store(output) == ["natl"]


def test_distributed_scheduler_client_and_address(world, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        a = prepare_tiles(
            world, "epac", (6, 16), tmp_path / "a.zarr", scheduler=client, progress=False
        )
        b = prepare_tiles(
            world,
            "epac",
            (6, 16),
            tmp_path / "b.zarr",
            scheduler=cluster.scheduler_address,
            progress=False,
        )
    ref = tile_basin(world, "epac", (6, 16))
    for path in (a, b):
        np.testing.assert_array_equal(open_tiles(path, "epac")["V850"].values, ref["V850"].values)


def test_clear_errors(world, tmp_path: Path) -> None:
    out = prepare_tiles(world, "natl", (6, 16), tmp_path / "t.zarr", progress=False)
    with pytest.raises(
        ValueError, match=r"t\.zarr has no basin group 'spac'; groups present: \['natl'\]"
    ):
        open_tiles(out, "spac")
    with pytest.raises(FileNotFoundError, match="tile store not found"):
        open_tiles(tmp_path / "missing.zarr", "natl")
    with pytest.raises(ValueError, match="unknown basin 'gulf'"):
        prepare_tiles(world, "gulf", None, tmp_path / "u.zarr", progress=False)
    with pytest.raises(ValueError, match=r"missing variable\(s\) \['PSL'\]"):
        prepare_tiles(world.drop_vars("PSL"), "natl", None, tmp_path / "u.zarr", progress=False)
    with pytest.raises(FileNotFoundError, match="no input files match"):
        prepare_tiles(str(tmp_path / "nothing" / "*.nc"), "natl", None, tmp_path / "u.zarr")
    with pytest.raises(ValueError, match="shape"):
        prepare_tiles(world, "natl", (0, 3), tmp_path / "u.zarr")


def test_cli_prepare_on_synthetic_world(demo_world, tmp_path: Path, capsys) -> None:
    from hurricane_ode.cli import main
    from hurricane_ode.data.cam5 import open_cam5

    out = tmp_path / "demo.zarr"
    rc = main(
        [
            "prepare",
            "--input",
            str(demo_world.directory / "*.nc"),
            "--basin",
            "natl",
            "--basin",
            "nio",
            "--shape",
            "15",
            "40",
            "--output",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    assert "natl: 32 times x 15 x 40" in capsys.readouterr().out
    src = open_cam5(demo_world.files)
    tiles = open_tiles(out, "nio")
    assert list(tiles.time.values) == list(src.time.values)
    assert tiles.time.encoding["calendar"] == src.time.encoding["calendar"] == "noleap"
    np.testing.assert_allclose(tiles["PSL"].values, tile_basin(src, "nio", (15, 40))["PSL"].values)
    assert (
        main(
            [
                "prepare",
                "--input",
                str(demo_world.directory),
                "--basin",
                "atlantis",
                "--output",
                str(tmp_path / "x.zarr"),
                "--quiet",
            ]
        )
        == 2
    )
    assert "unknown basin 'atlantis'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- streaming tiler
def test_files_native_resolution_all_basins_one_pass_equal_tile_basin(demo_world, tmp_path) -> None:
    from hurricane_ode.data.cam5 import open_cam5

    basins = ["natl", "nio", "wpac", "epac", "sio", "spac"]
    out = prepare_tiles(demo_world.files, basins, None, tmp_path / "n.zarr", progress=False,
                        time_chunk=5)  # fmt: skip  # chunks straddle the two files
    src = open_cam5(demo_world.files)
    for b in basins:
        tiles, ref = open_tiles(out, b), tile_basin(src, b)
        assert (tiles.sizes["lat"], tiles.sizes["lon"]) == (30, 80)  # 60 x 160 deg at 2 deg
        np.testing.assert_array_equal(tiles.lon.values, ref.lon.values)
        for v in VARS:
            np.testing.assert_array_equal(tiles[v].values, ref[v].values)
    coarse = prepare_tiles(demo_world.files, ["natl"], None, tmp_path / "r.zarr", progress=False,
                           resolution=4.0)  # fmt: skip
    ref = tile_basin(src, "natl", resolution=4.0)
    assert open_tiles(coarse, "natl")["PSL"].shape == (src.sizes["time"], 15, 40)
    np.testing.assert_array_equal(open_tiles(coarse, "natl")["PSL"].values, ref["PSL"].values)


def _holey_world(tmp_path: Path) -> Path:
    """A 1-degree CAM5 file: a 5x5 NaN patch in PSL and 1e36 fill in U850 inside natl."""
    ds = make_world(n_times=6, res=1.0).load()
    lat, lon = ds.lat.values, ds.lon.values
    i, j = int(np.searchsorted(lat, 25.0)), int(np.searchsorted(lon, 300.0))
    psl, u = ds["PSL"].values.copy(), ds["U850"].values.copy()
    psl[2:4, i : i + 5, j : j + 5] = np.nan
    u[2:4, i : i + 5, j : j + 5] = 1e36
    ds["PSL"].values, ds["U850"].values = psl, u
    ds["time"].encoding = {"units": "hours since 2005-02-27", "calendar": "noleap"}
    path = tmp_path / "holey.nc"
    enc = {v: {"_FillValue": None} for v in ("time", "lat", "lon")}
    ds.to_netcdf(path, engine="netcdf4", encoding=enc)
    return path


def test_missing_patch_stays_a_patch_and_is_reported(tmp_path: Path, capsys) -> None:
    from hurricane_ode.cli import main

    path = _holey_world(tmp_path)
    out = tmp_path / "h.zarr"
    rc = main(["prepare", "--input", str(path), "--basin", "natl", "--shape", "32", "32",
               "--output", str(out), "--quiet"])  # fmt: skip
    assert rc == 0
    printed = capsys.readouterr().out
    tiles = open_tiles(out, "natl")
    for v in ("PSL", "U850"):
        nan_per_frame = np.isnan(tiles[v].values).reshape(6, -1).sum(axis=1)
        assert nan_per_frame[[0, 1, 4, 5]].tolist() == [0, 0, 0, 0]
        assert 0 < nan_per_frame[2] <= 4, "a 5x5 patch of 1-degree cells never blanks a frame"
    assert np.nanmax(np.abs(tiles["U850"].values)) < 1e3, "fill values never enter the means"
    assert tiles.attrs["missing_cells"] == int(np.isnan(tiles.to_array().values).sum())
    assert tiles.attrs["missing_time_count"] == 2
    assert f"natl: {tiles.attrs['missing_cells']} missing cells (all variables) at 2 time(s)" in printed
    strict = prepare_tiles(path, "natl", (32, 32), tmp_path / "s.zarr", progress=False,
                           min_valid_fraction=1.0)  # fmt: skip
    loose = np.isnan(tiles["PSL"].values)
    assert (np.isnan(open_tiles(strict, "natl")["PSL"].values) >= loose).all()


def test_local_cluster_scheduler_option(demo_world, tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    a = prepare_tiles(demo_world.files, "natl", (6, 16), tmp_path / "a.zarr", progress=False,
                      scheduler="local:1")  # fmt: skip
    b = prepare_tiles(demo_world.files, "natl", (6, 16), tmp_path / "b.zarr", progress=False,
                      scheduler="sync")  # fmt: skip
    np.testing.assert_array_equal(open_tiles(a, "natl")["PSL"].values, open_tiles(b, "natl")["PSL"].values)
