"""``hurricane-ode prepare``: tile CAM5 history files into a per-basin Zarr store."""

from __future__ import annotations

import argparse

HELP = "tile CAM5 U850/V850/PSL files into a Zarr store, one group per ocean basin"
DESCRIPTION = (
    "Cut 60x160-degree basin tiles out of CAM5 history files (optionally regridded "
    "conservatively to H x W cells) and write them, with per-variable normalisation statistics, "
    "to a Zarr store with one group per basin. Streams with dask; an interrupted run resumes "
    "from <output>.tmp when re-run with the same arguments."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input", nargs="+", metavar="PATH",
        help="CAM5 NetCDF file(s), directory or quoted glob such as 'DIR/*.nc'",
    )  # fmt: skip
    parser.add_argument(
        "--basin", action="append", metavar="NAME",
        help="basin name (repeatable) or 'bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX'; default natl",
    )  # fmt: skip
    parser.add_argument(
        "--shape", nargs=2, type=int, metavar=("H", "W"),
        help="regrid each tile conservatively to H x W cells (default: native grid)",
    )  # fmt: skip
    parser.add_argument("--output", metavar="STORE", help="output Zarr store, e.g. tiles.zarr")
    parser.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="dask.distributed scheduler address (tcp://host:8786) or threads/processes/sync",
    )  # fmt: skip
    parser.add_argument(
        "--time-chunk", type=int, default=8, metavar="N", help="time steps per Zarr chunk"
    )
    parser.add_argument("--overwrite", action="store_true", help="rebuild an existing store")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--list-basins", action="store_true", help="print the known basins and exit"
    )


def run(args: argparse.Namespace) -> int:
    from hurricane_ode.data.basins import load_basins, partitions

    if args.list_basins:
        paper = set(partitions().get("paper", ()))
        for b in load_basins().values():
            tag = " [paper partition]" if b.name in paper else ""
            print(
                f"{b.name:6s} lat {b.lat_min:+6.1f}..{b.lat_max:+6.1f}  "
                f"lon {b.lon_min:6.1f}..{b.lon_max:6.1f}{tag}  {b.description}"
            )
        return 0
    if not args.input:
        raise ValueError("--input is required (files, a directory or a quoted glob)")
    if not args.output:
        raise ValueError("--output is required (path of the Zarr store to write)")

    from hurricane_ode.data.store import prepare_tiles, read_norm_stats

    basins = args.basin or ["natl"]
    path = prepare_tiles(
        args.input,
        basins,
        tuple(args.shape) if args.shape else None,
        args.output,
        scheduler=args.scheduler,
        overwrite=args.overwrite,
        progress=not args.quiet,
        time_chunk=args.time_chunk,
    )
    print(f"tile store: {path}")
    from hurricane_ode.data.basins import get_basin
    from hurricane_ode.data.store import open_tiles

    for spec in basins:
        name = get_basin(spec).name
        ds = open_tiles(path, name)
        stats = ", ".join(f"{v} {m:.6g}±{s:.3g}" for v, (m, s) in read_norm_stats(ds).items())
        print(
            f"  {name}: {ds.sizes['time']} times x {ds.sizes['lat']} x {ds.sizes['lon']}  ({stats})"
        )
    return 0
