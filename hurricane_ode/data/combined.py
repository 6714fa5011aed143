"""Several tile stores / basins as one training set, normalised with pooled train-period statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from hurricane_ode.data._chunks import merge
from hurricane_ode.data.clips import Clip
from hurricane_ode.errors import InputError

__all__ = ["CombinedClipDataset", "pooled_stats", "split_store_spec"]


def store_tracks(spec: str) -> tuple[str, str | None]:
    """``"STORE[::BASIN]@TRACKS.csv"`` -> ``(spec without tracks, tracks path or None)``.

    The tracks file (the world's ``tracks.csv``) lets storm-centred crops find the storms
    of that store; without one they fall back to ``sampling.tracks``.
    """
    spec, sep, tracks = str(spec).partition("@")
    if sep and not tracks:
        raise InputError(f"data.paths entry {spec + sep!r}: expected STORE[::BASIN]@TRACKS.csv")
    return spec, tracks or None


def split_store_spec(spec: str, default_basin: str) -> tuple[str, str]:
    """``"STORE::BASIN"`` or ``"STORE"`` -> ``(store, basin)``.

    Parameters
    ----------
    spec
        A store path, optionally followed by ``::`` and a basin group.
    default_basin
        Basin used when ``spec`` names none.

    Returns
    -------
    (store, basin)
    """
    store, sep, basin = str(spec).partition("::")
    if not store or (sep and not basin):
        raise InputError(f"data.paths entry {spec!r}: expected STORE or STORE::BASIN")
    return store, basin or default_basin


def pooled_stats(members: Sequence[Any]) -> dict[str, dict[str, float]]:
    """Mean and std of each channel over the union of the members' train periods.

    Parameters
    ----------
    members
        Datasets with ``variables`` and ``train_moments`` (``{var: (count, mean, M2)}``).

    Returns
    -------
    dict
        ``{variable: {"mean": m, "std": s}}``.
    """
    out = {}
    for v in members[0].variables:
        n, mean, m2 = merge(m.train_moments[v] for m in members)
        std = math.sqrt(m2 / n) if n else float("nan")
        if not (n and std > 0):
            raise InputError(f"pooled statistics: variable {v} has no usable train-period values")
        out[v] = {"mean": float(mean), "std": float(std)}
    return out


class CombinedClipDataset(Dataset):
    """Concatenate clip datasets (e.g. :class:`~hurricane_ode.data.tile_dataset.TileClipDataset`
    of several stores or basins) and normalise all of them with pooled train-period statistics.

    Parameters
    ----------
    members
        Datasets built with ``norm_stats="train"`` and the same ``variables``; their clips must
        share a frame size (use ``crop`` when the tiles differ).
    """

    def __init__(self, members: Sequence[Any]) -> None:
        if not members:
            raise InputError("CombinedClipDataset: give at least one dataset")
        variables = {tuple(m.variables) for m in members}
        if len(variables) != 1:
            raise InputError(f"CombinedClipDataset: members have different variables {variables}")
        sizes = {m.crop or (m._ds.sizes["lat"], m._ds.sizes["lon"]) for m in members}
        if len(sizes) != 1:
            raise InputError(
                f"CombinedClipDataset: clips of different sizes {sorted(sizes)}; set data.crop "
                "(e.g. 64 64) to train on stores of different grids together"
            )
        self.members = list(members)
        self.variables = self.members[0].variables
        self.normalize = self.members[0].normalize
        self.train_moments = {
            v: merge(m.train_moments[v] for m in self.members) for v in self.variables
        }
        stats = pooled_stats(self.members)
        for m in self.members:
            m.set_stats(stats)
        self._offsets = np.cumsum([0] + [len(m) for m in self.members])

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def _locate(self, i: int) -> tuple[Any, int]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"CombinedClipDataset index {i} out of range for length {n}")
        i %= n
        k = int(np.searchsorted(self._offsets, i, side="right")) - 1
        return self.members[k], i - int(self._offsets[k])

    def __getitem__(self, i: int) -> Clip:
        member, j = self._locate(i)
        return member[j]

    def clip_info(self, i: int) -> dict[str, Any]:
        """The member's :meth:`clip_info` plus its ``store``."""
        member, j = self._locate(i)
        return {**member.clip_info(j), "store": str(member.store)}

    def set_epoch(self, epoch: int) -> None:
        """Forwarded to every member."""
        for m in self.members:
            m.set_epoch(epoch)

    @property
    def stats(self) -> dict[str, dict[str, float]]:
        """The pooled ``{variable: {"mean", "std"}}``."""
        return self.members[0].stats

    def inverse_normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Frames back to physical units (pooled statistics)."""
        return self.members[0].inverse_normalize(x)
