"""``hurricane-ode plot``: wind-vector maps, track maps and error curves as PNG files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "draw wind-vector maps, track maps or error curves (PNG; needs the 'plot' extra)"
DESCRIPTION = (
    "Figures from forecast files and result tables. 'map': truth/forecast wind-vector maps per "
    "lead time (or the forecast alone); 'tracks': true vs forecast cyclone tracks; 'curves': "
    "metric vs sampling rate (paper Fig. 6) or vs lead time. Coastlines are read offline "
    "(set HURRICANE_ODE_NATURAL_EARTH=DIR to use your own Natural Earth shapefiles)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="figure", metavar="FIGURE", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter

    m = sub.add_parser("map", help="wind-vector maps of a forecast (and truth)", formatter_class=fmt)
    m.add_argument("--forecast", required=True, metavar="FILE",
                   help="forecast NetCDF/Zarr written by 'hurricane-ode forecast'")
    m.add_argument("--truth", metavar="STORE",
                   help="tile store (Zarr) with the true fields; omit to map the forecast alone")
    m.add_argument("--basin", help="basin group in --truth; if omitted, the forecast's 'basin' attribute")
    m.add_argument("--tracks", metavar="CSV", help="true tracks CSV to overlay (storm_id,time,lat,lon,...)")
    m.add_argument("--max-leads", type=int, metavar="N", help="plot only the first N lead times")
    m.add_argument("--error", action="store_true", help="add a forecast-minus-truth column")
    m.add_argument("--time", type=int, default=0, metavar="I",
                   help="time index to map when no --truth is given")
    m.add_argument("--stride", type=int, metavar="N", help="draw every N-th wind arrow; if omitted, about 22 arrows along the longer side")
    m.add_argument("--no-coastlines", action="store_true", help="draw no coastlines")
    m.add_argument("--output", required=True, metavar="PNG", help="output PNG file")

    t = sub.add_parser("tracks", help="true vs forecast cyclone tracks", formatter_class=fmt)
    t.add_argument("--tracks", required=True, metavar="CSV", help="true tracks CSV")
    t.add_argument("--forecast-tracks", metavar="CSV",
                   help="forecast tracks CSV (time,lat,lon[,track_id]); see also --forecast")
    t.add_argument("--forecast", metavar="FILE",
                   help="forecast NetCDF/Zarr: centres found with tracking.find_centres and "
                        "linked with tracking.link_tracks")
    t.add_argument("--basin", help="basin name or 'bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX' for the "
                                   "map extent; if omitted, the tracks' extent plus 5 degrees")
    t.add_argument("--all-times", action="store_true",
                   help="draw whole true tracks, not only the forecast's time window")
    t.add_argument("--no-coastlines", action="store_true", help="draw no coastlines")
    t.add_argument("--output", required=True, metavar="PNG", help="output PNG file")

    c = sub.add_parser("curves", help="metric curves from a results table", formatter_class=fmt)
    c.add_argument("--table", required=True, metavar="CSV",
                   help="results CSV: model, sampling_rate or lead_time_h, metric columns")
    c.add_argument("--kind", choices=("sampling-rate", "lead"), default="sampling-rate",
                   help="x axis: input sampling rate (%%) or lead time (h)")
    c.add_argument("--metrics", default="mse,lpips",
                   help="comma-separated metric columns (for --kind lead the first is used)")
    c.add_argument("--output", required=True, metavar="PNG", help="output PNG file")


def _open(path: str):
    import xarray as xr

    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"forecast file not found: {p}")
    if p.is_dir() or p.suffix == ".zarr":
        return xr.open_zarr(p, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    return xr.open_dataset(p, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))


def _map(args: argparse.Namespace) -> Path:
    from hurricane_ode.plotting._common import save_png
    from hurricane_ode.plotting.maps import plot_forecast_maps, plot_wind_map

    fc = _open(args.forecast)
    if args.truth is None:
        ax = plot_wind_map(fc, time=args.time, stride=args.stride, coastlines=not args.no_coastlines)
        return save_png(ax.figure, args.output)
    from hurricane_ode.data.store import open_tiles

    basin = args.basin or fc.attrs.get("basin")
    if not basin:
        raise ValueError("--basin is needed: the forecast file has no 'basin' attribute")
    truth = open_tiles(args.truth, basin)
    return plot_forecast_maps(fc, truth, args.output, tracks=args.tracks, max_leads=args.max_leads,
                              error=args.error, stride=args.stride,
                              coastlines=not args.no_coastlines)


def _tracks(args: argparse.Namespace) -> Path:
    from hurricane_ode.plotting.maps import plot_track_map

    forecast_tracks = args.forecast_tracks
    if forecast_tracks is None and args.forecast is not None:
        from hurricane_ode.tracking import find_centres, link_tracks

        forecast_tracks = link_tracks(find_centres(_open(args.forecast).load()))
    return plot_track_map(args.tracks, forecast_tracks, args.output, basin=args.basin,
                          coastlines=not args.no_coastlines,
                          restrict_to_forecast=not args.all_times)


def _curves(args: argparse.Namespace) -> Path:
    from hurricane_ode.plotting.curves import plot_error_vs_lead, plot_sampling_rate_curves

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not metrics:
        raise ValueError("--metrics: give at least one metric column")
    if args.kind == "lead":
        return plot_error_vs_lead(args.table, args.output, metric=metrics[0])
    return plot_sampling_rate_curves(args.table, args.output, metrics=metrics)


def run(args: argparse.Namespace) -> int:
    from hurricane_ode.plotting.coastlines import CoastlineDataError, PlotDependencyError

    try:
        out = {"map": _map, "tracks": _tracks, "curves": _curves}[args.figure](args)
    except (PlotDependencyError, CoastlineDataError) as exc:
        print(f"hurricane-ode plot: error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0
