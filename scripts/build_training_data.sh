#!/usr/bin/env bash
# Build the data that configs/skill_model.yaml trains on (issue 13): synthetic worlds with
# varied climates (configs/worlds/train.yaml, train_extra.yaml; train_eddies.yaml on a second
# background generator), a validation world, the held-out worlds
# (configs/worlds/heldout.yaml), and native 1-degree tiles of all six basins.
# Everything lands under build/ (git-ignored): build/worlds/..., build/tiles/*.zarr.
# About 5 min for the worlds and a few minutes for the tiles on 2 CPU cores; about 7 GB of disk.
# JOBS=N runs N worlds / tile stores at once (default 1; each is one process).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
HO=${HO:-.venv/bin/hurricane-ode}
JOBS=${JOBS:-1}
mkdir -p build/worlds build/tiles
"$PY" scripts/make_worlds.py configs/worlds/train.yaml configs/worlds/train_extra.yaml configs/worlds/train_eddies.yaml configs/worlds/train_gen4.yaml \
    configs/worlds/heldout.yaml configs/worlds/selection.yaml --output build/worlds --jobs "$JOBS"
# the validation world: seed 1500 (training range), kept out of training, picks best.pt
"$PY" - <<'PY'
import numpy as np
from pathlib import Path
from hurricane_ode.data.synthetic import Climate, make_synthetic_world
out = Path("build/worlds/val/val_s1500_1deg")
if not out.exists():
    make_synthetic_world(out, start="2005-08-01", days=15, resolution=1.0, seed=1500,
                         climate=Climate.sample(np.random.default_rng(1500), 1.0))
PY
tile() {  # one world's history files -> build/tiles/<world>.zarr (six basins, 1 degree)
  local n shape=()
  n=$(basename "$1")
  [ -d "build/tiles/$n.zarr" ] && return 0
  case $n in *05deg) shape=(--shape 60 160);; esac   # 0.5-degree worlds -> the model's 1-degree grid
  "$HO" prepare --input "$1/*.nc" --basin natl --basin epac --basin wpac --basin nio --basin sio \
      --basin spac "${shape[@]}" --output "build/tiles/$n.zarr" --quiet
}
export -f tile
export HO
for w in build/worlds/train/* build/worlds/train_extra/* build/worlds/train_eddies/* build/worlds/train_gen4/* build/worlds/heldout/* build/worlds/val/* build/worlds/selection/*; do
  if [ -d "$w" ]; then printf '%s\0' "$w"; fi
done | xargs -0 -n 1 -P "$JOBS" bash -c 'tile "$1"' _
echo "build_training_data: done"
