#!/usr/bin/env bash
# Score a checkpoint beside persistence, advection and advection_lk on held-out worlds, with the
# CLI only (issue 13, item 5): `hurricane-ode hindcast` + `hurricane-ode score`, then the tables.
#
#   bash scripts/evaluate_heldout.sh [CHECKPOINT] [WORLD_DIR ...]
#
# Defaults: the shipped model; build/worlds/heldout/* (made by scripts/build_training_data.sh).
# Every model sees the same initial times (every 12 h), the same irregular inputs
# (-24h,-15h,-9h,-6h,0h) and leads 3..48 h, on the model's 1-degree grid (0.5-degree worlds are
# regridded conservatively, truth included). Writes build/eval/<world>/{<model>.nc,scores_<model>*/}
# and prints the tables (python scripts/heldout_tables.py build/eval/<world>).
set -euo pipefail
cd "$(dirname "$0")/.."
HO=${HO:-.venv/bin/hurricane-ode}
PY=${PY:-.venv/bin/python}
CKPT=${1:-hurricane_ode/resources/demo_model.pt}
shift || true
WORLDS=("$@")
[ ${#WORLDS[@]} -gt 0 ] || WORLDS=(build/worlds/heldout/*/)
INIT=${INIT:-2005-08-03T00/2005-08-18T12/12h}
LEAD=${LEAD:-3h/48h/3h}
OFFSETS=${OFFSETS:--24h,-15h,-9h,-6h,0h}
MODELS=${MODELS:-vid_ode persistence advection advection_lk truth}   # a subset reruns only those
SCORE_ONLY=${SCORE_ONLY:-0}   # 1: re-score the hindcasts already in build/eval/<world>
NAME=${NAME:-vid_ode}         # the checkpoint's files: build/eval/<world>/<NAME>.nc, scores_<NAME>/
# "truth" is the tracker on the true fields at the same valid times (POD's reference).
MODELS=${MODELS//vid_ode/$NAME}
for w in "${WORLDS[@]}"; do
  w=${w%/}
  name=$(basename "$w")
  out=build/eval/$name
  mkdir -p "$out"
  common=(--basin natl --input "$w" --init "$INIT" --lead "$LEAD" --input-offsets="$OFFSETS" --overwrite --batch-size 8)
  for m in $MODELS; do
    [ "$SCORE_ONLY" = 1 ] && break
    if [ "$m" = "$NAME" ]; then
      "$HO" hindcast "${common[@]}" --checkpoint "$CKPT" --output "$out/$NAME.nc"
    elif [ "$m" = truth ]; then
      [ -e "$out/truth.nc" ] || "$HO" hindcast "${common[@]}" --model truth --shape 60 160 --output "$out/truth.nc"
    else
      "$HO" hindcast "${common[@]}" --model "$m" --shape 60 160 --output "$out/$m.nc"
    fi
  done
  for m in $MODELS; do
    "$HO" score --hindcast "$out/$m.nc" --truth "$w" --tracks "$w/tracks.csv" --no-lpips \
        --output "$out/scores_$m" --overwrite
    "$HO" score --hindcast "$out/$m.nc" --truth "$w" --tracks "$w/tracks.csv" --no-lpips \
        --storm-radius 600 --no-track-scores --output "$out/scores600_$m" --overwrite
  done
  "$PY" scripts/heldout_tables.py "$out" | tee "$out/tables.md"
done
