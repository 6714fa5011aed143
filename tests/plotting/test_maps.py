"""Wind-vector maps, forecast panels, track maps and offline coastlines."""

from __future__ import annotations

import urllib.request
from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("matplotlib", reason="matplotlib not installed (the 'plot' extra)")
pytest.importorskip("cartopy", reason="cartopy not installed (the 'plot' extra)")
Image = pytest.importorskip("PIL.Image", reason="Pillow (a matplotlib dependency) not installed")

import cftime  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hurricane_ode.cf import forecast_dataset  # noqa: E402
from hurricane_ode.plotting import coastlines as coast  # noqa: E402
from hurricane_ode.plotting._common import save_png  # noqa: E402
from hurricane_ode.plotting.maps import (  # noqa: E402
    _Box,
    plot_forecast_maps,
    plot_track_map,
    plot_wind_map,
)


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any attempt to download (cartopy uses urllib) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:1]}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


@pytest.fixture(scope="module")
def coastlines_available():
    try:
        return coast.configure_cartopy()
    except coast.CoastlineDataError as exc:
        pytest.skip(f"no offline coastline data ({exc})")


def _fake(lon0=240.0, lon1=400.0, nt=2, h=12, w=32, shift=0.0, t0=None):
    lat = np.linspace(0, 60, h, endpoint=False) + 60 / h / 2
    lon = np.linspace(lon0, lon1, w, endpoint=False) + (lon1 - lon0) / w / 2
    t0 = t0 or cftime.DatetimeNoLeap(2005, 9, 5, 9)
    times = [t0 + timedelta(hours=3 * (k + 1)) for k in range(nt)]
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    clon = 0.5 * (lon0 + lon1) + shift
    r = np.hypot((lo - clon) * np.cos(np.radians(la)), la - 20.0) + 1e-3
    psl = 101300.0 - 3000.0 * np.exp(-((r / 6.0) ** 2))
    vt = 30.0 * (r / 4.0) * np.exp(1 - r / 4.0)
    u = -vt * (la - 20.0) / r
    v = vt * (lo - clon) * np.cos(np.radians(la)) / r
    stack = lambda a: np.repeat(a[None], nt, axis=0)  # noqa: E731
    return forecast_dataset({"U850": stack(u), "V850": stack(v), "PSL": stack(psl)}, lat, lon,
                            times, t0, "noleap", {"basin": "natl", "model": "vid_ode"})


def _png_size(path):
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG"
        return im.size


def test_coastlines_render_offline_north_atlantic(coastlines_available):
    root = coastlines_available
    assert (root / "shapefiles/natural_earth/physical/ne_110m_coastline.shp").is_file()
    feature = coast.coastline_feature("110m")
    geoms = list(feature.intersecting_geometries((-100.0, -10.0, 0.0, 60.0)))
    assert geoms, "no coastline geometries over the North Atlantic"
    assert sum(g.length for g in geoms) > 100.0  # degrees of coastline: Americas, Europe, Africa
    # a point in mid-ocean is far from any coastline; one off Florida is near one
    from shapely.geometry import Point
    from shapely.ops import unary_union

    lines = unary_union(geoms)
    assert lines.distance(Point(-40.0, 30.0)) > 5.0
    assert lines.distance(Point(-80.2, 25.8)) < 1.0


def test_cartopy_never_downloads(coastlines_available):
    import cartopy.feature as cfeature
    from cartopy.io import shapereader

    # cartopy's own coastline feature reads the local tree
    assert list(cfeature.COASTLINE.with_scale("110m").geometries())
    # a Natural Earth file that is not there raises instead of downloading
    with pytest.raises(coast.CoastlineDataError, match="never downloads"):
        shapereader.natural_earth("110m", "cultural", "populated_places")


def test_user_copy_via_env_var(tmp_path, monkeypatch):
    import shapefile

    src = tmp_path / "my_ne" / "110m_physical"
    src.mkdir(parents=True)
    with shapefile.Writer(str(src / "ne_110m_coastline"), shapeType=shapefile.POLYLINE) as w:
        w.field("featurecla", "C")
        w.line([[(-80.0, 25.0), (-75.0, 35.0)]])
        w.record("Coastline")
    monkeypatch.setenv("HURRICANE_ODE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(coast.ENV_VAR, str(tmp_path / "my_ne"))
    root = coast.configure_cartopy()
    assert root == tmp_path / "cache" / "cartopy" / "user"
    geoms = list(coast.coastline_feature("110m").geometries())
    assert len(geoms) == 1 and geoms[0].length == pytest.approx(np.hypot(5, 10))

    monkeypatch.setenv(coast.ENV_VAR, str(tmp_path / "nothing_here"))
    with pytest.raises(coast.CoastlineDataError, match="not a directory"):
        coast.configure_cartopy()


def test_wind_map_natl_box_is_contiguous(tmp_path, coastlines_available):
    ds = _fake()
    fig = plot_wind_map(ds, time=1)
    ax = fig.axes[0]
    x0, x1, y0, y1 = ax.get_extent(crs=ax.projection)
    assert x1 - x0 == pytest.approx(160.0, abs=0.5)  # 240..400 drawn as one 160-degree box
    assert (y0, y1) == pytest.approx((0.0, 60.0), abs=0.5)
    from matplotlib.quiver import QuiverKey

    keys = [a for a in ax.artists if isinstance(a, QuiverKey)]
    assert len(keys) == 1 and keys[0].text.get_text().endswith("m s$^{-1}$")
    out = save_png(fig, tmp_path / "wind.png")
    w, h = _png_size(out)
    assert 600 < w < 2000 and 250 < h < 1200


def test_wind_map_returns_figure_and_writes_path(tmp_path):
    fig = plot_wind_map(_fake(), coastlines=False, path=tmp_path / "w.png")
    assert isinstance(fig, Figure) and _png_size(tmp_path / "w.png")[0] > 300
    assert [p.name for p in tmp_path.iterdir()] == ["w.png"]  # no temporary left
    with pytest.raises(ValueError, match=r"\.png"):
        plot_wind_map(_fake(), coastlines=False, path=tmp_path / "w.jpg")


def test_box_wraps_track_longitudes():
    box = _Box(0, 60, 240, 400)  # natl, centre 320
    np.testing.assert_allclose(box.x([240.0, 300.0, 359.0, 10.0, -50.0]), [-80, -20, 39, 50, -10])
    box = _Box(0, 60, -10, 150)  # nio, crosses the prime meridian
    np.testing.assert_allclose(box.x([350.0, 0.0, 140.0]), [-80, -70, 70])


def test_forecast_maps_writes_png_with_tracks_and_error(tmp_path, coastlines_available):
    truth = _fake(nt=3)
    fc = _fake(nt=3, shift=3.0)
    tracks = pd.DataFrame({
        "storm_id": [1, 1, 1, 2], "basin": "natl",
        "time": ["2005-09-05T12:00:00", "2005-09-05T15:00:00", "2005-09-05T18:00:00",
                 "2005-08-01T00:00:00"],
        "lat": [20.0, 20.0, 20.0, 15.0], "lon": [320.0, 320.0, 320.0, 300.0],
        "min_psl_pa": 98300.0, "max_wind_ms": 30.0,
    })
    csv = tmp_path / "tracks.csv"
    tracks.to_csv(csv, index=False)
    fig = plot_forecast_maps(fc, truth, tmp_path / "maps.png", tracks=csv, error=True, max_leads=2)
    out = tmp_path / "maps.png"
    assert isinstance(fig, Figure) and out.is_file()
    w, h = _png_size(out)
    assert w > 1200 and 400 < h < 2000  # 3 columns, 2 rows
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_forecast_maps_without_coastlines_and_other_basin(tmp_path):
    ds = _fake(lon0=-10.0, lon1=150.0)
    out = tmp_path / "nio.png"
    plot_forecast_maps(ds, ds, out, coastlines=False)
    assert _png_size(out)[0] > 600


def test_forecast_maps_bad_input(tmp_path):
    fc = _fake(nt=2)
    with pytest.raises(ValueError, match="PSL"):
        plot_forecast_maps(fc, fc.drop_vars("PSL"), tmp_path / "x.png", coastlines=False)
    late = _fake(nt=2, t0=cftime.DatetimeNoLeap(2005, 9, 6, 0))
    with pytest.raises(ValueError, match="truth lacks forecast time"):
        plot_forecast_maps(fc, late, tmp_path / "x.png", coastlines=False)
    with pytest.raises(ValueError, match=r"\.png"):
        plot_forecast_maps(fc, fc, tmp_path / "x.jpg", coastlines=False)
    assert not (tmp_path / "x.png").exists()


def test_track_map(tmp_path, coastlines_available):
    true = pd.DataFrame({"storm_id": [3] * 4, "time": [f"2005-09-05T{h:02d}:00:00" for h in (0, 6, 12, 18)],
                         "lat": [15.0, 16.0, 17.0, 18.0], "lon": [310.0, 308.0, 306.0, 304.0]})
    fc = true.drop(columns="storm_id").assign(track_id=0, lon=true["lon"] + 1.0).iloc[1:]
    out = tmp_path / "tracks.png"
    assert isinstance(plot_track_map(true, fc, out, basin="natl"), Figure)
    w, h = _png_size(out)
    assert w > 600 and h > 250
    with pytest.raises(ValueError, match="lack columns"):
        plot_track_map(true.drop(columns="lat"), None, tmp_path / "bad.png")


def test_zoom_to_region_storm_and_chosen_leads(tmp_path, coastlines_available):
    import time

    from matplotlib.figure import Figure

    truth = _fake(nt=4, h=60, w=160)  # 1-degree natl
    fc = _fake(nt=4, h=60, w=160, shift=2.0)
    fig = plot_forecast_maps(fc, truth, leads=[3, 12], coastlines=False)
    assert isinstance(fig, Figure) and len(fig.axes) >= 4  # 2 leads x (truth, forecast) + colour bar
    tracks = pd.DataFrame({"SID": ["2005248N20320"] * 3, "ISO_TIME": ["2005-09-05 12:00:00",
                                                                      "2005-09-05 15:00:00", "2005-09-05 18:00:00"],
                           "LAT": ["20.0", "20.5", "21.0"], "LON": ["-40.0", "-40.5", "-41.0"],
                           "BASIN": ["NA"] * 3, "WMO_PRES": ["983", "", "981"], "WMO_WIND": ["", "", ""]})
    csv = tmp_path / "ibtracs.csv"
    tracks.to_csv(csv, index=False)
    t0 = time.perf_counter()
    out = tmp_path / "storm.png"
    plot_forecast_maps(fc, truth, out, tracks=csv, storm="2005248N20320", error=True)
    took = time.perf_counter() - t0
    assert out.stat().st_size < 1_000_000
    w, h = _png_size(out)
    assert 3 * h > w  # 4 lead rows of a ~30-degree box
    assert took < 30.0  # < 5 s on an idle machine; generous for a shared CI box
    zoom = plot_forecast_maps(fc, truth, region=(10.0, 30.0, -50.0, -30.0), leads=[3], coastlines=False)
    ax = zoom.axes[0]
    assert ax.get_xlim()[1] - ax.get_xlim()[0] == pytest.approx(20.0, abs=1.5)
    with pytest.raises(ValueError, match=r"lead\(s\) \['5'\] h not in the forecast"):
        plot_forecast_maps(fc, truth, leads=[5], coastlines=False)
    with pytest.raises(ValueError, match="storm 'X' not in the tracks"):
        plot_forecast_maps(fc, truth, tracks=csv, storm="X", coastlines=False)


def test_cli_map_with_cam5_truth_and_plot_scores(tmp_path, demo_world, capsys):
    from hurricane_ode.cli import main

    h = tmp_path / "h.nc"
    assert main(["hindcast", "--basin", "natl", "--input", str(demo_world.directory), "--init",
                 "2005-08-02T00", "--lead", "0/12h/6h", "--model", "persistence", "--shape", "16", "32",
                 "--output", str(h)]) == 0
    png = tmp_path / "m.png"
    assert main(["plot", "map", "--forecast", str(h), "--truth", str(demo_world.directory),
                 "--tracks", str(demo_world.tracks), "--leads", "6,12", "--no-coastlines",
                 "--output", str(png)]) == 0
    assert _png_size(png)[1] > 300
    assert main(["score", "--hindcast", str(h), "--truth", str(demo_world.directory), "--no-lpips",
                 "--output", str(tmp_path / "s")]) == 0
    assert main(["plot", "scores", "--scores", str(tmp_path / "s"), str(tmp_path / "s" / "scores.csv"),
                 "--labels", "a,b", "--metrics", "rmse_PSL,pod", "--output", str(tmp_path / "sc.png")]) == 0
    assert _png_size(tmp_path / "sc.png")[0] > 600
