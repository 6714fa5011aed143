"""``hurricane-ode score``: verify a hindcast against the true fields (and best tracks)."""

from __future__ import annotations

import argparse
from typing import Any

HELP = "score a hindcast by lead time: RMSE, bias, NMSE, SSIM, PSNR, LPIPS, skill; POD/FAR/track error"
DESCRIPTION = (
    "Score a hindcast written by `hurricane-ode hindcast` against the true fields, by lead time "
    "(and initial time): RMSE and bias in physical units, normalised MSE, SSIM, PSNR, LPIPS, skill "
    "vs persistence; with best tracks (IBTrACS CSV or tracks.csv; default: a tracks.csv beside the "
    "truth files) also hits, misses, false alarms, POD, FAR, track, pressure and wind errors, and every storm "
    "followed from its initial fix through each forecast (kept fraction, track error beside "
    "best-track persistence and extrapolation on the same cases). "
    "Writes scores.nc, scores.csv, scores_by_init.csv, track_matches.csv and track_follow.csv into --output."
)


def _box(text: str) -> tuple[float, float, float, float]:
    parts = [p for p in text.split(",") if p.strip()]
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"region '{text}' must be LAT0,LAT1,LON0,LON1")
    try:
        return tuple(float(p) for p in parts)  # type: ignore[return-value]
    except ValueError:
        raise argparse.ArgumentTypeError(f"region '{text}' must be four numbers LAT0,LAT1,LON0,LON1") from None


def _tracker(text: str | None) -> dict[str, Any] | None:
    """``"min_vorticity=6e-5,radius_km=500"`` -> keyword arguments of find_centres."""
    if not text:
        return None
    import inspect

    from hurricane_ode.errors import InputError
    from hurricane_ode.verification import find_centres

    known = [n for n in inspect.signature(find_centres).parameters if n != "ds"]
    out: dict[str, Any] = {}
    for item in (i.strip() for i in text.split(",") if i.strip()):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in known:
            raise InputError(f"--tracker: unknown key '{key}'; known: {', '.join(known)}")
        try:
            if key == "refine":
                out[key] = value.strip().lower() in ("1", "true", "yes", "on")
            elif value.strip().lower() == "none" and key in ("psl_threshold_pa", "min_anomaly_pa"):
                out[key] = None
            else:
                out[key] = int(value) if key == "n_bearings" else float(value)
        except ValueError:
            raise InputError(f"--tracker: '{item}' needs a number, e.g. {key}=1e-4") from None
    return out


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``hurricane-ode score``."""
    parser.add_argument("--hindcast", required=True, metavar="FILE", help="hindcast .nc or .zarr")
    parser.add_argument("--truth", nargs="+", required=True, metavar="PATH",
                        help="true fields: CAM5 file(s) / directory / glob, or a tile store (*.zarr)")
    parser.add_argument("--tracks", metavar="CSV",
                        help="best tracks: IBTrACS CSV or storm_id,time,lat,lon,min_psl_pa,max_wind_ms "
                             "(default: tracks.csv beside the truth files, if any)")
    parser.add_argument("--output", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--region", type=_box, metavar="LAT0,LAT1,LON0,LON1", help="score only this box")
    parser.add_argument("--storm-radius", type=float, metavar="KM",
                        help="score only cells within KM of a best-track fix (needs tracks)")
    parser.add_argument("--no-weights", action="store_true", help="no cos(lat) area weighting")
    parser.add_argument("--no-lpips", action="store_true", help="skip LPIPS")
    parser.add_argument("--no-track-scores", action="store_true",
                        help="skip the tracker (field scores only; --tracks then serves --storm-radius)")
    parser.add_argument("--normalise", choices=("truth", "hindcast"), default="truth",
                        help="z-score statistics for NMSE/PSNR/SSIM/LPIPS: the truth's (default; the same "
                             "for every model) or the hindcast's own normalisation")
    parser.add_argument("--match-km", type=float, default=300.0,
                        help="hit radius of the track matching (km)")
    parser.add_argument("--tracker", metavar="KEY=VALUE,...",
                        help="tracker thresholds (hurricane_ode.verification.find_centres), e.g. "
                             "min_vorticity=6e-5,min_depth_pa=100 for grids coarser than 1 degree")
    parser.add_argument("--overwrite", action="store_true", help="replace existing score files")


def run(args: argparse.Namespace) -> int:
    """Score and write the tables."""
    from hurricane_ode.verification import score, write_scores

    truth = args.truth[0] if len(args.truth) == 1 else args.truth
    s = score(args.hindcast, truth, args.tracks, weights=None if args.no_weights else "coslat",
              region=args.region, storm_radius_km=args.storm_radius, lpips=not args.no_lpips,
              max_distance_km=args.match_km, tracker=_tracker(args.tracker),
              normalise=args.normalise, track_scores=not args.no_track_scores)
    paths = write_scores(s, args.output, overwrite=args.overwrite)
    print(f"wrote {', '.join(str(p) for p in paths.values())}")
    print(f"  model {s.attrs['model']}, {s.attrs['n_init_times']} initial time(s), region {s.attrs['region']}")
    for v in s["variable"].values:
        r = s["rmse"].sel(variable=v).values
        print(f"  RMSE {v} ({s['units'].sel(variable=v).item()}): " + ", ".join(
            f"{lt:g}h {x:.3g}" for lt, x in zip(s["lead_time"].values, r)))
    if "pod" in s:
        print("  POD: " + ", ".join(f"{lt:g}h {x:.2f}" for lt, x in zip(s["lead_time"].values, s["pod"].values)))
        print("  FAR: " + ", ".join(f"{lt:g}h {x:.2f}" for lt, x in zip(s["lead_time"].values, s["far"].values)))
    if "follow_kept" in s:
        rows = zip(s["lead_time"].values, s["follow_kept"].values, s["follow_track_error_km"].values,
                   s["follow_persistence_km"].values)
        print("  storms followed from their initial fix, kept / track error km (best-track persistence): "
              + ", ".join(f"{lt:g}h {k:.2f} / {e:.0f} ({p:.0f})" for lt, k, e, p in rows))
    print(f"  tracks: {s.attrs['tracks']}")
    print(f"  LPIPS: {s['lpips'].attrs.get('note', '')}")
    return 0
