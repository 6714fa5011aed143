"""The validator ``hurricane-ode train`` runs: held-out windows from the data config.

Builds the clips (whole basins, never crops) and hands them to
:func:`hurricane_ode.training.validation.window_validator`.
"""

from __future__ import annotations

from collections.abc import Callable

from hurricane_ode.config import Config
from hurricane_ode.errors import InputError
from hurricane_ode.training.validation import window_validator

__all__ = ["validator_from_config"]


def validator_from_config(config: Config, seed: int | None = None) -> Callable | None:
    """The validator ``hurricane-ode train`` uses, or None when ``train.validate_every`` is 0.

    Windows come from ``data.validation_path`` (a tile store, whole basins, every frame) when
    set, else from the ``test`` split of ``config.data`` (whole basins). A validation path that
    names best tracks (``STORE::BASIN@tracks.csv``) is scored with the verification metrics
    instead (:func:`hurricane_ode.evaluation.storm_validation.hindcast_validator`: hindcasts
    from ``data.validation_windows`` initial times, NMSE, PSL RMSE, the tracker's POD, FAR and
    track error).
    """
    if not config.train.validate_every:
        return None
    from dataclasses import replace

    from hurricane_ode.data.sources import build_dataset

    seed = config.train.seed if seed is None else seed
    data = config.data
    vpath = getattr(data, "validation_path", None)
    if vpath:
        from hurricane_ode.data.combined import split_store_spec, store_tracks
        from hurricane_ode.data.tile_dataset import TileClipDataset

        train_set = build_dataset(data, "train", seed)
        vpath, tracks = store_tracks(vpath)
        store, basin = split_store_spec(vpath, data.basin)
        if tracks is not None:
            from hurricane_ode.evaluation.storm_validation import hindcast_validator
            from hurricane_ode.training.runlog import stats_for_checkpoint

            stats = stats_for_checkpoint(train_set)
            if stats is None:
                raise InputError("data.validation_path with best tracks needs normalisation statistics "
                                 "from the training data (a tile source)")
            return hindcast_validator(store, basin, tracks, config, stats,
                                      n_inits=getattr(data, "validation_windows", 16))
        ds = TileClipDataset(store, basin, list(data.variables), data.sampling, split="all",
                             clips_per_epoch=None, seed=seed + 1, cache=True)  # fmt: skip
        stats = getattr(train_set, "stats", None)
        if stats is not None and hasattr(ds, "set_stats"):
            ds.set_stats(stats() if callable(stats) else stats)
    else:
        ds = build_dataset(replace(data, crop=None), "test", seed + 1)
    psl = list(data.variables).index("PSL") if "PSL" in data.variables else None
    return window_validator(ds, n_windows=getattr(data, "validation_windows", 16), focus_channel=psl)
