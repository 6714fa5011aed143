"""Registry of clip sources: ``DataConfig.source`` name -> torch Dataset of unbatched Clips.

The trainer only ever calls :func:`build_dataset`, so it never knows whether clips
come from climate tiles or RGB video. A source is a factory::

    @register_source("my_source")
    def _build(data: DataConfig, split: str, seed: int) -> Dataset: ...

The dataset yields unbatched :class:`~hurricane_ode.data.clips.Clip` objects. For
exact resume its items must be a pure function of ``(seed, epoch, index)``; a
dataset that re-draws clips per epoch exposes ``set_epoch(epoch)`` (the trainer
calls it). A ``stats`` attribute (``{variable: (mean, std)}``) is stored in
checkpoints so forecasts can be returned in physical units.

Built-in sources live in their own modules and register on import (the video sources are
imported on first lookup); other packages add theirs through the entry-point group
``hurricane_ode.sources``. One :class:`~hurricane_ode.registry.Registry` holds them all.
"""

from __future__ import annotations

from collections.abc import Callable

from torch.utils.data import Dataset

from hurricane_ode.config import DataConfig
from hurricane_ode.errors import ConfigError, InputError
from hurricane_ode.registry import Registry

__all__ = ["register_source", "build_dataset", "available_sources", "SOURCE_REGISTRY", "SPLITS"]

SourceFactory = Callable[[DataConfig, str, int], Dataset]
#: name -> factory; built-ins register on import, third-party packages through the
#: entry-point group ``hurricane_ode.sources`` (a duplicate name is refused)
SOURCE_REGISTRY: Registry[SourceFactory] = Registry(
    "clip source", entry_point_group="hurricane_ode.sources", builtin_modules=("hurricane_ode.data.video",)
)
SPLITS = ("train", "test")


def register_source(name: str) -> Callable[[SourceFactory], SourceFactory]:
    """Decorator: make ``factory(data_cfg, split, seed)`` available as ``DataConfig.source = name``."""
    return SOURCE_REGISTRY.register(name)


def available_sources() -> list[str]:
    """Names accepted by ``DataConfig.source``."""
    return SOURCE_REGISTRY.names()


def build_dataset(data: DataConfig, split: str = "train", seed: int = 0) -> Dataset:
    """The Dataset of unbatched Clips named by ``data.source`` for ``split`` (train/test)."""
    if split not in SPLITS:
        raise InputError(f"build_dataset: split must be one of {SPLITS}, got {split!r}")
    if data.source not in SOURCE_REGISTRY:
        raise InputError(
            f"unknown data.source '{data.source}'; available: {', '.join(SOURCE_REGISTRY.names())}"
        )
    return SOURCE_REGISTRY.get(data.source)(data, split, seed)


@register_source("tiles")
def _tiles(data: DataConfig, split: str, seed: int) -> Dataset:
    """Clips cut from Zarr tile store(s) written by ``hurricane-ode prepare``.

    ``data.path`` (one store) or ``data.paths`` (several ``STORE[::BASIN]``, combined for
    training with pooled train-period statistics; the test split uses the first, normalised
    with the same pooled statistics). ``data.crop`` applies to the train split only: the test
    split yields whole-basin windows. The library has no default store: a null path is an
    error (the CLI and :mod:`hurricane_ode.demo` supply the demo world's tiles).
    """
    from hurricane_ode.data.combined import (
        CombinedClipDataset,
        pooled_stats,
        split_store_spec,
        store_tracks,
    )
    from hurricane_ode.data.tile_dataset import TileClipDataset

    specs = list(getattr(data, "paths", None) or ([data.path] if data.path is not None else []))
    if not specs:
        raise ConfigError(
            "data.path is not set: give the tile store to train on (`hurricane-ode prepare` "
            "writes one; hurricane_ode.demo.demo_tiles() makes the demo world's)"
        )
    stores = []
    for spec in specs:
        spec, tracks = store_tracks(spec)
        stores.append((*split_store_spec(spec, data.basin), tracks))
    crop = getattr(data, "crop", None) if split == "train" else None
    per_store = max(1, -(-data.clips_per_epoch // len(stores))) if data.clips_per_epoch else None

    def member(
        store: str, basin: str, tracks: str | None, which: str, clips: int | None, cache: bool
    ) -> TileClipDataset:
        return TileClipDataset(
            store, basin, list(data.variables), data.sampling, split=which,
            train_fraction=data.train_fraction, clips_per_epoch=clips, seed=seed, cache=cache,
            crop=crop, storm_crop_prob=getattr(data, "storm_crop_prob", 0.0), tracks=tracks,
            storm_sigma_km=getattr(data, "storm_sigma_km", 0.0) if which == "train" else 0.0,
        )  # fmt: skip

    if len(stores) == 1:
        return member(*stores[0], split, data.clips_per_epoch, data.cache)
    if split == "train":
        return CombinedClipDataset([member(*s, "train", per_store, data.cache) for s in stores])
    test = member(*stores[0], split, data.clips_per_epoch, data.cache)
    train_parts = [member(*s, "train", 1, False) for s in stores]
    test.set_stats(pooled_stats(train_parts))
    return test
