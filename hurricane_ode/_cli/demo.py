"""``hurricane-ode demo``: the README's main job, offline, with the shipped demo model."""

from __future__ import annotations

import argparse

from hurricane_ode._cli._types import HelpFormatter

HELP = "run the built-in demo: forecast a synthetic North Atlantic storm, write NetCDF + PNG map"
DESCRIPTION = (
    "Make (or reuse from the cache) the synthetic demo world, tile the North Atlantic, forecast "
    "8 frames at 3-hourly steps from 5 irregularly timed inputs with the shipped demo model, and "
    "write the forecast (CF NetCDF) and a wind-vector map (PNG) into --output. Offline; cache "
    "under $HURRICANE_ODE_CACHE (default ~/.cache/hurricane_ode). Re-running replaces the "
    "demo's own two files."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = HelpFormatter
    parser.add_argument(
        "--output", default="demo_output", metavar="DIR",
        help="directory for forecast_natl.nc and forecast_natl.png (created if missing)",
    )  # fmt: skip
    parser.add_argument(
        "--checkpoint", default=None, metavar="FILE",
        help="use this checkpoint instead of the shipped demo model (a fully convolutional one runs on the "
        "whole basin at its grid spacing; a fixed-size one must take the demo's 32 x 64 natl tiles)",
    )  # fmt: skip
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args: argparse.Namespace) -> int:
    from hurricane_ode.demo import run_demo

    result = run_demo(args.output, progress=not args.quiet, checkpoint=args.checkpoint)
    print(f"forecast: {result.forecast}")
    print(f"map:      {result.map_png}")
    print(f"(demo world cached in {result.world}; tiles in {result.tiles})")
    return 0
