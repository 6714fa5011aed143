"""How much of each forecast comes from the warped frame: Vid-ODE's composition mask by lead.

    python scripts/mask_by_lead.py WORLD_DIR CKPT [CKPT ...] [--basin natl] [--n-inits 8]

Eq. 2 blends, at every output, the warped frame (mask M = 1; with the flow prior, advection
of the reference frame) and the other path (M = 0: ``X_{s_i-1} + D`` with ``composition:
residual``, ``D`` in the paper). Hindcasts ``--n-inits`` evenly spaced initial times of the world's
CAM5 files (inputs at -24, -15, -9, -6, 0 h) and prints, for each checkpoint, the mean of M over
the basin and the share of pixels with M < 0.5 at each lead. A mask drifting to 0 at long leads
means the forecast there is built by the decoder's increments rather than by moving the last
observed field, which is where vortices get smoothed.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from hurricane_ode.forecasting.hindcasting import hindcast
from hurricane_ode.forecasting.inputs import open_basin_fields
from hurricane_ode.models.inference import load_forecaster

LEADS_H = (3, 6, 12, 24, 48)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("world", type=Path, help="world folder with CAM5 files")
    p.add_argument("checkpoints", nargs="+", type=Path)
    p.add_argument("--basin", default="natl")
    p.add_argument("--n-inits", type=int, default=8)
    args = p.parse_args()
    files = sorted(str(f) for f in args.world.glob("*.nc"))
    if not files:
        raise SystemExit(f"{args.world}: no .nc files (expected a world folder of CAM5 history files)")
    print("checkpoint | " + " | ".join(f"mean M {h} h" for h in LEADS_H) + " | " +
          " | ".join(f"M<0.5 {h} h" for h in LEADS_H))  # fmt: skip
    for ckpt in args.checkpoints:
        fc = load_forecaster(ckpt)
        times = open_basin_fields(files, args.basin, list(fc.config.data.variables), None, "mask_by_lead")["time"].values
        usable = times[8 : len(times) - 16]  # room for 24 h of inputs and 48 h of leads at 3 h output
        inits = list(usable[np.linspace(0, len(usable) - 1, args.n_inits).round().astype(int)])
        masks: list[torch.Tensor | None] = []
        hook = fc.model.register_forward_hook(lambda mod, a, out, sink=masks: sink.append(out.mask))
        try:
            hindcast(fc, files, args.basin, inits, list(LEADS_H), "-24h,-15h,-9h,-6h,0h", batch_size=8)
        finally:
            hook.remove()
        if not masks or any(x is None for x in masks):
            raise SystemExit(f"{ckpt}: the model has no composition mask")
        m = torch.cat([x.detach().float() for x in masks if x is not None])  # [N, K, 1, H, W]
        mean = m.mean(dim=(0, 2, 3, 4)).tolist()
        low = (m < 0.5).float().mean(dim=(0, 2, 3, 4)).tolist()
        print(f"{ckpt} | " + " | ".join(f"{v:.3f}" for v in mean) + " | " + " | ".join(f"{v:.3f}" for v in low))


if __name__ == "__main__":
    main()
