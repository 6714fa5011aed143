"""``hurricane-ode forecast``: forecast U850/V850/PSL of a basin at chosen times into NetCDF/Zarr."""

from __future__ import annotations

import argparse

from hurricane_ode._cli._types import HelpFormatter

HELP = "forecast U850/V850/PSL of a basin at any times from sparse inputs; write NetCDF or Zarr"
DESCRIPTION = (
    "Forecast U850/V850 (m s-1) and PSL (Pa) of one basin at the requested times from sparse, "
    "irregularly timed input frames, and write a CF-1.8 NetCDF (.nc) or Zarr (.zarr) file. "
    "Times are ISO times in the data's own calendar (CAM5: noleap). Without --checkpoint the "
    "shipped demo model is used; without --input the built-in synthetic demo world (made on "
    "first use and cached under $HURRICANE_ODE_CACHE)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = HelpFormatter
    parser.add_argument(
        "--basin", required=True,
        help="basin name (natl, wpac, epac, nio, sio, spac ...) or 'bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX'",
    )  # fmt: skip
    when = parser.add_mutually_exclusive_group(required=True)
    when.add_argument(
        "--times", metavar="TIMES",
        help="query times: a comma list of ISO times and START/END/STEP ranges (END included), "
        "e.g. 2005-08-28T00/2005-08-29T00/3h,2005-08-30T12; between and after the inputs",
    )  # fmt: skip
    when.add_argument(
        "--init", metavar="TIME",
        help="initial time (use with --lead): the inputs are the last frames at or before it",
    )
    parser.add_argument(
        "--lead", metavar="LEADS",
        help="lead times after --init: START/END/STEP (END included) or a comma list, e.g. 0/48h/3h",
    )
    parser.add_argument(
        "--input", nargs="+", default=None, metavar="PATH",
        help="CAM5 history file(s), directories or quoted globs, or a tile store (*.zarr) made "
        "by `hurricane-ode prepare` (default: the built-in demo world)",
    )  # fmt: skip
    parser.add_argument(
        "--input-times", default=None, metavar="TIMES",
        help="which existing frames to use as inputs, same syntax as --times (default: the last "
        "n_inputs frames the model was trained with, before the first query time)",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoint", default=None, metavar="FILE",
        help="checkpoint file or training run directory (default: the shipped demo model)",
    )  # fmt: skip
    parser.add_argument(
        "--output", required=True, metavar="FILE",
        help="output file; the format follows the extension: .nc (NetCDF4) or .zarr (Zarr)",
    )  # fmt: skip
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the output if it already exists"
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device for the model: cpu, cuda or cuda:N"
    )
    parser.add_argument(
        "--quiet", action="store_true", help="no progress bar (when the demo world is made)"
    )


def run(args: argparse.Namespace) -> int:
    from hurricane_ode.errors import InputError
    from hurricane_ode.forecasting import forecast, load_forecaster
    from hurricane_ode.io import check_output, write_dataset

    if (args.init is None) != (args.lead is None):
        raise InputError("--init and --lead go together (or give --times)")
    output = check_output(args.output, args.overwrite)  # fail before any work
    fc = load_forecaster(args.checkpoint, device=args.device)
    inputs = args.input
    if inputs is None:
        from hurricane_ode.demo import demo_world

        inputs = list(demo_world(progress=not args.quiet).files)
    elif len(inputs) == 1:
        inputs = inputs[0]
    ds = forecast(fc, inputs, args.basin, args.times, args.input_times, device=args.device,
                  init_time=args.init, lead_times=args.lead)
    ds.attrs["history"] += "; hurricane-ode forecast"
    path = write_dataset(ds, output, overwrite=args.overwrite)
    lead = ds["forecast_period"].values
    print(f"wrote {path}")
    print(f"  basin {ds.attrs['basin']}: {', '.join(map(str, ds.data_vars))} on {ds.sizes['lat']} x {ds.sizes['lon']} (lat x lon)")
    print(f"  {ds.sizes['time']} time(s) {ds.time.values[0]} .. {ds.time.values[-1]} ({ds.attrs['calendar']} calendar)")
    print(f"  lead {lead.min():g} .. {lead.max():g} h after the last input {ds.init_time.values}")
    print(f"  inputs: {ds.attrs['input_times']}")
    print(f"  model: {fc.source} (sha256 {fc.digest[:12]})")
    return 0
