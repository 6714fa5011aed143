"""Forecasts: CF output in physical units, irregular times, files, CLI, errors, demo.

A tiny Vid-ODE is trained for two steps on 16 x 32 natl tiles of the shared small
world (``demo_world`` fixture: 2005-08-01T00 .. 2005-08-04T21, 3-hourly, noleap)
with the project's own trainer, once per session. Its sampling (3 inputs, 2
targets, 3 h steps, gaps <= 12 h) makes it support leads up to 24 h.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import cftime
import numpy as np
import pytest
import torch
import xarray as xr

from hurricane_ode import __version__
from hurricane_ode.cli import build_parser, main
from hurricane_ode.forecasting import forecast, load_forecaster
from hurricane_ode.io import open_dataset, write_dataset
from hurricane_ode.training.checkpoint import file_digest

SHAPE = (16, 32)
MAX_LEAD_H = 24.0


def _tiny_config(store: Path, out: Path):
    from hurricane_ode.config import config_from_dict

    return config_from_dict(
        {
            "data": {
                "path": str(store),
                "basin": "natl",
                "clips_per_epoch": 4,
                "sampling": {"n_inputs": 3, "n_targets": 2, "max_gap_h": 12.0, "sampling_rate": 1.0},
            },
            "model": {
                "image_size": list(SHAPE), "hidden_channels": 8, "base_channels": 4,
                "n_downsample": 1, "odefunc_layers": 1, "adversarial": False,
            },
            "train": {
                "max_steps": 2, "batch_size": 2, "device": "cpu", "output_dir": str(out),
                "progress": False, "log_every": 1, "seed": 0,
            },
        }
    )  # fmt: skip


@pytest.fixture(scope="session")
def tiny(demo_world, tmp_path_factory):
    """Tile store (16 x 32 natl), a 2-step checkpoint trained on it, and the world's files."""
    from hurricane_ode.data.store import prepare_tiles
    from hurricane_ode.training.trainer import train

    root = tmp_path_factory.mktemp("tiny_forecaster")
    store = prepare_tiles(demo_world.files, ["natl"], SHAPE, root / "tiles.zarr", progress=False,
                          scheduler="sync")  # fmt: skip
    result = train(_tiny_config(store, root / "run"))
    return SimpleNamespace(store=store, checkpoint=result.checkpoint, files=list(demo_world.files),
                           root=root)  # fmt: skip


@pytest.fixture(scope="module")
def basic(tiny):
    """Default input selection: the last 3 frames before 2005-08-02T00, queries 3-hourly to 12:00."""
    return forecast(tiny.checkpoint, str(tiny.store), "natl", "2005-08-02T00/2005-08-02T12/3h")


def noleap(*args) -> cftime.datetime:
    return cftime.datetime(*args, calendar="noleap")


# --------------------------------------------------------------------------- content


def test_forecast_is_cf_in_physical_units(basic, tiny):
    ds = basic
    assert list(ds.data_vars) == ["U850", "V850", "PSL"]
    for v in ds.data_vars:
        assert ds[v].dims == ("time", "lat", "lon")
        assert ds[v].shape == (5, *SHAPE)
        assert np.isfinite(ds[v].values).all()
    assert ds.U850.attrs["standard_name"] == "eastward_wind" and ds.U850.attrs["units"] == "m s-1"
    assert ds.V850.attrs["standard_name"] == "northward_wind" and ds.V850.attrs["units"] == "m s-1"
    assert ds.PSL.attrs["standard_name"] == "air_pressure_at_mean_sea_level"
    assert ds.PSL.attrs["units"] == "Pa"
    # de-normalised: surface pressure ~1e5 Pa, winds tens of m/s at most
    assert 9.0e4 < float(ds.PSL.median()) < 1.1e5
    assert float(abs(ds.U850).max()) < 150.0
    assert float(ds.air_pressure) == 85000.0
    assert np.all(np.diff(ds.lat.values) > 0) and ds.lat.attrs["units"] == "degrees_north"
    assert ds.time.attrs["axis"] == "T" and ds.time.encoding["calendar"] == "noleap"
    # globals: model, checkpoint digest, version, basin, input times
    a = ds.attrs
    assert a["Conventions"] == "CF-1.8"
    assert a["model"] == "vid_ode" and a["basin"] == "natl"
    assert a["checkpoint_sha256"] == file_digest(tiny.checkpoint)
    assert a["hurricane_ode_version"] == __version__
    assert a["input_times"] == "2005-08-01T15:00:00, 2005-08-01T18:00:00, 2005-08-01T21:00:00"
    assert ds.init_time.values.item() == noleap(2005, 8, 1, 21)
    assert ds.forecast_period.values.tolist() == [3.0, 6.0, 9.0, 12.0, 15.0]


def test_irregular_queries_between_and_after_inputs(tiny):
    fc = load_forecaster(tiny.checkpoint)
    seen = {}
    forward = fc.model.forward

    def spy(x, t_in, t_q, *args, **kwargs):
        seen.update(t_in=t_in.tolist(), t_q=t_q.tolist(), n=x.shape[1])
        return forward(x, t_in, t_q, *args, **kwargs)

    fc.model.forward = spy
    ds = forecast(fc, str(tiny.store), "natl", ["2005-08-02T07:30", "2005-08-01T22:30", "2005-08-02T09"],
                  input_times="2005-08-01T12,2005-08-01T21,2005-08-02T06")  # fmt: skip
    # the model sees exact hours since the first input, nothing rounded to 3 h
    assert seen == {"t_in": [[0.0, 9.0, 18.0]], "t_q": [[10.5, 19.5, 21.0]], "n": 3}
    assert list(ds.time.values) == [noleap(2005, 8, 1, 22, 30), noleap(2005, 8, 2, 7, 30), noleap(2005, 8, 2, 9)]
    assert ds.forecast_period.values.tolist() == [-7.5, 1.5, 3.0]
    assert ds.lead_time.values.astype("timedelta64[m]").astype(int).tolist() == [-450, 90, 180]
    assert np.isfinite(ds.PSL.values).all()
    # distinct query times give distinct fields
    assert not np.allclose(ds.PSL.values[1], ds.PSL.values[2])


def test_cam5_files_dataset_and_store_inputs_agree(tiny, basic):
    from hurricane_ode.data.cam5 import open_cam5

    times = "2005-08-02T00/2005-08-02T12/3h"
    from_files = forecast(tiny.checkpoint, tiny.files, "natl", times)
    from_ds = forecast(tiny.checkpoint, open_cam5(tiny.files), "natl", times)
    for other in (from_files, from_ds):
        assert other.attrs["input_times"] == basic.attrs["input_times"]
        np.testing.assert_allclose(other.PSL.values, basic.PSL.values, rtol=1e-5)
        np.testing.assert_allclose(other.U850.values, basic.U850.values, atol=1e-3)
        np.testing.assert_allclose(other.lon.values, basic.lon.values)


@pytest.mark.parametrize("ext", ["nc", "zarr"])
def test_round_trip_keeps_cf_noleap_and_provenance(basic, tmp_path, ext):
    path = write_dataset(basic, tmp_path / f"fc.{ext}")
    back = open_dataset(path)
    np.testing.assert_array_equal(back.PSL.values, basic.PSL.values)
    assert isinstance(back.time.values[0], cftime.DatetimeNoLeap)
    assert list(back.time.values) == list(basic.time.values)
    assert back.forecast_period.values.tolist() == basic.forecast_period.values.tolist()
    assert back.lead_time.dtype == "timedelta64[ns]"
    assert back.init_time.values.item() == noleap(2005, 8, 1, 21)
    for key in ("model", "checkpoint_sha256", "hurricane_ode_version", "basin", "input_times"):
        assert back.attrs[key] == basic.attrs[key]
    assert back.PSL.attrs["standard_name"] == "air_pressure_at_mean_sea_level"
    if ext == "zarr":
        assert (path / ".zmetadata").exists()  # consolidated
        assert back.PSL.encoding["chunks"] == (5, *SHAPE)  # small along time, whole in space


def test_zarr_time_chunks_are_small(tmp_path):
    from hurricane_ode import io as hio

    long = xr.Dataset({"PSL": (("time", "lat", "lon"), np.zeros((20, *SHAPE), np.float32))},
                      coords={"time": np.arange(20.0)})  # fmt: skip
    hio.write_dataset(long, tmp_path / "l.zarr")
    z = xr.open_zarr(tmp_path / "l.zarr")
    assert z.PSL.encoding["chunks"] == (hio.ZARR_TIME_CHUNK, *SHAPE)


# --------------------------------------------------------------------------- errors


def test_unknown_basin(tiny):
    with pytest.raises(ValueError, match="unknown basin 'atlantis'.*natl"):
        forecast(tiny.checkpoint, str(tiny.store), "atlantis", "2005-08-02T00")


def test_too_few_input_frames(tiny):
    with pytest.raises(ValueError, match="too few input frames: 1 before the first query"):
        forecast(tiny.checkpoint, str(tiny.store), "natl", "2005-08-01T03")
    with pytest.raises(ValueError, match="too few input frames: 1 given"):
        forecast(tiny.checkpoint, str(tiny.store), "natl", "2005-08-02T03", input_times="2005-08-02T00")


def test_times_before_the_first_input(tiny):
    with pytest.raises(ValueError, match="before the first input frame 2005-08-01 00:00:00"):
        forecast(tiny.checkpoint, str(tiny.store), "natl", "2005-07-31T21,2005-08-02T00")
    with pytest.raises(ValueError, match="before the first input frame used"):
        forecast(tiny.checkpoint, str(tiny.store), "natl", "2005-08-01T06",
                 input_times="2005-08-01T09,2005-08-01T12")  # fmt: skip


def test_times_beyond_supported_lead(tiny):
    fc = load_forecaster(tiny.checkpoint)
    assert fc.max_lead_h == MAX_LEAD_H
    # 21:00 is the last input; 24 h later is fine, 27 h is not
    with pytest.raises(ValueError, match=r"27 h after the last input.*leads up to 24 h"):
        forecast(fc, str(tiny.store), "natl", "2005-08-02T00,2005-08-03T00")


def test_input_times_must_exist(tiny):
    with pytest.raises(ValueError, match=r"input time\(s\) \['2005-08-01 01:00:00'\] are not frames"):
        forecast(tiny.checkpoint, str(tiny.store), "natl", "2005-08-02T00",
                 input_times="2005-08-01T01,2005-08-01T03")  # fmt: skip


def test_checkpoint_channels_must_be_in_inputs(tiny):
    from hurricane_ode.data.store import open_tiles

    ds = open_tiles(tiny.store, "natl").drop_vars("V850")
    with pytest.raises(ValueError, match=r"lack variable\(s\) \['V850'\]"):
        forecast(tiny.checkpoint, ds, "natl", "2005-08-02T00")


def test_checkpoint_grid_must_match_tiles(tiny, demo_world, tmp_path):
    from hurricane_ode.data.store import open_tiles, prepare_tiles

    other = prepare_tiles(demo_world.files, ["natl"], (8, 16), tmp_path / "small.zarr",
                          progress=False, scheduler="sync")  # fmt: skip
    with pytest.raises(ValueError, match=r"8x16 \(lat x lon\) tile.*trained on 16x32"):
        forecast(tiny.checkpoint, str(other), "natl", "2005-08-02T00")
    with pytest.raises(ValueError, match="no basin group 'wpac'; groups present: \\['natl'\\]"):
        forecast(tiny.checkpoint, str(tiny.store), "wpac", "2005-08-02T00")
    natl = open_tiles(tiny.store, "natl")
    with pytest.raises(ValueError, match="tile of basin 'natl', but basin 'wpac'"):
        forecast(tiny.checkpoint, natl, "wpac", "2005-08-02T00")


def _edited_checkpoint(tiny, tmp_path, edit) -> Path:
    state = torch.load(tiny.checkpoint, weights_only=True)
    edit(state)
    path = tmp_path / "edited.pt"
    torch.save(state, path)
    return path


def test_checkpoint_from_incompatible_version(tiny, tmp_path):
    path = _edited_checkpoint(tiny, tmp_path, lambda s: s.update(format_version=99))
    with pytest.raises(ValueError, match="checkpoint format version 99 is not supported"):
        load_forecaster(path)

    def newer(s):
        s["package_version"] = "9.0.0"
        s["config"]["model"]["a_future_option"] = True

    path = _edited_checkpoint(tiny, tmp_path, newer)
    with pytest.raises(ValueError, match=f"written by hurricane_ode 9.0.0 and does not fit .* {__version__}"):
        load_forecaster(path)


def test_inconsistent_checkpoints(tiny, tmp_path):
    path = _edited_checkpoint(tiny, tmp_path, lambda s: s["config"]["model"].update(in_channels=4))
    with pytest.raises(ValueError, match="inconsistent"):
        load_forecaster(path)
    path = _edited_checkpoint(tiny, tmp_path, lambda s: s.update(stats=None))
    with pytest.raises(ValueError, match="no normalisation statistics"):
        load_forecaster(path)
    with pytest.raises(FileNotFoundError, match="checkpoint not found"):
        load_forecaster(tmp_path / "nope.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="junk.pt is not a readable hurricane_ode checkpoint"):
        load_forecaster(tmp_path / "junk.pt")


def test_missing_demo_model_is_explained(tmp_path, monkeypatch):
    import hurricane_ode.forecasting as fmod

    monkeypatch.setattr(fmod, "demo_checkpoint_path", lambda: tmp_path / "demo_model.pt")
    with pytest.raises(FileNotFoundError, match="demo model .* is missing.*--checkpoint"):
        load_forecaster(None)


# --------------------------------------------------------------------------- CLI


def test_cli_help_documents_every_option():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("forecast", "demo"):
        p = sub.choices[name]
        for action in p._actions:
            assert action.help, f"{name} {action.option_strings} has no help"
    opts = {o for a in sub.choices["forecast"]._actions for o in a.option_strings}
    assert {"--basin", "--times", "--input", "--input-times", "--checkpoint", "--output", "--overwrite"} <= opts


def test_cli_writes_netcdf_and_zarr(tiny, tmp_path, capsys):
    nc = tmp_path / "out.nc"
    rc = main(["forecast", "--basin", "natl", "--times", "2005-08-02T00/2005-08-02T06/3h",
               "--input", *map(str, tiny.files), "--checkpoint", str(tiny.checkpoint),
               "--output", str(nc)])  # fmt: skip
    assert rc == 0
    out = capsys.readouterr().out
    assert f"wrote {nc}" in out and "lead 3 .. 9 h" in out
    ds = open_dataset(nc)
    assert ds.sizes["time"] == 3 and ds.attrs["basin"] == "natl"
    assert ds.time.encoding["calendar"] == "noleap"

    zp = tmp_path / "out.zarr"
    rc = main(["forecast", "--basin", "natl", "--times", "2005-08-02T04:30,2005-08-02T09",
               "--input", str(tiny.store), "--input-times", "2005-08-01T21/2005-08-02T03/3h",
               "--checkpoint", str(tiny.checkpoint), "--output", str(zp)])  # fmt: skip
    assert rc == 0
    z = open_dataset(zp)
    assert z.forecast_period.values.tolist() == [1.5, 6.0]
    assert z.attrs["input_times"] == "2005-08-01T21:00:00, 2005-08-02T00:00:00, 2005-08-02T03:00:00"
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_cli_never_overwrites_without_flag(tiny, tmp_path, capsys):
    out = tmp_path / "out.nc"
    out.write_text("precious")
    args = ["forecast", "--basin", "natl", "--times", "2005-08-02T00", "--input", str(tiny.store),
            "--checkpoint", str(tiny.checkpoint), "--output", str(out)]  # fmt: skip
    assert main(args) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_text() == "precious"
    # issue 12: --overwrite replaces only what hurricane_ode wrote, never a user's file
    assert main([*args, "--overwrite"]) == 2
    assert "not written by hurricane_ode" in capsys.readouterr().err
    assert out.read_text() == "precious"
    out.unlink()
    assert main(args) == 0
    assert main([*args, "--overwrite"]) == 0
    assert open_dataset(out).sizes["time"] == 1


def test_cli_errors_are_one_clear_line(tiny, tmp_path, capsys):
    base = ["forecast", "--input", str(tiny.store), "--checkpoint", str(tiny.checkpoint)]
    cases = [
        (["--basin", "atlantis", "--times", "2005-08-02T00", "--output", str(tmp_path / "a.nc")],
         "unknown basin 'atlantis'"),
        (["--basin", "natl", "--times", "2005-08-02T00", "--output", str(tmp_path / "no" / "a.nc")],
         "does not exist"),
        (["--basin", "natl", "--times", "2005-08-02T00", "--output", str(tmp_path / "a.csv")],
         "unknown format '.csv'"),
        (["--basin", "natl", "--times", "2005-02-29T00", "--output", str(tmp_path / "a.nc")],
         "does not exist in the 'noleap' calendar"),
        (["--basin", "natl", "--times", "2005-08-06T00", "--output", str(tmp_path / "a.nc")],
         "supports leads up to 24 h"),
    ]  # fmt: skip
    for extra, message in cases:
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_output_directory(tiny, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["forecast", "--basin", "natl", "--times", "2005-08-02T00", "--input",
                     str(tiny.store), "--checkpoint", str(tiny.checkpoint),
                     "--output", str(locked / "a.nc")]) == 2  # fmt: skip
        assert "not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_cli_default_input_is_the_cached_demo_world(tiny, tmp_path, monkeypatch, capsys):
    import hurricane_ode.demo as demo

    cache = tmp_path / "cache"
    monkeypatch.setenv("HURRICANE_ODE_CACHE", str(cache))
    monkeypatch.setattr(demo._dw, "DEMO", demo.DemoSettings(days=2, resolution=2.0, shape=SHAPE))
    args = ["forecast", "--basin", "natl", "--times", "2005-08-02T06", "--checkpoint",
            str(tiny.checkpoint), "--quiet", "--output"]  # fmt: skip
    assert main([*args, str(tmp_path / "a.nc")]) == 0
    worlds = list(cache.glob("demo_world_*"))
    assert len(worlds) == 1 and (worlds[0] / "hurricane_ode_demo.json").exists()
    stamp = {p: p.stat().st_mtime_ns for p in worlds[0].glob("*.nc")}
    assert main([*args, str(tmp_path / "b.nc")]) == 0  # second run reuses the cache
    assert {p: p.stat().st_mtime_ns for p in worlds[0].glob("*.nc")} == stamp
    a, b = open_dataset(tmp_path / "a.nc"), open_dataset(tmp_path / "b.nc")
    np.testing.assert_array_equal(a.PSL.values, b.PSL.values)


# --------------------------------------------------------------------------- demo


def test_run_demo_writes_forecast_and_map(tiny, tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    pytest.importorskip("cartopy")
    import functools

    import hurricane_ode.demo as demo
    from hurricane_ode.plotting import maps

    # Coastlines are the plotting module's business (and tested there); building them in a
    # fresh cache costs ~15 s, so this end-to-end test draws the maps without them.
    monkeypatch.setattr(maps, "plot_forecast_maps", functools.partial(maps.plot_forecast_maps, coastlines=False))

    monkeypatch.setenv("HURRICANE_ODE_CACHE", str(tmp_path / "cache"))
    small = demo.DemoSettings(days=3, resolution=2.0, shape=SHAPE, origin="2005-08-02T00",
                              input_offsets_h=(0.0, 9.0, 15.0), n_outputs=3)  # fmt: skip
    monkeypatch.setattr(demo._dw, "DEMO", small)
    rc = main(["demo", "--output", str(tmp_path / "out"), "--checkpoint", str(tiny.checkpoint), "--quiet"])
    assert rc == 0
    printed = capsys.readouterr().out
    nc, png = tmp_path / "out" / "forecast_natl.nc", tmp_path / "out" / "forecast_natl.png"
    assert f"forecast: {nc}" in printed and f"map:      {png}" in printed
    ds = open_dataset(nc)
    assert ds.forecast_period.values.tolist() == [3.0, 6.0, 9.0]
    assert ds.attrs["input_times"] == "2005-08-02T00:00:00, 2005-08-02T09:00:00, 2005-08-02T15:00:00"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    shutil.rmtree(tmp_path / "out")


def test_package_level_forecast_is_the_function_even_after_module_import(basic, tiny):
    import hurricane_ode
    import hurricane_ode.forecasting  # noqa: F401  (must not shadow the function)

    ds = hurricane_ode.forecast(tiny.checkpoint, str(tiny.store), "natl", "2005-08-02T00/2005-08-02T12/3h")
    np.testing.assert_array_equal(ds.PSL.values, basic.PSL.values)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "it is empty"),
        (b"step,loss\n1,0.5\n", "it is a text file"),
        (bytes(range(7, 200)) * 3, "not a torch checkpoint"),
        ("state_dict", "a bare state_dict"),
        ("list", "it holds a list"),
    ],
)
def test_unreadable_checkpoints_are_one_clear_line(tmp_path, capsys, content, reason):
    from hurricane_ode.errors import CheckpointError

    path = tmp_path / "bad.pt"
    if content == "state_dict":
        torch.save({"weight": torch.zeros(2)}, path)
    elif content == "list":
        torch.save([1, 2, 3], path)
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError, match=reason) as info:
        load_forecaster(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    rc = main(["forecast", "--basin", "natl", "--times", "2005-08-02T06", "--checkpoint", str(path),
               "--input", "unused.nc", "--output", str(tmp_path / "o.nc")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and str(path) in err and reason in err


def test_inference_never_imports_training():
    import subprocess
    import sys

    code = ("import sys, hurricane_ode.forecasting, hurricane_ode.verification; "
            "bad = [m for m in sys.modules if m.startswith('hurricane_ode.training')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_forecast_init_and_lead(tiny):
    ds = forecast(tiny.checkpoint, str(tiny.store), "natl", init_time="2005-08-02T00", lead_times="3h/9h/3h")
    assert ds.forecast_period.values.tolist() == [3.0, 6.0, 9.0]
    assert ds.attrs["input_times"].endswith("2005-08-02T00:00:00")  # the init time is the last input
    with pytest.raises(ValueError, match="either times or lead_times"):
        forecast(tiny.checkpoint, str(tiny.store), "natl", "2005-08-02T03", lead_times="3h")


def test_cli_forecast_init_and_lead(tiny, tmp_path, capsys):
    out = tmp_path / "il.nc"
    rc = main(["forecast", "--basin", "natl", "--init", "2005-08-02T00", "--lead", "0/6h/3h", "--input",
               str(tiny.store), "--checkpoint", str(tiny.checkpoint), "--output", str(out)])
    assert rc == 0
    assert open_dataset(out).forecast_period.values.tolist() == [0.0, 3.0, 6.0]
    rc = main(["forecast", "--basin", "natl", "--init", "2005-08-02T00", "--input", str(tiny.store),
               "--checkpoint", str(tiny.checkpoint), "--output", str(tmp_path / "x.nc")])
    assert rc == 2 and "--init and --lead go together" in capsys.readouterr().err


def test_fully_convolutional_checkpoint_forecasts_whole_basins_on_its_grid(tiny, tmp_path):
    """model.grid_spacing_deg: the basin at that spacing (2 deg: 30 x 80), not image_size;
    inputs on another grid (4 deg here) are regridded, and the file says so."""

    def edit(state):
        state["config"]["model"]["grid_spacing_deg"] = 2.0

    ckpt = _edited_checkpoint(tiny, tmp_path, edit)
    native = forecast(ckpt, tiny.files, "natl", "2005-08-02T00/2005-08-02T06/3h")
    assert native.PSL.shape == (3, 30, 80)  # the 2-degree world: no regridding
    assert "regridding" not in native.attrs and native.attrs["input_grid"].startswith("2 x 2")

    def coarse(state):
        state["config"]["model"]["grid_spacing_deg"] = 4.0

    regridded = forecast(_edited_checkpoint(tiny, tmp_path, coarse), tiny.files, "natl",
                         "2005-08-02T00/2005-08-02T06/3h")
    assert regridded.PSL.shape == (3, 15, 40)
    assert "from 2 x 2 to 4 x 4 degrees" in regridded.attrs["regridding"]
