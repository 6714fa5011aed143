"""hurricane_ode: continuous-time forecasting of tropical cyclones with Vid-ODE.

The public API is re-exported here lazily, so ``import hurricane_ode`` stays
cheap (no torch, no xarray) until a name is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Config": "hurricane_ode.config",
    "load_config": "hurricane_ode.config",
    "Clip": "hurricane_ode.data.clips",
    "open_cam5": "hurricane_ode.data.cam5",
    "tile_basin": "hurricane_ode.data.basins",
    "get_basin": "hurricane_ode.data.basins",
    "make_synthetic_world": "hurricane_ode.data.synthetic",
    "prepare_tiles": "hurricane_ode.data.store",
    "open_tiles": "hurricane_ode.data.store",
    "TileClipDataset": "hurricane_ode.data.tile_dataset",
    "build_model": "hurricane_ode.models.base",
    "VidODE": "hurricane_ode.models.vid_ode",
    "train": "hurricane_ode.training.trainer",
    "available_models": "hurricane_ode.models.base",
    "forecast": "hurricane_ode.forecasting",
    "hindcast": "hurricane_ode.forecasting",
    "load_forecaster": "hurricane_ode.forecasting",
    "score": "hurricane_ode.verification",
    "read_tracks": "hurricane_ode.verification",
    "write_dataset": "hurricane_ode.io",
    "open_dataset": "hurricane_ode.io",
    "MetricAccumulator": "hurricane_ode.metrics",
    "LPIPS": "hurricane_ode.metrics",
    "find_centres": "hurricane_ode.verification",
    "link_tracks": "hurricane_ode.verification",
    "track_errors": "hurricane_ode.verification",
    "evaluate": "hurricane_ode.evaluation",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'hurricane_ode' has no attribute '{name}'")


def __dir__() -> list[str]:
    return sorted(__all__)
