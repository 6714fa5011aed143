"""The built-in demo: a cached synthetic CAM5 world and the README's main job.

``run_demo(output_dir)`` makes (or reuses) the demo world, tiles the North
Atlantic into a Zarr store, forecasts 8 frames at 3-hourly steps from 5
irregularly timed inputs with the shipped demo model, and writes the forecast
(NetCDF) and a wind-vector map (PNG). Everything is offline and seeded.

Cache location: ``$HURRICANE_ODE_CACHE`` (default ``~/.cache/hurricane_ode``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "cache_dir", "DemoSettings", "DEMO", "demo_world", "demo_tiles", "demo_times", "run_demo", "DemoResult",
]  # fmt: skip

log = logging.getLogger(__name__)

# The demo world and its tiles live in data/ (sources use them); re-exported here.
from hurricane_ode.data import demo_world as _dw  # noqa: E402
from hurricane_ode.data.demo_world import DEMO, DemoSettings, cache_dir, demo_tiles, demo_world  # noqa: E402


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
    settings = settings or _dw.DEMO
    from datetime import timedelta

    from hurricane_ode.timeutil import parse_time

    origin = parse_time(settings.origin, "noleap")
    inputs = [origin + timedelta(hours=h) for h in settings.input_offsets_h]
    last = inputs[-1]
    outputs = [
        last + timedelta(hours=settings.output_step_h * (k + 1)) for k in range(settings.n_outputs)
    ]
    return inputs, outputs


def run_demo(
    output_dir: str | os.PathLike = "demo_output",
    progress: bool = True,
    overwrite: bool = True,
    checkpoint: str | os.PathLike | None = None,
    settings: DemoSettings | None = None,
) -> DemoResult:
    """The README's main job: demo world -> basin tiles -> forecast -> NetCDF + wind map PNG.

    Parameters
    ----------
    output_dir
        Directory for ``forecast_<basin>.nc`` and ``forecast_<basin>.png`` (created if missing).
    progress
        Show progress bars while the demo world and tiles are made.
    overwrite
        Replace the demo's own forecast written by an earlier run (a file hurricane_ode did
        not write is never replaced) and its map.
    checkpoint
        None = the shipped demo model.
    settings
        Demo settings (default :data:`DEMO`).

    Returns
    -------
    DemoResult
        What was written and used.
    """
    from hurricane_ode.errors import CheckpointError
    from hurricane_ode.forecasting import forecast, load_forecaster
    from hurricane_ode.forecasting.inputs import model_grid
    from hurricane_ode.io import check_output, write_dataset
    from hurricane_ode.outputs import check_output_dir

    s = settings or _dw.DEMO
    out = check_output_dir(output_dir)  # a regular file there is refused, naming it
    nc_path = check_output(out / f"forecast_{s.basin}.nc", overwrite)
    fc = load_forecaster(checkpoint)  # fails fast when the demo model is missing
    if getattr(fc.config.model, "grid_spacing_deg", None):
        s = dataclasses.replace(s, shape=model_grid(fc, s.basin))  # the model's grid, whole basin
    elif tuple(fc.image_size) != tuple(s.shape):
        raise CheckpointError(
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
    png = out / f"forecast_{s.basin}.png"
    plot_forecast_maps(ds, truth, png, tracks=world.tracks).clear()  # written; the Figure is not kept
    return DemoResult(forecast=nc, map_png=png, tiles=tiles, world=world.directory)
