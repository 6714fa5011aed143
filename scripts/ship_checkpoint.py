"""Turn a training checkpoint into the shipped inference checkpoint.

    python scripts/ship_checkpoint.py runs/skill_model/best.pt hurricane_ode/resources/demo_model.pt \
        --grid-spacing 1.0

    python scripts/ship_checkpoint.py runs/x/step_000002000.pt runs/x/step_000002100.pt ... TARGET

With several sources the shipped weights are their uniform average (stochastic weight
averaging, :func:`hurricane_ode.training.checkpoint.average_checkpoints`; ``averaged_steps``
records which). Keeps what inference reads (format version, package version, config, normalisation stats,
generator weights, the step and validation record) and drops the optimiser, scheduler,
discriminator and RNG state, which only resuming needs. ``--grid-spacing`` writes
``model.grid_spacing_deg`` (inference only: the basin grid the model forecasts on) into the
saved config; ``--warp-interpolation`` writes ``model.warp_interpolation`` (no weights depend on
it). Written to a temporary name, then renamed; an existing target is replaced only if
it is a hurricane_ode checkpoint.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch

from hurricane_ode.errors import InputError
from hurricane_ode.models.motion import WARP_INTERPOLATIONS
from hurricane_ode.training.checkpoint import average_checkpoints, load_checkpoint

KEEP = ("format_version", "package_version", "config", "stats", "model", "step", "epoch", "metrics", "best",
        "averaged_steps")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("sources", type=Path, nargs="+", help="checkpoint(s) of one run; several are averaged")
    p.add_argument("target", type=Path)
    p.add_argument("--grid-spacing", type=float, default=None, help="model.grid_spacing_deg (degrees)")
    p.add_argument("--warp-interpolation", choices=WARP_INTERPOLATIONS, default=None,
                   help="model.warp_interpolation of the shipped config (default: the sources')")
    args = p.parse_args()
    if len(args.sources) == 1:
        state = torch.load(args.sources[0], map_location="cpu", weights_only=True)
    else:
        state = average_checkpoints(args.sources)
    out = {k: state[k] for k in KEEP if k in state}
    if args.grid_spacing is not None:
        if not args.grid_spacing > 0:
            raise SystemExit(f"--grid-spacing must be > 0, got {args.grid_spacing}")
        out["config"]["model"]["grid_spacing_deg"] = float(args.grid_spacing)
    if args.warp_interpolation is not None:
        out["config"]["model"]["warp_interpolation"] = args.warp_interpolation
    if args.target.exists():  # replace only a checkpoint, never a file of the user's
        try:
            load_checkpoint(args.target)
        except (InputError, OSError) as exc:
            raise SystemExit(f"refusing to overwrite {args.target}: {exc}") from None
    tmp = args.target.with_name(f".{args.target.name}.tmp-{os.getpid()}")
    torch.save(out, tmp)
    os.replace(tmp, args.target)
    averaged = f" (average of steps {out['averaged_steps']})" if "averaged_steps" in out else ""
    print(f"{args.target}: step {out.get('step')}{averaged}, {args.target.stat().st_size / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
