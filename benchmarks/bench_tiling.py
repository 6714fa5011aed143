"""Tiling throughput and memory: prepare_tiles against a plain ``open_mfdataset(...).load()``.

Usage::

    python benchmarks/bench_tiling.py                                # 30-day 0.5-degree world, synthesised
    python benchmarks/bench_tiling.py --resolution 0.25 --days 30    # the paper's grid, ~3 GB of NetCDF
    python benchmarks/bench_tiling.py --world DIR --repeat 3 --scheduler local:2

Every figure is "MB/s read": the bytes of U850+V850+PSL on the *global* source grid divided by
wall time (the same numerator for every row, so the ratios compare like with like). Each row
runs in a fresh process (spawn), and "peak RSS" is that process's own high-water mark
(``VmHWM``; ``ru_maxrss`` would also count the parent's resident set at the fork). Rows:

* ``open_mfdataset.load``: xarray.open_mfdataset(files)[U850, V850, PSL].load() (reference)
* ``prepare natl (native)``: one basin at the data's resolution (the default)
* ``prepare natl -> HxW``: one basin coarsened to ``--shape`` (conservative, NaN-aware)
* ``prepare 6 basins (native)``: every bundled basin from one pass over each file

Targets (issue 11): one basin >= 1.5x the plain read, six basins >= 0.8x, peak RSS < 2 GB.
Best of ``--repeat`` runs; the OS page cache is warm after the first run of each.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import shutil
import tempfile
import time
from pathlib import Path

VARS = ["U850", "V850", "PSL"]
SIX = ["wpac", "natl", "sio", "spac", "epac", "nio"]


def _plain(files: list[str], out: str, args: dict) -> None:
    import xarray as xr

    with xr.open_mfdataset(
        files, combine="by_coords", data_vars="minimal", coords="minimal", compat="override"
    ) as ds:
        ds[VARS].load()


def _prepare(files: list[str], out: str, args: dict) -> None:
    from hurricane_ode.data.store import prepare_tiles

    prepare_tiles(files, args["basins"], args["shape"], out, progress=False,
                  scheduler=args["scheduler"])  # fmt: skip


def _child(fn, files, out, args, queue) -> None:  # noqa: ANN001 - runs in the spawned process
    import xarray  # noqa: F401 - imports are not part of the timed work

    import hurricane_ode.data.store  # noqa: F401
    import hurricane_ode.data.tiling  # noqa: F401

    t0 = time.perf_counter()
    fn(files, out, args)
    seconds = time.perf_counter() - t0
    queue.put((seconds, peak_rss_mib()))


def peak_rss_mib() -> float:
    """This process's peak resident set, MiB: ``VmHWM`` where Linux has it, else ``ru_maxrss``.

    ``ru_maxrss`` survives ``execve``: a spawned child reports at least the resident set its
    parent had when it forked (here, the synthesised world), whatever the child itself used.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_row(fn, files: list[str], tmp: Path, args: dict, repeat: int) -> tuple[float, float]:  # noqa: ANN001
    """Best wall time and the largest peak RSS (MiB) over ``repeat`` fresh processes."""
    ctx = mp.get_context("spawn")
    best, peak = float("inf"), 0.0
    for k in range(repeat):
        out = tmp / f"tiles_{fn.__name__}_{k}.zarr"
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(fn, files, str(out), args, queue))
        proc.start()
        seconds, rss = queue.get()
        proc.join()
        if proc.exitcode:
            raise RuntimeError(f"{fn.__name__} failed with exit code {proc.exitcode}")
        shutil.rmtree(out, ignore_errors=True)
        best, peak = min(best, seconds), max(peak, rss)
    return best, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", type=Path, help="folder of CAM5 *.nc files (default: synthesise)")
    parser.add_argument("--days", type=float, default=30.0, help="days of synthetic world")
    parser.add_argument("--resolution", type=float, default=0.5, help="synthetic grid, degrees")
    parser.add_argument("--basin", default="natl")
    parser.add_argument("--shape", nargs=2, type=int, default=[64, 64], metavar=("H", "W"))
    parser.add_argument("--scheduler", default=None, help="prepare_tiles scheduler (default threads)")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench_tiling_"))
    try:
        if args.world is None:
            from hurricane_ode.data.synthetic import make_synthetic_world

            t0 = time.perf_counter()
            world = make_synthetic_world(tmp / "world", days=args.days, resolution=args.resolution,
                                         progress=False)  # fmt: skip
            files = [str(f) for f in world.files]
            print(f"synthesised {args.days:g} days at {args.resolution:g} deg ({len(files)} files) "
                  f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip
        else:
            files = sorted(str(f) for f in args.world.glob("*.nc"))
        from hurricane_ode.data.cam5 import open_cam5

        src = open_cam5(files)
        mb = sum(src[v].nbytes for v in VARS) / 1e6
        on_disk = sum(Path(f).stat().st_size for f in files) / 1e6
        print(f"source: {len(files)} files ({on_disk:.0f} MB on disk), {src.sizes['time']} times x "
              f"{src.sizes['lat']} x {src.sizes['lon']}, U850+V850+PSL = {mb:.1f} MB; "
              f"scheduler {args.scheduler or 'threads'}; best of {args.repeat}")  # fmt: skip
        h, w = args.shape
        rows = [
            ("open_mfdataset.load", _plain, {}),
            (f"prepare {args.basin} (native)", _prepare,
             {"basins": [args.basin], "shape": None, "scheduler": args.scheduler}),
            (f"prepare {args.basin} -> {h}x{w}", _prepare,
             {"basins": [args.basin], "shape": (h, w), "scheduler": args.scheduler}),
            ("prepare 6 basins (native)", _prepare,
             {"basins": SIX, "shape": None, "scheduler": args.scheduler}),
        ]  # fmt: skip
        results = {name: run_row(fn, files, tmp, kw, args.repeat) for name, fn, kw in rows}
        ref = results["open_mfdataset.load"][0]
        print(f"{'step':28s} {'seconds':>8s} {'MB/s':>8s} {'vs plain':>9s} {'peak RSS MiB':>13s}")
        for name, (sec, rss) in results.items():
            print(f"{name:28s} {sec:8.2f} {mb / sec:8.1f} {ref / sec:8.2f}x {rss:13.0f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
