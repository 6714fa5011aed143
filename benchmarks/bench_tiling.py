"""Tiling throughput: tile_basin / prepare_tiles against a plain open_mfdataset(...).load().

Usage::

    python benchmarks/bench_tiling.py                      # 30-day 1-degree synthetic world in a temp dir
    python benchmarks/bench_tiling.py --world DIR --basin natl --shape 64 64 --repeat 3

Every figure is "MB/s read": the bytes of U850+V850+PSL on the *global* source grid divided by
wall time (the same numerator for every row, so the ratios compare like with like). Rows:

* ``open_mfdataset.load``: xarray.open_mfdataset(files)[U850, V850, PSL].load() (reference)
* ``open_cam5.load``: the package's validated opener, whole fields loaded
* ``tile_basin.load``: open_cam5 + tile_basin(native).load()
* ``tile_basin(shape).load``: open_cam5 + conservative regrid to --shape, loaded
* ``prepare_tiles``: the full pipeline to a Zarr store (regrid, chunked writes, statistics)

Best of ``--repeat`` runs; the OS page cache is warm after the first run of each.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import xarray as xr

from hurricane_ode.data.basins import tile_basin
from hurricane_ode.data.cam5 import open_cam5
from hurricane_ode.data.store import prepare_tiles

VARS = ["U850", "V850", "PSL"]


def best_of(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--world", type=Path, help="folder of CAM5 *.nc files (default: synthesise)"
    )
    parser.add_argument("--days", type=float, default=30.0, help="days of synthetic world")
    parser.add_argument("--resolution", type=float, default=1.0, help="synthetic grid, degrees")
    parser.add_argument("--basin", default="natl")
    parser.add_argument("--shape", nargs=2, type=int, default=[64, 64], metavar=("H", "W"))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_tiling_"))
    try:
        if args.world is None:
            from hurricane_ode.data.synthetic import make_synthetic_world

            t0 = time.perf_counter()
            world = make_synthetic_world(
                tmp / "world", days=args.days, resolution=args.resolution, progress=False
            )
            files = [str(f) for f in world.files]
            print(
                f"synthesised {args.days:g} days at {args.resolution:g} deg "
                f"({len(files)} files) in {time.perf_counter() - t0:.1f} s"
            )
        else:
            files = sorted(str(f) for f in args.world.glob("*.nc"))
        src = open_cam5(files)
        mb = sum(src[v].nbytes for v in VARS) / 1e6
        print(
            f"source: {len(files)} files, {src.sizes['time']} times x {src.sizes['lat']} x "
            f"{src.sizes['lon']}, U850+V850+PSL = {mb:.1f} MB; basin {args.basin}, "
            f"shape {tuple(args.shape)}, best of {args.repeat}"
        )

        def plain() -> None:
            with xr.open_mfdataset(
                files, combine="by_coords", data_vars="minimal", coords="minimal", compat="override"
            ) as ds:
                ds[VARS].load()

        counter = iter(range(10**6))

        def prepare() -> None:
            out = tmp / f"tiles{next(counter)}.zarr"
            prepare_tiles(files, [args.basin], tuple(args.shape), out, progress=False)
            shutil.rmtree(out)

        rows = [
            ("open_mfdataset.load", plain),
            ("open_cam5.load", lambda: open_cam5(files)[VARS].load()),
            ("tile_basin.load", lambda: tile_basin(open_cam5(files), args.basin).load()),
            (
                "tile_basin(shape).load",
                lambda: tile_basin(open_cam5(files), args.basin, tuple(args.shape)).load(),
            ),
            ("prepare_tiles", prepare),
        ]
        results = {name: best_of(fn, args.repeat) for name, fn in rows}
        ref = results["open_mfdataset.load"]
        print(f"{'step':26s} {'seconds':>8s} {'MB/s':>8s} {'vs open_mfdataset':>18s}")
        for name, sec in results.items():
            print(f"{name:26s} {sec:8.2f} {mb / sec:8.1f} {ref / sec:17.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
