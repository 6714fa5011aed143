"""The built-in demo world: a cached synthetic CAM5 world and its basin tiles.

Lives in ``data/`` so that data sources (e.g. the ``tiles`` source with no path)
can use it without reaching up the stack; :mod:`hurricane_ode.demo` builds the
README's main job on top of it.

Cache location: ``$HURRICANE_ODE_CACHE`` (default ``~/.cache/hurricane_ode``).

The demo world is global at 0.5 degrees (361 x 720), 40 days, 3-hourly, its history files
zlib-compressed (about 0.45 GB; about 45 s to generate on one core). A cache made by an older
generator (``GENERATOR`` differs) is rebuilt.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["cache_dir", "DemoSettings", "DEMO", "demo_world", "demo_tiles", "GENERATOR"]

#: Version of the synthetic-world generator; part of the cache key, so a new generator
#: (2: prefix-stable seeded streams, climates) rebuilds cached demo worlds.
GENERATOR = 2


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
    resolution: float = 0.5
    seed: int = 2005
    basin: str = "natl"
    shape: tuple[int, int] = (32, 64)
    #: the demo forecast: input frames (hours after the clip origin) and 3-hourly outputs after the last
    origin: str = "2005-09-03T00"
    input_offsets_h: tuple[float, ...] = (0.0, 9.0, 21.0, 42.0, 57.0)
    n_outputs: int = 8
    output_step_h: float = 3.0
    #: zlib-compress the history files (lossless; about 2.2x smaller, 2x slower to write)
    compress: bool = True


DEMO = DemoSettings()


def demo_world(settings: DemoSettings | None = None, progress: bool = True):
    """The demo synthetic world (default :data:`DEMO`), made on first use and cached.

    A marker file records the settings it was made with; it is written last, so an
    interrupted run is simply redone.
    """
    settings = settings or DEMO
    from hurricane_ode.data.synthetic import SyntheticWorld, make_synthetic_world

    key = {
        k: v
        for k, v in asdict(settings).items()
        if k in ("start", "days", "resolution", "seed", "compress")
    }
    directory = (
        cache_dir() / f"demo_world_seed{settings.seed}_{settings.days}d_{settings.resolution:g}deg"
    )
    marker = directory / "hurricane_ode_demo.json"
    stamp = {**key, "generator": GENERATOR}
    if marker.exists() and json.loads(marker.read_text()) == stamp:
        files = sorted(directory.glob("*.cam.h*.nc"))
        return SyntheticWorld(files=files, tracks=directory / "tracks.csv", directory=directory)
    if marker.exists():  # made by another generator or settings: rebuild
        marker.unlink()
        for stale in [*directory.glob("tiles_*.zarr"), *directory.glob("*.cam.h*.nc")]:
            shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    world = make_synthetic_world(directory, **key, progress=progress)
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps(stamp))
    os.replace(tmp, marker)  # the marker appears only once every file is written
    return world


def demo_tiles(settings: DemoSettings | None = None, progress: bool = True) -> Path:
    """The demo world's basin tiles (``settings.shape``) as a Zarr store, cached beside it."""
    settings = settings or DEMO
    from hurricane_ode.data.store import prepare_tiles

    world = demo_world(settings, progress=progress)
    out = world.directory / f"tiles_{settings.basin}_{settings.shape[0]}x{settings.shape[1]}.zarr"
    return prepare_tiles(world.files, [settings.basin], settings.shape, out, progress=progress)
