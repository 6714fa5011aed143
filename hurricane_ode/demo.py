"""The built-in demo: a cached synthetic CAM5 world and the README's main job.

``run_demo(output_dir)`` makes (or reuses) the demo world, tiles the North
Atlantic into a Zarr store, forecasts 8 frames at 3-hourly steps from 5
irregularly timed inputs with the shipped demo model, and writes the forecast
(NetCDF) and a wind-vector map (PNG). Everything is offline and seeded.

Cache location: ``$HURRICANE_ODE_CACHE`` (default ``~/.cache/hurricane_ode``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = [
    "cache_dir", "DemoSettings", "DEMO", "demo_world", "demo_tiles", "demo_times", "run_demo", "DemoResult",
]  # fmt: skip

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """``$HURRICANE_ODE_CACHE`` or ``~/.cache/hurricane_ode`` (created on demand)."""
    root = Path(os.environ.get("HURRICANE_ODE_CACHE", Path.home() / ".cache" / "hurricane_ode"))
    root.mkdir(parents=True, exist_ok=True)
    return root


@dataclass(frozen=True)
class DemoSettings:
    """The demo world and forecast; the shipped demo model was trained on this world's first 80 %."""

    start: str = "2005-08-01"
    days: int = 40
    resolution: float = 1.0
    seed: int = 2005
    basin: str = "natl"
    shape: tuple[int, int] = (32, 64)
    #: the demo forecast: input frames (hours after the clip origin) and 3-hourly outputs after the last
    origin: str = "2005-09-03T00"
    input_offsets_h: tuple[float, ...] = (0.0, 9.0, 21.0, 42.0, 57.0)
    n_outputs: int = 8
    output_step_h: float = 3.0


DEMO = DemoSettings()


def demo_world(settings: DemoSettings | None = None, progress: bool = True):
    """The demo synthetic world (default :data:`DEMO`), made on first use and cached.

    A marker file records the settings it was made with; it is written last, so an
    interrupted run is simply redone.
    """
    settings = settings or DEMO
    from hurricane_ode.data.synthetic import SyntheticWorld, make_synthetic_world

    key = {k: v for k, v in asdict(settings).items() if k in ("start", "days", "resolution", "seed")}
    directory = cache_dir() / f"demo_world_seed{settings.seed}_{settings.days}d_{settings.resolution:g}deg"
    marker = directory / "hurricane_ode_demo.json"
    if marker.exists() and json.loads(marker.read_text()) == key:
        files = sorted(directory.glob("*.cam.h*.nc"))
        return SyntheticWorld(files=files, tracks=directory / "tracks.csv", directory=directory)
    world = make_synthetic_world(directory, **key, progress=progress)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(key))
    os.replace(tmp, marker)  # the marker appears only once every file is written
    return world


def demo_tiles(settings: DemoSettings | None = None, progress: bool = True) -> Path:
    """The demo world's basin tiles (``settings.shape``) as a Zarr store, cached beside it."""
    settings = settings or DEMO
    from hurricane_ode.data.store import prepare_tiles

    world = demo_world(settings, progress=progress)
    out = world.directory / f"tiles_{settings.basin}_{settings.shape[0]}x{settings.shape[1]}.zarr"
    return prepare_tiles(world.files, [settings.basin], settings.shape, out, progress=progress)


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote or used."""

    forecast: Path
    """The forecast, CF-1.8 NetCDF."""
    map_png: Path
    """Wind-vector / PSL maps of forecast and truth."""
    tiles: Path
    """The cached basin tile store the inputs came from."""
    world: Path
    """The cached demo world directory (CAM5-style files + tracks.csv)."""


def demo_times(settings: DemoSettings | None = None) -> tuple[list, list]:
    """(input times, 3-hourly output times) of the demo forecast, cftime ``noleap``."""
    settings = settings or DEMO
    from datetime import timedelta

    from hurricane_ode.timeutil import parse_time

    origin = parse_time(settings.origin, "noleap")
    inputs = [origin + timedelta(hours=h) for h in settings.input_offsets_h]
    last = inputs[-1]
    outputs = [last + timedelta(hours=settings.output_step_h * (k + 1)) for k in range(settings.n_outputs)]
    return inputs, outputs


def run_demo(
    output_dir: str | os.PathLike = "demo_output",
    progress: bool = True,
    overwrite: bool = True,
    checkpoint: str | os.PathLike | None = None,
    settings: DemoSettings | None = None,
) -> DemoResult:
    """The README's main job: demo world -> basin tiles -> forecast -> NetCDF + wind map PNG.

    checkpoint: None = the shipped demo model. ``overwrite`` replaces the demo's own two
    output files (``forecast_<basin>.nc`` / ``.png``) in ``output_dir``.
    """
    from hurricane_ode.forecast import forecast, load_forecaster
    from hurricane_ode.io import check_output, write_dataset

    s = settings or DEMO
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    nc_path = check_output(out / f"forecast_{s.basin}.nc", overwrite)
    fc = load_forecaster(checkpoint)  # fails fast when the demo model is missing
    if tuple(fc.image_size) != tuple(s.shape):
        raise ValueError(
            f"checkpoint {fc.source} takes {fc.image_size[0]}x{fc.image_size[1]} tiles but the demo "
            f"tiles are {s.shape[0]}x{s.shape[1]}"
        )
    world = demo_world(s, progress=progress)
    tiles = demo_tiles(s, progress=progress)
    inputs, times = demo_times(s)
    ds = forecast(fc, str(tiles), s.basin, times, input_times=inputs)
    ds.attrs["history"] += "; hurricane-ode demo"
    nc = write_dataset(ds, nc_path, overwrite=overwrite)

    from hurricane_ode.data.store import open_tiles
    from hurricane_ode.plotting.maps import plot_forecast_maps

    truth = open_tiles(tiles, s.basin).sel(time=times)
    png = plot_forecast_maps(ds, truth, out / f"forecast_{s.basin}.png", tracks=world.tracks)
    return DemoResult(forecast=nc, map_png=Path(png), tiles=tiles, world=world.directory)
