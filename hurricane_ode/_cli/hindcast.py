"""``hurricane-ode hindcast``: forecasts from many initial times into one (init_time, lead_time) file."""

from __future__ import annotations

import argparse

HELP = "forecast from many initial times (batched) into one NetCDF/Zarr for verification"
DESCRIPTION = (
    "Run a checkpoint, or any registered model such as persistence or advection, from many "
    "initial times and write U850/V850 (m s-1) and PSL (Pa) on (init_time, lead_time, lat, lon) "
    "with a 2-D valid_time, CF-1.8, as NetCDF (.nc) or Zarr (.zarr). Score it with "
    "`hurricane-ode score`. Times are ISO times in the data's calendar (CAM5: noleap)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``hurricane-ode hindcast``."""
    parser.add_argument("--basin", required=True,
                        help="basin name (natl, wpac, ...) or 'bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX'")
    parser.add_argument("--input", nargs="+", required=True, metavar="PATH",
                        help="CAM5 history file(s), directories or quoted globs, or a tile store (*.zarr)")
    parser.add_argument("--init", required=True, metavar="TIMES",
                        help="initial times: ISO times and START/END/STEP ranges, e.g. "
                             "2005-08-24T00/2005-08-30T00/12h")
    parser.add_argument("--lead", required=True, metavar="LEADS",
                        help="lead times after each initial time, e.g. 0/48h/3h or 0,6h,12h")
    parser.add_argument("--input-offsets", metavar="OFFSETS",
                        help="input frames as offsets from each initial time, e.g. -24h,-15h,-9h,-6h,0h "
                             "(default: the last n_inputs frames at or before it)")
    parser.add_argument("--checkpoint", metavar="FILE",
                        help="checkpoint file or run directory (default without --model: the shipped demo model)")
    parser.add_argument("--model", metavar="NAME",
                        help="a registered parameter-free model run without a checkpoint (persistence, "
                             "advection); its normalisation statistics are computed from the inputs. 'truth' "
                             "writes the inputs' own fields at the valid times: the reference `hurricane-ode "
                             "misses --truth-scores` needs, scored like any hindcast")
    parser.add_argument("--shape", nargs=2, type=int, metavar=("H", "W"),
                        help="tile shape for --model runs on CAM5 files (default: native resolution)")
    parser.add_argument("--batch-size", type=int, default=16, help="initial times per forward pass")
    parser.add_argument("--output", required=True, metavar="FILE", help="output .nc or .zarr")
    parser.add_argument("--overwrite", action="store_true", help="replace the output if it exists")
    parser.add_argument("--device", default="cpu", help="torch device: cpu, cuda or cuda:N")


def run(args: argparse.Namespace) -> int:
    """Run the hindcast and write it."""
    import time

    from hurricane_ode.forecasting import hindcast, load_forecaster
    from hurricane_ode.io import check_output, write_dataset

    output = check_output(args.output, args.overwrite)  # fail before any work
    t0 = time.perf_counter()
    fc = load_forecaster(args.checkpoint, device=args.device) if args.checkpoint or not args.model else None
    inputs = args.input[0] if len(args.input) == 1 else args.input
    ds = hindcast(fc, inputs, args.basin, args.init, args.lead, args.input_offsets, args.model,
                  shape=tuple(args.shape) if args.shape else None, batch_size=args.batch_size,
                  device=args.device)
    ds.attrs["history"] += "; hurricane-ode hindcast"
    path = write_dataset(ds, output, overwrite=args.overwrite)
    lead = ds["forecast_period"].values
    print(f"wrote {path} in {time.perf_counter() - t0:.1f} s")
    print(f"  model {ds.attrs['model']} ({ds.attrs['checkpoint']}); normalisation {ds.attrs['normalisation']}")
    print(f"  basin {ds.attrs['basin']}: {', '.join(map(str, ds.data_vars))} on {ds.sizes['lat']} x {ds.sizes['lon']}")
    print(f"  {ds.sizes['init_time']} initial time(s) {ds.init_time.values[0]} .. {ds.init_time.values[-1]}; "
          f"{lead.size} lead(s) {lead.min():g} .. {lead.max():g} h")
    print(f"  inputs: {ds.attrs['input_selection']}")
    return 0
