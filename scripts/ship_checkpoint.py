"""Turn a training checkpoint into the shipped inference checkpoint.

    python scripts/ship_checkpoint.py runs/skill_model/best.pt hurricane_ode/resources/demo_model.pt \
        --grid-spacing 1.0

Keeps what inference reads (format version, package version, config, normalisation stats,
generator weights, the step and validation record) and drops the optimiser, scheduler,
discriminator and RNG state, which only resuming needs. ``--grid-spacing`` writes
``model.grid_spacing_deg`` (inference only: the basin grid the model forecasts on) into the
saved config. Written to a temporary name, then renamed.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

KEEP = ("format_version", "package_version", "config", "stats", "model", "step", "epoch", "metrics", "best")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", type=Path)
    p.add_argument("target", type=Path)
    p.add_argument("--grid-spacing", type=float, default=None, help="model.grid_spacing_deg (degrees)")
    args = p.parse_args()
    state = torch.load(args.source, map_location="cpu", weights_only=True)
    out = {k: state[k] for k in KEEP if k in state}
    if args.grid_spacing is not None:
        if not args.grid_spacing > 0:
            raise SystemExit(f"--grid-spacing must be > 0, got {args.grid_spacing}")
        out["config"]["model"]["grid_spacing_deg"] = float(args.grid_spacing)
    tmp = args.target.with_name(f".{args.target.name}.tmp-{os.getpid()}")
    torch.save(out, tmp)
    os.replace(tmp, args.target)
    print(f"{args.target}: step {out.get('step')}, {args.target.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
