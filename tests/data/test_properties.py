"""Property tests (hypothesis): basin boxes in any longitude convention, and the reader's
standardisation (lat order and lon convention of the input never change the tiles)."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import cftime
import numpy as np
import pytest
import xarray as xr

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hurricane_ode.data.basins import Basin, get_basin, tile_basin  # noqa: E402
from hurricane_ode.data.store import open_tiles, prepare_tiles  # noqa: E402

RES = 10.0
LAT = np.arange(-90 + RES / 2, 90, RES)
LON = np.arange(RES / 2, 360, RES)


def _world(n_times: int = 3, seed: int = 0) -> xr.Dataset:
    rng = np.random.default_rng(seed)
    shp = (n_times, LAT.size, LON.size)
    t0 = cftime.DatetimeNoLeap(2005, 2, 28, 18)
    data = {"U850": rng.normal(0, 5, shp), "V850": rng.normal(0, 5, shp),
            "PSL": 101000 + rng.normal(0, 500, shp)}  # fmt: skip
    units = {"U850": "m s-1", "V850": "m s-1", "PSL": "Pa"}
    return xr.Dataset(
        {k: (("time", "lat", "lon"), v.astype("f4"), {"units": units[k]}) for k, v in data.items()},
        coords={"time": [t0 + dt.timedelta(hours=3 * i) for i in range(n_times)],
                "lat": ("lat", LAT, {"units": "degrees_north"}),
                "lon": ("lon", LON, {"units": "degrees_east"})},  # fmt: skip
    )


def _variant(ds: xr.Dataset, lat_descending: bool, lon_180: bool) -> xr.Dataset:
    out = ds
    if lon_180:
        out = out.assign_coords(lon=((out.lon + 180.0) % 360.0) - 180.0).sortby("lon")
    if lat_descending:
        out = out.isel(lat=slice(None, None, -1))
    return out


@st.composite
def boxes(draw: st.DrawFn) -> Basin:
    lat_min = draw(st.floats(-90.0, 80.0, allow_nan=False))
    lat_max = draw(st.floats(lat_min + RES, 90.0, allow_nan=False))
    lon_min = round(draw(st.floats(-360.0, 540.0, allow_nan=False)), 3)
    span = round(draw(st.floats(RES, 360.0, allow_nan=False)), 3)
    # lon_min + span, not round(lon_min + span): rounding the sum can exceed lon_min + 360
    return get_basin((round(lat_min, 3), round(lat_max, 3), lon_min, lon_min + span))


WORLD = _world()


@settings(max_examples=60, deadline=None)
@given(box=boxes(), lat_descending=st.booleans(), lon_180=st.booleans(),
       shape=st.one_of(st.none(), st.tuples(st.integers(1, 6), st.integers(1, 9))))  # fmt: skip
def test_any_box_any_convention_same_tile(box, lat_descending, lon_180, shape):
    ref = tile_basin(WORLD, box, shape).load()
    got = tile_basin(_variant(WORLD, lat_descending, lon_180), box, shape).load()
    np.testing.assert_array_equal(got.lat.values, ref.lat.values)
    np.testing.assert_allclose(got.lon.values, ref.lon.values, atol=1e-9)
    for v in ("U850", "V850", "PSL"):
        np.testing.assert_array_equal(got[v].values, ref[v].values)
    lon = ref.lon.values
    assert np.all(np.diff(lon) > 0) and np.all(np.diff(ref.lat.values) > 0)
    if shape is None:  # native: exactly the grid centres inside the box, on the box's axis
        assert lon[0] >= box.lon_min - 1e-6 and lon[-1] < box.lon_max
        inside = np.mod(LON - box.lon_min + 1e-6, 360.0) < box.lon_span - 1e-6
        assert lon.size == int(inside.sum())
        assert ref.sizes["lat"] == int(((LAT >= box.lat_min - 1e-6) & (LAT < box.lat_max - 1e-6)).sum())
    else:
        assert (ref.sizes["lat"], ref.sizes["lon"]) == shape
        assert np.all(np.isfinite(ref["PSL"].values))


@settings(max_examples=60, deadline=None)
@given(a=boxes(), b=boxes(), shift=st.sampled_from([-360.0, 0.0, 360.0]))
def test_box_overlap_symmetric_and_shift_invariant(a, b, shift):
    moved = Basin("moved", b.lat_min, b.lat_max, b.lon_min + shift, b.lon_max + shift)
    assert a.overlaps(b) == b.overlaps(a) == a.overlaps(moved)
    assert get_basin("bbox:" + ",".join(f"{x!r}" for x in a.bounds)).bounds == a.bounds


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lat_descending=st.booleans(), lon_180=st.booleans(), basin=st.sampled_from(["natl", "nio", "spac"]),
       shape=st.one_of(st.none(), st.just((4, 7))))  # fmt: skip
def test_reader_standardisation_never_changes_the_tiles(lat_descending, lon_180, basin, shape):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = []
        for name, ds in (("ref", WORLD), ("var", _variant(WORLD, lat_descending, lon_180))):
            ds = ds.copy()
            ds["time"].encoding = {"units": "hours since 2005-01-01", "calendar": "noleap"}
            path = root / f"{name}.nc"
            ds.to_netcdf(path, engine="netcdf4",
                         encoding={c: {"_FillValue": None} for c in ("time", "lat", "lon")})  # fmt: skip
            paths.append(path)
        stores = [prepare_tiles(p, basin, shape, root / f"{p.stem}.zarr", progress=False,
                                scheduler="sync") for p in paths]  # fmt: skip
        ref, got = (open_tiles(s, basin).load() for s in stores)
        expect = tile_basin(WORLD, basin, shape)
        for v in ("U850", "V850", "PSL"):
            np.testing.assert_array_equal(got[v].values, ref[v].values)
            np.testing.assert_array_equal(ref[v].values, expect[v].values)
        np.testing.assert_array_equal(got.lon.values, ref.lon.values)
        assert list(got.time.values) == list(WORLD.time.values)
