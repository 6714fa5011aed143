#!/usr/bin/env bash
# Figure 6 of the paper on a held-out world: error vs input sampling rate, the same initial
# times for every rate and every model, through the CLI (hindcast + score).
#
#   bash scripts/sampling_rate_heldout.sh [CHECKPOINT] [WORLD_DIR]
#
# Five inputs ending at each initial time, spaced so that they cover 12, 24 or 48 h: the
# fraction of the 3-hourly frames that are observed is 1, 0.5 or 0.25. Writes
# build/eval/<world>/rates/results.csv (model, sampling_rate, mse, ssim) and the figure
# build/eval/<world>/rates/error_vs_rate.png.
set -euo pipefail
cd "$(dirname "$0")/.."
HO=${HO:-.venv/bin/hurricane-ode}
PY=${PY:-.venv/bin/python}
CKPT=${1:-hurricane_ode/resources/demo_model.pt}
W=${2:-build/worlds/heldout/heldout_a_s9001_1deg}
W=${W%/}
OUT=${OUT:-build/eval/$(basename "$W")/rates}
BASELINES=${BASELINES-persistence advection_lk}   # "" reuses the baselines' hindcasts already in $OUT
INIT=${INIT:-2005-08-03T00/2005-08-18T12/12h}
LEAD=${LEAD:-3h/48h/3h}
SCORE_ONLY=${SCORE_ONLY:-0}   # 1: re-score the hindcasts already in $OUT
mkdir -p "$OUT"
declare -A OFFSETS=([1.0]="-12h,-9h,-6h,-3h,0h" [0.5]="-24h,-18h,-12h,-6h,0h" [0.25]="-48h,-36h,-24h,-12h,0h")
for rate in 1.0 0.5 0.25; do
  common=(--basin natl --input "$W" --init "$INIT" --lead "$LEAD" --input-offsets="${OFFSETS[$rate]}" --overwrite --batch-size 8)
  if [ "$SCORE_ONLY" != 1 ]; then
    "$HO" hindcast "${common[@]}" --checkpoint "$CKPT" --output "$OUT/vid_ode_$rate.nc"
    for m in $BASELINES; do
      "$HO" hindcast "${common[@]}" --model "$m" --shape 60 160 --output "$OUT/${m}_$rate.nc"
    done
  fi
  for m in vid_ode persistence advection_lk; do
    "$HO" score --hindcast "$OUT/${m}_$rate.nc" --truth "$W" --no-lpips --no-track-scores \
        --output "$OUT/s_${m}_$rate" --overwrite
  done
done
"$PY" - "$OUT" <<'PY'
import sys
from pathlib import Path
import pandas as pd
out = Path(sys.argv[1])
rows = []
for d in sorted(out.glob("s_*_*")):
    model, rate = d.name[2:].rsplit("_", 1)
    t = pd.read_csv(d / "scores.csv")
    nm = t[[c for c in t.columns if c.startswith("nmse_")]].mean(axis=1).mean()
    ss = t[[c for c in t.columns if c.startswith("ssim_")]].mean(axis=1).mean()
    rows.append({"model": model, "sampling_rate": float(rate), "mse": nm, "ssim": ss})
df = pd.DataFrame(rows).sort_values(["model", "sampling_rate"])
df.to_csv(out / "results.csv", index=False)
piv = df.pivot(index="model", columns="sampling_rate", values="mse")
print("| model | " + " | ".join(f"rate {r:g}" for r in piv.columns) + " |")
print("|---|" + "---|" * len(piv.columns))
for m, row in piv.iterrows():
    print(f"| {m} | " + " | ".join(f"{v:.4f}" for v in row) + " |")
PY
"$HO" plot curves --table "$OUT/results.csv" --metrics mse,ssim --output "$OUT/error_vs_rate.png"
