import os
from pathlib import Path

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
    return forecast_dataset(
        fields,
        np.array([10.0, 11, 12]),
        np.arange(260.0, 265),
        times,
        init,
        "noleap",
        {"basin": "natl"},
    )


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


# --------------------------------------------------------------------------- issue 12: outputs


def test_outputs_are_stamped_and_overwrite_replaces_only_ours(tmp_path, forecast_ds):
    import hurricane_ode
    from hurricane_ode.errors import OutputExistsError

    ours = hio.write_dataset(forecast_ds, tmp_path / "ours.nc")
    assert hio.open_dataset(ours).attrs[hio.OWNER_ATTR] == hurricane_ode.__version__
    assert forecast_ds.attrs.get(hio.OWNER_ATTR) is None  # the caller's dataset is not modified
    hio.write_dataset(forecast_ds.isel(time=[0]), ours, overwrite=True)
    assert hio.open_dataset(ours).sizes["time"] == 1

    foreign = tmp_path / "foreign.nc"
    forecast_ds.drop_attrs().to_netcdf(foreign)  # a NetCDF file someone else wrote
    folder = tmp_path / "folder.zarr"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "data.txt").write_text("precious")
    for path, why in ((foreign, "a NetCDF file without the 'hurricane_ode_version' attribute"),
                      (folder, "a directory that is not a Zarr store")):  # fmt: skip
        before = sorted((p.name, p.stat().st_mtime_ns) for p in path.parent.rglob("*"))
        with pytest.raises(OutputExistsError, match=f"not written by hurricane_ode \\({why}\\)"):
            hio.write_dataset(forecast_ds, path, overwrite=True)
        assert sorted((p.name, p.stat().st_mtime_ns) for p in path.parent.rglob("*")) == before


def test_zarr_overwrite_swaps_and_leaves_no_siblings(tmp_path, forecast_ds):
    path = hio.write_dataset(forecast_ds, tmp_path / "f.zarr")
    hio.write_dataset(
        forecast_ds.isel(time=[0, 1]), path, overwrite=True
    )  # directory over directory
    assert hio.open_dataset(path).sizes["time"] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["f.zarr"]


def test_replace_path_keeps_the_old_output_when_the_swap_fails(tmp_path, monkeypatch):
    old, new = tmp_path / "out.zarr", tmp_path / ".out.zarr.tmp-0123abcd"
    old.mkdir()
    (old / "a").write_text("old")
    new.mkdir()
    real_rename = os.rename

    def rename(src, dst):
        if Path(src) == new:
            raise OSError(28, "No space left on device", str(dst))
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="No space left"):
        hio.replace_path(new, old)
    assert (old / "a").read_text() == "old" and new.is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".out.zarr.tmp-0123abcd", "out.zarr"]


def test_clean_stale_removes_temporaries_and_restores_an_interrupted_replace(tmp_path):
    out = tmp_path / "out.nc"
    (tmp_path / ".out.nc.tmp-deadbeef").write_bytes(b"x" * 1000)
    (tmp_path / ".out.nc.tmp-0123abcd").mkdir()
    (tmp_path / ".out.nc.old-00ff00ff").write_text("previous output")
    (tmp_path / ".out.nc.tmp-user").write_text("not ours: the suffix is not 8 hex digits")
    (tmp_path / ".other.nc.tmp-deadbeef").write_text("another output's temporary")
    removed = hio.clean_stale(out)
    assert sorted(p.name for p in removed) == [".out.nc.tmp-0123abcd", ".out.nc.tmp-deadbeef"]
    assert out.read_text() == "previous output"  # the kill fell between the two renames
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".other.nc.tmp-deadbeef",
        ".out.nc.tmp-user",
        "out.nc",
    ]
    (tmp_path / ".out.nc.old-00ff00ff").write_text("replaced output")
    assert [p.name for p in hio.clean_stale(out)] == [".out.nc.old-00ff00ff"]
    assert out.read_text() == "previous output"


_HOLD = "import sys\nfrom hurricane_ode.io import output_lock\nwith output_lock(sys.argv[1]):\n    print('held', flush=True)\n    sys.stdin.read()\n"


def test_output_lock_refuses_a_second_process_and_is_reentrant(tmp_path, forecast_ds):
    import subprocess
    import sys

    from hurricane_ode.errors import OutputLockedError

    out = tmp_path / "out.nc"
    with hio.output_lock(out), hio.output_lock(out):  # re-entrant within a process
        assert (tmp_path / ".out.nc.lock").read_text().strip() == str(os.getpid())
        hio.write_dataset(forecast_ds, out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.nc"]  # lock file removed

    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(hio.__file__).parents[1]), os.environ.get("PYTHONPATH", "")]
        ),
    }
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(out)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env)  # fmt: skip
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(
            OutputLockedError, match=f"output {out} is being written by process {proc.pid} "
        ):
            hio.write_dataset(forecast_ds, out, overwrite=True)
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    hio.write_dataset(forecast_ds, out, overwrite=True)  # free again


def test_paths_under_a_regular_file_or_in_proc_are_named(tmp_path, forecast_ds):
    from hurricane_ode.errors import OutputError

    (tmp_path / "afile").write_text("x")
    with pytest.raises(
        NotADirectoryError,
        match=r"not a directory: .*afile/d/out\.nc is under a regular file \(.*afile\)",
    ):
        hio.write_dataset(forecast_ds, tmp_path / "afile" / "d" / "out.nc")
    if Path("/proc").is_dir():
        with pytest.raises(
            OutputError,
            match=r"/proc/f\.nc: directory /proc (does not accept new files|is not writable)",
        ):
            hio.write_dataset(forecast_ds, "/proc/f.nc")


def test_writers_registry_and_entry_points(tmp_path, forecast_ds, monkeypatch):
    import importlib.metadata

    from hurricane_ode.errors import RegistryError

    assert {"netcdf", "zarr"} <= set(hio.WRITER_REGISTRY.names())
    with pytest.raises(RegistryError, match="suffix '.nc' is already taken"):
        hio.register_writer(".nc", name="other_netcdf")(lambda ds, tmp: None)

    def write_json(ds, tmp):
        tmp.write_text(ds.to_dict(data=False).__repr__())

    class EntryPoint:
        name = "json"

        def load(self):
            return hio.Writer("json", (".json",), write_json)

    monkeypatch.setattr(hio.WRITER_REGISTRY, "_entries", dict(hio.WRITER_REGISTRY._entries))
    monkeypatch.setattr(hio.WRITER_REGISTRY, "_loaded", False)
    monkeypatch.setattr(hio, "WRITERS", dict(hio.WRITERS))
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [EntryPoint()] if group == "hurricane_ode.writers" else [])  # fmt: skip
    path = hio.write_dataset(forecast_ds, tmp_path / "out.json")
    assert "U850" in path.read_text() and "json" in hio.WRITER_REGISTRY.names()
