#!/usr/bin/env bash
# Create .venv (if needed) and install hurricane_ode with its development extras.
#
# torch is installed first, pinned to the CPU build 2.13.0 unless TORCH_SPEC says
# otherwise (e.g. TORCH_SPEC='torch==2.13.0' or a CUDA build you installed yourself):
# the project's own requirement is a range, so an already-installed torch is kept and
# pip never pulls a multi-GB CUDA wheel behind your back.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_SPEC=${TORCH_SPEC:-torch==2.13.0}
EXTRAS=${EXTRAS:-dev}

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
if ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
  echo "setup: installing $TORCH_SPEC"
  "$VENV/bin/python" -m pip install --quiet "$TORCH_SPEC"
fi
stamp="$VENV/.hurricane_ode-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing hurricane_ode[$EXTRAS] (editable)"
  "$VENV/bin/python" -m pip install --quiet -e ".[$EXTRAS]"
  # LPIPS: only the published linear-layer weights are read from the lpips wheel; its own code
  # imports torchvision (which does not import beside the CPU torch), so install it without deps.
  "$VENV/bin/python" -m pip install --quiet --no-deps "lpips==0.1.4"
  touch "$stamp"
fi
"$VENV/bin/python" -c "import torch, hurricane_ode; print(f'setup: ok (torch {torch.__version__}, hurricane_ode {hurricane_ode.__version__})')"
