"""Writing experiment results: atomic CSV/JSON/YAML files and the run record."""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

__all__ = ["write_csv", "write_json", "write_yaml", "git_commit", "environment_record"]


def _replace(tmp: Path, path: Path) -> Path:
    os.replace(tmp, path)
    return path


def write_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """``df`` to ``path`` via a temporary file in the same directory (NaN written as empty)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    df.to_csv(tmp, index=False)
    return _replace(tmp, path)


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, Path):
        return str(x)
    if hasattr(x, "item") and not isinstance(x, str):
        try:
            x = x.item()
        except (ValueError, AttributeError):
            return str(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None  # strict JSON has no NaN/inf
    if x is None or isinstance(x, bool | int | float | str):
        return x
    return str(x)


def write_json(obj: Any, path: str | Path) -> Path:
    """Strict JSON (NaN -> null) via a temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_jsonable(obj), indent=2) + "\n")
    return _replace(tmp, path)


def write_yaml(obj: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(yaml.safe_dump(_jsonable(obj), sort_keys=False))
    return _replace(tmp, path)


def git_commit() -> dict[str, Any]:
    """``{"commit": sha | None, "dirty": bool | None}`` of the source tree holding the package."""
    root = Path(__file__).resolve().parents[2]
    try:
        sha = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10
        )
        if sha.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        dirty = bool(status.stdout.strip()) if status.returncode == 0 else None
        return {"commit": sha.stdout.strip(), "dirty": dirty}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def environment_record() -> dict[str, Any]:
    """Package, torch and python versions, platform, git commit, UTC time."""
    import torch

    from hurricane_ode import __version__

    return {
        "hurricane_ode_version": __version__,
        "git": git_commit(),
        "torch_version": torch.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
