"""Score checkpoints (and baselines) on a validation world with the verification metrics.

    python scripts/validate_checkpoints.py WORLD_DIR CKPT [CKPT ...] [--baselines advection_lk persistence] \
        [--json scores.json]

The same scores ``hurricane-ode train`` logs with ``data.validation_path: STORE::BASIN@tracks.csv``
(:func:`hurricane_ode.evaluation.storm_validation.hindcast_validator`): whole-basin hindcasts
from evenly spaced initial times, NMSE (truth-normalised), PSL RMSE, and the tracker's POD,
FAR and track error, by lead. Use it to choose between candidate checkpoints on a world kept
out of training, never on the held-out test worlds. ``--json`` writes every score of every row
(NMSE at each of ``--report-leads`` included) for ``scripts/select_checkpoint.py``.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

from hurricane_ode.evaluation.storm_validation import hindcast_validator
from hurricane_ode.models.base import build_model
from hurricane_ode.models.inference import load_forecaster

COLUMNS = ("nmse", "nmse_3h", "nmse_24h", "nmse_48h", "psl_rmse_24h", "pod_24h", "pod_init_24h", "far_24h",
           "track_error_km_24h", "follow_kept_24h", "follow_track_error_km_24h")


def _is_scores_record(path: Path) -> bool:
    """True if ``path`` holds a ``--json`` record (so re-running may replace it)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and {"world", "basin", "rows"} <= set(record)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("world", type=Path, help="world folder with CAM5 files and tracks.csv")
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--basin", default="natl")
    p.add_argument("--baselines", nargs="*", default=["advection_lk"])
    p.add_argument("--n-inits", type=int, default=16)
    p.add_argument("--report-leads", type=float, nargs="+", default=[3, 6, 12, 24, 36, 48],
                   help="leads (h) scored separately (default 3 6 12 24 36 48)")
    p.add_argument("--json", type=Path, default=None, help="write {row: {score: value}} here")
    args = p.parse_args()
    if args.json is not None and args.json.exists() and not _is_scores_record(args.json):
        p.error(f"--json {args.json}: exists and is not a scores file this script wrote; not replacing it")
    files = sorted(str(f) for f in args.world.glob("*.nc"))
    rows = {}
    first = None
    for ckpt in args.checkpoints:
        fc = load_forecaster(ckpt)
        first = first or fc
        stats = {v: {"mean": m, "std": s} for v, (m, s) in fc.stats.items()}
        validate = hindcast_validator(files, args.basin, args.world / "tracks.csv", fc.config, stats,
                                      n_inits=args.n_inits, report_leads_h=args.report_leads)
        rows[str(ckpt)] = validate(fc.model)
        print(str(ckpt), {k: round(v, 4) for k, v in rows[str(ckpt)].items() if k in COLUMNS}, flush=True)
    for name in args.baselines:
        cfg = replace(first.config, model=replace(first.config.model, name=name))
        stats = {v: {"mean": m, "std": s} for v, (m, s) in first.stats.items()}
        validate = hindcast_validator(files, args.basin, args.world / "tracks.csv", cfg, stats, n_inits=args.n_inits,
                                      report_leads_h=args.report_leads)
        rows[name] = validate(build_model(cfg.model))
        print(name, {k: round(v, 4) for k, v in rows[name].items() if k in COLUMNS}, flush=True)
    if args.json is not None:
        tmp = args.json.with_name(f".{args.json.name}.tmp{os.getpid()}")
        tmp.write_text(json.dumps({"world": str(args.world), "basin": args.basin, "rows": rows}, indent=1))
        os.replace(tmp, args.json)
    print("\n| model | " + " | ".join(COLUMNS) + " |\n|---|" + "---|" * len(COLUMNS))
    for name, r in rows.items():
        print(f"| {name} | " + " | ".join(f"{r.get(c, float('nan')):.4g}" for c in COLUMNS) + " |")


if __name__ == "__main__":
    main()
