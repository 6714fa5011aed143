"""How much of each forecast comes from the warped frame: Vid-ODE's composition mask by lead.

    python scripts/mask_by_lead.py WORLD_DIR CKPT [CKPT ...] [--basin natl] [--n-inits 8]

Hindcasts ``--n-inits`` evenly spaced initial times of the world's CAM5 files (inputs at -24,
-15, -9, -6, 0 h; leads 3-48 h) and prints, for each checkpoint, the mean of Eq. 2's mask M
(1 = the warped frame), the share of pixels with M < 0.5 and, with the world's tracks.csv, the
mean of M within ``--radius-km`` of a best-track fix, at each lead
(:func:`hurricane_ode.evaluation.composition.mask_by_lead`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from hurricane_ode.evaluation.composition import mask_by_lead
from hurricane_ode.forecasting.inputs import open_basin_fields
from hurricane_ode.models.inference import load_forecaster

LEADS_H = [3, 6, 12, 24, 48]
OFFSETS = "-24h,-15h,-9h,-6h,0h"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("world", type=Path, help="world folder with CAM5 files")
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--basin", default="natl")
    p.add_argument("--n-inits", type=int, default=8)
    p.add_argument("--radius-km", type=float, default=300.0, help="'near storms': within this of a best-track fix")
    args = p.parse_args()
    files = sorted(str(f) for f in args.world.glob("*.nc"))
    if not files:
        raise SystemExit(f"{args.world}: no .nc files (expected a world folder of CAM5 history files)")
    tracks = args.world / "tracks.csv"
    tracks = tracks if tracks.exists() else None  # then no near-storm column
    print("checkpoint | " + " | ".join(f"mean M {h} h" for h in LEADS_H) + " | " +
          " | ".join(f"M<0.5 {h} h" for h in LEADS_H) +
          "".join(f" | M near storms {h} h" for h in LEADS_H if tracks))  # fmt: skip
    for ckpt in args.checkpoints:
        fc = load_forecaster(ckpt)
        times = open_basin_fields(files, args.basin, fc.variables, None, "mask_by_lead")["time"].values
        usable = times[8 : len(times) - 16]  # room for 24 h of inputs and 48 h of leads (3-hourly data)
        inits = list(usable[np.linspace(0, len(usable) - 1, args.n_inits).round().astype(int)])
        out = mask_by_lead(fc, files, args.basin, inits, LEADS_H, OFFSETS, tracks=tracks, radius_km=args.radius_km)
        names = ["mask_mean", "decoder_share"] + (["mask_near_storms"] if tracks else [])
        cells = [f"{v:.3f}" for name in names for v in out[name].values]
        print(f"{ckpt} | " + " | ".join(cells))


if __name__ == "__main__":
    main()
