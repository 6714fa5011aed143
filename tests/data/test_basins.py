"""Basin boxes and tiling: wrap-around, custom boxes, conservative regridding."""

from __future__ import annotations

import itertools
from pathlib import Path

import cftime
import dask.array as da
import numpy as np
import pytest
import xarray as xr

from hurricane_ode.data.basins import (
    Basin,
    conservative_weights,
    get_basin,
    load_basins,
    partitions,
    tile_basin,
)

ROOT = Path(__file__).resolve().parents[2]


def make_world(
    res: float = 1.0,
    lon0: float = 0.0,
    times: list | None = None,
    seed: int = 0,
    chunks: dict | None = None,
) -> xr.Dataset:
    """A CAM5-schema dataset (U850, V850, PSL float32, (time, lat, lon), noleap cftime).

    Cell centres at half-resolution offsets; ``lon0=-180`` gives a -180..180 grid.
    """
    rng = np.random.default_rng(seed)
    if times is None:
        times = [cftime.DatetimeNoLeap(2005, 8, 1, h) for h in (0, 3, 9)]
    lat = np.arange(-90 + res / 2, 90, res)
    lon = lon0 + np.arange(res / 2, 360, res)
    shape = (len(times), lat.size, lon.size)
    ds = xr.Dataset(
        {
            "U850": (
                ("time", "lat", "lon"),
                rng.normal(0, 5, shape).astype("f4"),
                {"units": "m s-1", "standard_name": "eastward_wind"},
            ),
            "V850": (
                ("time", "lat", "lon"),
                rng.normal(0, 5, shape).astype("f4"),
                {"units": "m s-1", "standard_name": "northward_wind"},
            ),
            "PSL": (
                ("time", "lat", "lon"),
                (101325 + rng.normal(0, 300, shape)).astype("f4"),
                {"units": "Pa", "standard_name": "air_pressure_at_mean_sea_level"},
            ),
        },
        coords={
            "time": ("time", times),
            "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
            "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"}),
        },
        attrs={"source": "test world"},
    )
    return ds.chunk(chunks) if chunks else ds


# ------------------------------------------------------------------ basin definitions


def test_yaml_copies_identical() -> None:
    bundled = ROOT / "hurricane_ode" / "resources" / "basins.yaml"
    catalog = ROOT / "data_catalog" / "basins.yaml"
    assert bundled.read_bytes() == catalog.read_bytes(), (
        "keep data_catalog/basins.yaml == resources copy"
    )


def test_bundled_basins_are_60_by_160_and_partition_is_disjoint() -> None:
    basins = load_basins()
    assert {"natl", "epac", "wpac", "nio", "sio", "spac"} <= set(basins)
    for b in basins.values():
        assert (b.lat_span, b.lon_span) == (60.0, 160.0), b
    paper = partitions()["paper"]
    assert {basins[n].lat_min >= 0 for n in paper} == {True, False}  # both hemispheres
    for a, b in itertools.combinations(paper, 2):
        assert not basins[a].overlaps(basins[b]), (a, b)
    # the basin-centred boxes do overlap the partition (documented)
    assert basins["nio"].overlaps(basins["wpac"]) and basins["epac"].overlaps(basins["natl"])


def test_overlap_is_modulo_360() -> None:
    assert Basin("a", 0, 10, 350, 370).overlaps(Basin("b", 5, 20, 0, 5))
    assert not Basin("a", 0, 10, 350, 370).overlaps(Basin("b", 10, 20, 0, 5))  # touching lat


def test_whole_circle_box_survives_a_360_degree_shift() -> None:
    # 152.844 - 360 and 512.844 - 360 are 360.00000000000006 apart in floating point
    moved = Basin("moved", 0.0, 10.0, 152.844 - 360.0, 512.844 - 360.0)
    assert moved.lon_span == 360.0 and moved.lon_min == 152.844 - 360.0
    with pytest.raises(ValueError, match=r"lon_max <= lon_min \+ 360"):
        Basin("wide", 0.0, 10.0, 0.0, 360.001)


def test_get_basin_forms_and_errors() -> None:
    assert get_basin("natl").lon_max == 400.0
    box = get_basin("bbox:10,50,260,400")
    assert box.bounds == (10.0, 50.0, 260.0, 400.0) and box.name == "bbox_10_50_260_400"
    assert get_basin((-10, 10.5, -20, 20)).name == "bbox_m10_10p5_m20_20"
    assert get_basin(box) is box
    with pytest.raises(ValueError, match=r"unknown basin 'atlantis'.*natl.*wpac"):
        get_basin("atlantis")
    with pytest.raises(ValueError, match="4 numbers"):
        get_basin("bbox:1,2,3")
    with pytest.raises(ValueError, match="lat_min < lat_max"):
        get_basin((50, 10, 0, 10))
    with pytest.raises(ValueError, match="lon_min \\+ 360"):
        get_basin((0, 10, 0, 400))


# ------------------------------------------------------------------ native tiles


def test_prime_meridian_crossing_natl_is_continuous_and_matches_source() -> None:
    ds = make_world(chunks={"time": 1})
    tile = tile_basin(ds, "natl")
    assert isinstance(tile["PSL"].data, da.Array), "tiling must stay lazy"
    assert tile["PSL"].dims == ("time", "lat", "lon")
    assert tile.sizes["lat"] == 60 and tile.sizes["lon"] == 160
    np.testing.assert_allclose(tile.lon.values, np.arange(240.5, 400, 1.0))
    np.testing.assert_allclose(tile.lat.values, np.arange(0.5, 60, 1.0))
    for lon_tile, lon_src in [(240.5, 240.5), (359.5, 359.5), (360.5, 0.5), (399.5, 39.5)]:
        np.testing.assert_array_equal(
            tile["PSL"].sel(lon=lon_tile).values, ds["PSL"].sel(lon=lon_src, lat=tile.lat).values
        )
    assert tile.attrs["basin"] == "natl" and tile.attrs["source"] == "test world"
    assert tile["U850"].attrs["units"] == "m s-1"
    assert tile["PSL"].dtype == np.float32


def test_negative_lon_min_box_nio() -> None:
    ds = make_world()
    tile = tile_basin(ds, "nio")
    assert tile.lon.values[0] == -9.5 and tile.lon.values[-1] == 149.5
    assert np.all(np.diff(tile.lon.values) > 0)
    np.testing.assert_array_equal(
        tile["U850"].sel(lon=-0.5).values, ds["U850"].sel(lon=359.5, lat=tile.lat).values
    )


def test_date_line_crossing_on_minus180_180_source() -> None:
    ds = make_world(lon0=-180.0)  # lon -179.5 .. 179.5
    tile = tile_basin(ds, "wpac")  # 80 .. 240
    np.testing.assert_allclose(tile.lon.values, np.arange(80.5, 240, 1.0))
    np.testing.assert_array_equal(
        tile["V850"].sel(lon=200.5).values, ds["V850"].sel(lon=-159.5, lat=tile.lat).values
    )
    box = tile_basin(ds, "bbox:-10,10,170,190")
    np.testing.assert_allclose(box.lon.values, np.arange(170.5, 190, 1.0))
    np.testing.assert_array_equal(
        box["PSL"].sel(lon=185.5).values, ds["PSL"].sel(lon=-174.5, lat=box.lat).values
    )
    assert box.attrs["basin"] == "bbox_m10_10_170_190"


def test_irregular_times_and_descending_lat_kept() -> None:
    times = [
        cftime.DatetimeNoLeap(2005, 2, 28, 21),
        cftime.DatetimeNoLeap(2005, 3, 1, 0),
        cftime.DatetimeNoLeap(2005, 3, 2, 15),
    ]
    ds = make_world(times=times).isel(lat=slice(None, None, -1))
    tile = tile_basin(ds, "sio", shape=(12, 32))
    assert list(tile.time.values) == times
    assert tile.time.values[0].calendar == "noleap"
    assert np.all(np.diff(tile.lat.values) > 0)


def test_regional_data_not_covering_box_is_an_error() -> None:
    ds = make_world().sel(lon=slice(0, 100))
    with pytest.raises(ValueError, match="'natl'.*not covered"):
        tile_basin(ds, "natl")
    with pytest.raises(ValueError, match="'natl'.*not covered"):
        tile_basin(ds.sel(lat=slice(-90, 30)), "natl")


# ------------------------------------------------------------------ regridding


def _area(lat_edges: np.ndarray, lon_edges: np.ndarray) -> np.ndarray:
    return np.diff(np.sin(np.deg2rad(lat_edges)))[:, None] * np.diff(lon_edges)[None, :]


def test_divisible_shape_is_area_weighted_block_mean() -> None:
    ds = make_world(chunks={"time": 2})
    tile = tile_basin(ds, "natl", shape=(30, 40))  # 2 x 4 blocks of 1-degree cells
    assert tile["PSL"].shape == (3, 30, 40) and tile["PSL"].dtype == np.float32
    assert isinstance(tile["PSL"].data, da.Array)
    np.testing.assert_allclose(tile.lon.values, 240 + 2 + 4 * np.arange(40))
    native = tile_basin(ds, "natl")["PSL"].values.astype("f8")  # (3, 60, 160)
    w = _area(np.arange(0, 61.0), np.arange(240, 401.0))
    blocks = (native * w).reshape(3, 30, 2, 40, 4).sum((2, 4)) / w.reshape(30, 2, 40, 4).sum((1, 3))
    np.testing.assert_allclose(tile["PSL"].values, blocks, rtol=1e-6)


def test_non_divisible_shape_conserves_area_mean_and_constants() -> None:
    ds = make_world()
    ds["PSL"] = ds["PSL"] * 0 + np.float32(101000.0)
    tile = tile_basin(ds, "epac", shape=(64, 64))
    assert tile.sizes == {"time": 3, "lat": 64, "lon": 64}
    np.testing.assert_allclose(tile["PSL"].values, 101000.0, rtol=1e-6)
    native = tile_basin(ds, "epac")["U850"].values.astype("f8")
    w_native = _area(np.arange(0, 61.0), np.arange(180, 341.0))
    w_coarse = _area(np.linspace(0, 60, 65), np.linspace(180, 340, 65))
    mean_native = (native * w_native).sum((1, 2)) / w_native.sum()
    mean_coarse = (tile["U850"].values * w_coarse).sum((1, 2)) / w_coarse.sum()
    np.testing.assert_allclose(mean_coarse, mean_native, atol=1e-4)


def test_weights_rows_sum_to_one_and_reject_uncovered() -> None:
    w = conservative_weights(np.arange(0, 11.0), np.linspace(0, 10, 4))
    np.testing.assert_allclose(w.sum(1), 1.0)
    np.testing.assert_allclose(w[0, :4], [0.3, 0.3, 0.3, 0.1], rtol=1e-6)
    with pytest.raises(ValueError, match="overlap no source"):
        conservative_weights(np.arange(0, 5.0), np.array([10.0, 11.0]))


def _vortex_world(lat0: float, lon0: float, sigma: float, deficit: float) -> xr.Dataset:
    ds = make_world(res=0.5, times=[cftime.DatetimeNoLeap(2005, 9, 1)])
    r2 = (ds.lat - lat0) ** 2 + (ds.lon - lon0) ** 2
    psl = 101325.0 - deficit * np.exp(-r2 / (2 * sigma**2))
    ds["PSL"] = psl.expand_dims(time=ds.time).astype("f4").transpose("time", "lat", "lon")
    return ds


@pytest.mark.parametrize(
    ("lat0", "lon0", "retained"),
    [(26.25, 288.75, 0.87), (25.0, 287.5, 0.60)],  # vortex at a coarse cell centre / corner
    ids=["cell-centre", "cell-corner"],
)
def test_minimum_psl_of_vortex_survives_coarsening(
    lat0: float, lon0: float, retained: float
) -> None:
    """A 50 hPa Gaussian low (sigma = 2 deg) on a 0.5-deg grid, coarsened to 2.5-deg cells.

    Stated tolerance (see tile_basin docs): conservative averaging keeps >= 87 % (analytic 88 %) of the central
    pressure deficit when the centre sits mid-cell and >= 60 % (analytic 63 %) in the worst case (on a corner);
    the minimum never gets deeper and stays in a cell touching the true centre.
    """
    sigma, deficit = 2.0, 5000.0
    ds = _vortex_world(lat0, lon0, sigma, deficit)
    native = tile_basin(ds, "natl")["PSL"]
    coarse = tile_basin(ds, "natl", shape=(24, 64))["PSL"]
    native_deficit = 101325.0 - float(native.min())
    coarse_deficit = 101325.0 - float(coarse.min())
    assert native_deficit > 0.98 * deficit
    assert coarse_deficit >= retained * native_deficit, (coarse_deficit, native_deficit)
    assert coarse_deficit <= native_deficit + 1.0
    where = coarse.isel(time=0).argmin(dim=["lat", "lon"])
    assert abs(float(coarse.lat[where["lat"]]) - lat0) <= 1.25 + 1e-9
    assert abs(float(coarse.lon[where["lon"]]) - lon0) <= 1.25 + 1e-9


def test_bad_shape_rejected() -> None:
    with pytest.raises(ValueError, match="shape"):
        tile_basin(make_world(), "natl", shape=(0, 10))


def test_regrid_block_valid_fraction_semantics():
    from hurricane_ode.data.regrid import regrid_block

    w = np.array([[0.5, 0.5]])  # two equal source cells -> one target cell, per axis
    x = np.array([[1.0, 2.0], [3.0, np.nan]], dtype=np.float32)
    assert regrid_block(x, w, w)[0, 0] == pytest.approx(2.0)  # mean of the 3 valid cells
    assert np.isnan(regrid_block(x, w, w, min_valid_fraction=1.0)[0, 0])
    x[0, 1] = x[1, 0] = np.nan  # one valid cell of four: below 0.5
    assert np.isnan(regrid_block(x, w, w)[0, 0])
    assert regrid_block(x, w, w, min_valid_fraction=0.25)[0, 0] == pytest.approx(1.0)
    assert regrid_block(x, w, w).dtype == np.float32
    with pytest.raises(ValueError, match="min_valid_fraction"):
        regrid_block(x, w, w, min_valid_fraction=0.0)
