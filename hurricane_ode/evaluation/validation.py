"""The validator ``hurricane-ode train`` runs: held-out windows from the data config.

Builds the clips (whole basins, never crops) and hands them to
:func:`hurricane_ode.training.validation.window_validator`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from hurricane_ode.config import Config
from hurricane_ode.training.validation import window_validator

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = ["validator_from_config"]


def validator_from_config(config: Config, seed: int | None = None) -> Callable | None:
    """The validator ``hurricane-ode train`` uses, or None when ``train.validate_every`` is 0.

    Windows come from ``data.validation_path`` (a tile store, whole basins, every frame) when
    set, else from the ``test`` split of ``config.data`` (whole basins).
    """
    if not config.train.validate_every:
        return None
    from dataclasses import replace

    from hurricane_ode.data.sources import build_dataset

    seed = config.train.seed if seed is None else seed
    data = config.data
    vpath = getattr(data, "validation_path", None)
    if vpath:
        from hurricane_ode.data.combined import split_store_spec
        from hurricane_ode.data.tile_dataset import TileClipDataset

        train_set = build_dataset(data, "train", seed)
        store, basin = split_store_spec(vpath, data.basin)
        ds: Dataset = TileClipDataset(store, basin, list(data.variables), data.sampling, split="all",
                             clips_per_epoch=None, seed=seed + 1, cache=True)  # fmt: skip
        stats = getattr(train_set, "stats", None)
        if stats is not None and hasattr(ds, "set_stats"):
            ds.set_stats(stats() if callable(stats) else stats)
    else:
        ds = build_dataset(replace(data, crop=None), "test", seed + 1)
    psl = list(data.variables).index("PSL") if "PSL" in data.variables else None
    return window_validator(ds, n_windows=getattr(data, "validation_windows", 16), focus_channel=psl)
