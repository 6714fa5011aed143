"""``hurricane-ode prepare``: tile CAM5 history files into a per-basin Zarr store."""

from __future__ import annotations

import argparse

from hurricane_ode.errors import InputError

HELP = "tile CAM5 U850/V850/PSL files into a Zarr store, one group per ocean basin"
DESCRIPTION = (
    "Cut 60x160-degree basin tiles out of CAM5 history files at the data's native resolution "
    "(a basin at 1 degree is 60x160 cells, at 0.5 degree 120x320; --shape or --resolution coarsen "
    "on purpose, conservatively and NaN-aware) and write them, with per-variable normalisation statistics, "
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
        help="coarsen each tile conservatively to H x W cells (default: native grid)",
    )  # fmt: skip
    parser.add_argument(
        "--resolution", type=float, metavar="DEG",
        help="coarsen each tile to cells of DEG degrees (instead of --shape)",
    )  # fmt: skip
    parser.add_argument(
        "--min-valid-fraction", type=float, default=0.5, metavar="F",
        help="when coarsening, a cell is missing only if less than F of its area is valid "
        "(default 0.5)",
    )  # fmt: skip
    parser.add_argument("--output", metavar="STORE", help="output Zarr store, e.g. tiles.zarr")
    parser.add_argument(
        "--scheduler", metavar="ADDRESS",
        help="threads (default), processes, sync, local[:N] (a dask.distributed LocalCluster of "
        "N worker processes) or a scheduler address tcp://host:8786",
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
        raise InputError("--input is required (files, a directory or a quoted glob)")
    if not args.output:
        raise InputError("--output is required (path of the Zarr store to write)")

    from hurricane_ode.data.store import prepare_tiles, read_norm_stats

    basins = args.basin or ["natl"]
    if args.shape and args.resolution is not None:
        raise InputError("give --shape or --resolution, not both")
    if not 0.0 < args.min_valid_fraction <= 1.0:
        raise InputError(f"--min-valid-fraction must be in (0, 1], got {args.min_valid_fraction}")
    path = prepare_tiles(
        args.input,
        basins,
        tuple(args.shape) if args.shape else None,
        args.output,
        scheduler=args.scheduler,
        overwrite=args.overwrite,
        progress=not args.quiet,
        time_chunk=args.time_chunk,
        resolution=args.resolution,
        min_valid_fraction=args.min_valid_fraction,
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
        n_missing, when = int(ds.attrs.get("missing_cells", 0)), ds.attrs.get("missing_times", [])
        if n_missing:
            shown = ", ".join(map(str, when[:5])) + (" ..." if len(when) > 5 else "")
            count = int(ds.attrs.get("missing_time_count", len(when)))
            print(f"  {name}: {n_missing} missing cells (all variables) at {count} time(s): {shown}")
    return 0
