"""``hurricane-ode plot``: wind-vector maps, track maps and error curves as PNG files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hurricane_ode.errors import InputError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

HELP = "draw wind-vector maps, track maps or error curves (PNG; needs the 'plot' extra)"
DESCRIPTION = (
    "Figures from forecast files and result tables. 'map': truth/forecast wind-vector maps per "
    "lead time (or the forecast alone), zoomable to a region or a storm; 'tracks': true vs "
    "forecast cyclone tracks; 'scores': scores vs lead time of several models (from "
    "'hurricane-ode score'); 'curves': metric vs sampling rate (paper Fig. 6) or vs lead time. Coastlines are read offline "
    "(set HURRICANE_ODE_NATURAL_EARTH=DIR to use your own Natural Earth shapefiles)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="figure", metavar="FIGURE", required=True)
    fmt = argparse.ArgumentDefaultsHelpFormatter

    m = sub.add_parser("map", help="wind-vector maps of a forecast (and truth)", formatter_class=fmt)
    m.add_argument("--forecast", required=True, metavar="FILE",
                   help="forecast NetCDF/Zarr written by 'hurricane-ode forecast', or a hindcast "
                        "(then --init picks the initial time; default the first)")
    m.add_argument("--init", metavar="TIME", help="initial time to map from a hindcast file")
    m.add_argument("--truth", nargs="+", metavar="PATH",
                   help="true fields: a tile store (Zarr) or CAM5 file(s) / glob; omit to map the forecast alone")
    m.add_argument("--basin", help="basin of --truth; if omitted, the forecast's 'basin' attribute")
    m.add_argument("--tracks", metavar="CSV",
                   help="best tracks to overlay: IBTrACS CSV or storm_id,time,lat,lon,...")
    m.add_argument("--max-leads", type=int, metavar="N", help="plot only the first N lead times")
    m.add_argument("--leads", metavar="HOURS", help="lead times to plot, e.g. 6,12,24,48 or 0/48h/12h")
    m.add_argument("--region", metavar="LAT0,LAT1,LON0,LON1", help="zoom to this lat/lon box")
    m.add_argument("--storm", metavar="ID", help="zoom on this storm of --tracks, its track overlaid")
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

    sc = sub.add_parser("scores", help="scores vs lead time of several models on one figure",
                        formatter_class=fmt)
    sc.add_argument("--scores", nargs="+", required=True, metavar="DIR",
                    help="output directories (or scores.csv files) of 'hurricane-ode score'")
    sc.add_argument("--metrics", default="rmse_PSL,rmse_U850,pod,track_error_km",
                    help="comma-separated columns of scores.csv (rmse_PSL, skill_U850, pod, far, ...)")
    sc.add_argument("--labels", help="comma-separated legend labels (default: the model names)")
    sc.add_argument("--output", required=True, metavar="PNG", help="output PNG file")

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


def _region(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None:
        return None
    parts = [p for p in text.split(",") if p.strip()]
    try:
        box = tuple(float(p) for p in parts)
    except ValueError:
        box = ()
    if len(box) != 4:
        raise InputError(f"--region '{text}' must be four numbers LAT0,LAT1,LON0,LON1")
    return box


def _as_forecast(ds, init: str | None):
    """A hindcast (init_time, lead_time, ...) -> one initial time as (time, lat, lon)."""
    if "init_time" not in ds.dims:
        return ds
    keys = [str(t)[:19].replace(" ", "T") for t in ds["init_time"].values]
    if init is None:
        n = 0
    else:
        want = init.strip().replace(" ", "T")
        match = [i for i, k in enumerate(keys) if k.startswith(want)]
        if not match:
            raise InputError(f"--init {init} is not an initial time of the hindcast ({keys[0]} .. {keys[-1]})")
        n = match[0]
    one = ds.isel(init_time=n).swap_dims({"lead_time": "valid_time"}).rename({"valid_time": "time"})
    return one.drop_vars(["lead_time"], errors="ignore")


def _map(args: argparse.Namespace) -> Figure:
    from hurricane_ode.plotting.maps import plot_forecast_maps, plot_wind_map

    fc = _as_forecast(_open(args.forecast), args.init)
    if args.truth is None:
        return plot_wind_map(fc, time=args.time, stride=args.stride,
                             coastlines=not args.no_coastlines, path=args.output)
    basin = args.basin or fc.attrs.get("basin")
    if not basin:
        raise InputError("--basin is needed: the forecast file has no 'basin' attribute")
    truth_in = args.truth[0] if len(args.truth) == 1 else args.truth
    if len(args.truth) == 1 and str(truth_in).rstrip("/").endswith(".zarr"):
        from hurricane_ode.data.store import open_tiles

        truth = open_tiles(truth_in, basin)
    else:
        from hurricane_ode.forecasting.inputs import open_basin_fields

        truth = open_basin_fields(truth_in, basin, ["U850", "V850", "PSL"],
                                  (fc.sizes["lat"], fc.sizes["lon"]), "the forecast")
    leads = None
    if args.leads:
        from hurricane_ode.forecasting.hindcasting import parse_durations

        leads = parse_durations(args.leads, "lead time")
    return plot_forecast_maps(fc, truth, args.output, tracks=args.tracks, max_leads=args.max_leads,
                              error=args.error, stride=args.stride,
                              coastlines=not args.no_coastlines, leads=leads,
                              region=_region(args.region), storm=args.storm)


def _tracks(args: argparse.Namespace) -> Figure:
    from hurricane_ode.plotting.maps import plot_track_map

    forecast_tracks = args.forecast_tracks
    if forecast_tracks is None and args.forecast is not None:
        from hurricane_ode.verification import find_centres, link_tracks

        forecast_tracks = link_tracks(find_centres(_open(args.forecast).load()))
    return plot_track_map(args.tracks, forecast_tracks, args.output, basin=args.basin,
                          coastlines=not args.no_coastlines,
                          restrict_to_forecast=not args.all_times)


def _scores(args: argparse.Namespace) -> Figure:
    from hurricane_ode.plotting.curves import plot_scores

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    labels = [x.strip() for x in args.labels.split(",")] if args.labels else None
    return plot_scores(args.scores, metrics, path=args.output, labels=labels)


def _curves(args: argparse.Namespace) -> Figure:
    from hurricane_ode.plotting.curves import plot_error_vs_lead, plot_sampling_rate_curves

    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    if not metrics:
        raise InputError("--metrics: give at least one metric column")
    if args.kind == "lead":
        return plot_error_vs_lead(args.table, args.output, metric=metrics[0])
    return plot_sampling_rate_curves(args.table, args.output, metrics=metrics)


def run(args: argparse.Namespace) -> int:
    from hurricane_ode.plotting._common import png_path
    from hurricane_ode.plotting.coastlines import CoastlineDataError, PlotDependencyError

    try:
        fig = {"map": _map, "tracks": _tracks, "curves": _curves, "scores": _scores}[args.figure](args)
    except (PlotDependencyError, CoastlineDataError) as exc:
        print(f"hurricane-ode plot: error: {exc}", file=sys.stderr)
        return 2
    fig.clear()  # written; release it (not pyplot-managed, nothing else holds it)
    print(f"wrote {png_path(args.output)}")
    return 0
