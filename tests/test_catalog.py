"""The intake catalog in data_catalog/ opens the demo world, a user archive and the tile store."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

intake = pytest.importorskip("intake")
pytest.importorskip("intake_xarray")

# intake 2 warns about shell expansion on every parameter default, whatever it holds
pytestmark = pytest.mark.filterwarnings("ignore:Shell command not executed:UserWarning")

CATALOG = Path(__file__).resolve().parents[1] / "data_catalog" / "catalog.yaml"


@pytest.fixture(scope="module")
def demo_dir(demo_world, tmp_path_factory) -> Path:
    """``demo_dir`` layout the catalog expects: world/*.nc and tiles.zarr."""
    from hurricane_ode.data.store import prepare_tiles

    root = tmp_path_factory.mktemp("catalog_demo")
    os.symlink(demo_world.directory, root / "world")
    prepare_tiles(
        str(root / "world" / "*.nc"), ["natl", "wpac"], (6, 16), root / "tiles.zarr", progress=False
    )
    return root


def test_catalog_lists_entries_and_defaults_point_next_to_it() -> None:
    cat = intake.open_catalog(str(CATALOG))
    assert {"cam5_demo", "cam5_archive", "tiles_demo"} <= set(cat)
    url = Path(cat.cam5_demo.reader.data.url)
    assert url.name == "*.nc" and url.parent.name == "world"
    assert os.path.normpath(url.parent.parent) == os.path.normpath(
        CATALOG.parent.parent / "demo_output"
    )


def test_cam5_entries_load_variables(demo_dir: Path, demo_world) -> None:
    from hurricane_ode.data.cam5 import open_cam5

    cat = intake.open_catalog(str(CATALOG))
    world = cat(demo_dir=str(demo_dir)).cam5_demo.to_dask()
    ref = open_cam5(demo_world.files)
    for v in ("U850", "V850", "PSL"):
        assert world[v].sizes["time"] == ref.sizes["time"]
    np.testing.assert_allclose(
        world["PSL"].isel(time=5).sortby("lat").values, ref["PSL"].isel(time=5).values, rtol=1e-6
    )
    mine = cat(archive=str(demo_world.directory / "*.nc")).cam5_archive.read()
    assert mine["U850"].shape == world["U850"].shape and np.isfinite(mine["V850"].values).all()


def test_tiles_entry_opens_a_basin_group(demo_dir: Path) -> None:
    from hurricane_ode.data.store import open_tiles, read_norm_stats

    cat = intake.open_catalog(str(CATALOG))(demo_dir=str(demo_dir), basin="wpac")
    tiles = cat.tiles_demo.to_dask()
    ref = open_tiles(demo_dir / "tiles.zarr", "wpac")
    assert tiles.attrs["basin"] == "wpac"
    np.testing.assert_array_equal(tiles["V850"].values, ref["V850"].values)
    assert read_norm_stats(tiles) == read_norm_stats(ref)
