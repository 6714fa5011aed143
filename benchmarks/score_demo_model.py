"""Held-out MSE of a checkpoint (default: the shipped demo model) beside persistence, per lead time.

Scores every test-split window of the demo world's natl tiles (the last 20 % of the time axis,
never seen in training) with the sampling the checkpoint was trained with, seed 0.

    python benchmarks/score_demo_model.py [--checkpoint FILE]
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from hurricane_ode.data.clips import collate_clips
from hurricane_ode.data.sources import build_dataset
from hurricane_ode.forecasting import load_forecaster
from hurricane_ode.models.base import reference_frames


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", default=None, help="checkpoint (default: the shipped demo model)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    fc = load_forecaster(args.checkpoint)
    data = fc.config.data
    data.clips_per_epoch = None  # every test window once, in time order
    ds = build_dataset(data, split="test", seed=args.seed)
    clips = [ds[i] for i in range(len(ds))]
    std = np.array([fc.stats[v][1] for v in fc.variables])
    sums = {"vid_ode": 0.0, "persistence": 0.0}
    with torch.no_grad():
        for start in range(0, len(clips), 16):
            b = collate_clips(clips[start : start + 16])
            pred = fc.model(b.inputs, b.input_times, b.target_times, b.input_mask).frames
            pers = reference_frames(b.inputs, b.input_times, b.input_mask, b.target_times)
            pers = pers[:, None].expand_as(b.targets)
            for name, x in (("vid_ode", pred), ("persistence", pers)):
                err = ((x - b.targets) ** 2).mean(dim=(3, 4)).sum(0).numpy()  # [K, C]
                sums[name] = sums[name] + err
    n = len(clips)
    leads = clips[0].target_times - clips[0].input_times[-1]
    print(f"{n} held-out clips; checkpoint {fc.source} (sha256 {fc.digest[:12]})")
    print(f"{'lead h':>7} | {'MSE norm vid_ode':>16} {'persistence':>12} | {'PSL RMSE hPa vid_ode':>20} {'persistence':>12}")
    for k, lead in enumerate(leads.tolist()):
        m = {name: sums[name][k] / n for name in sums}
        psl = fc.variables.index("PSL")
        r = {name: np.sqrt(m[name][psl]) * std[psl] / 100 for name in m}
        print(f"{lead:7.1f} | {m['vid_ode'].mean():16.4f} {m['persistence'].mean():12.4f} | "
              f"{r['vid_ode']:20.2f} {r['persistence']:12.2f}")
    tot = {name: sums[name].mean() / n for name in sums}
    print(f"{'mean':>7} | {tot['vid_ode']:16.4f} {tot['persistence']:12.4f}")


if __name__ == "__main__":
    main()
