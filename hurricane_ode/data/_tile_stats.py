"""Normalisation of tile clips: train-period statistics (or the store's), and their inverse.

A mixin of :class:`hurricane_ode.data.tile_dataset.TileClipDataset`, kept apart for size.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import xarray as xr

from hurricane_ode.data._chunks import merge, moments
from hurricane_ode.errors import InputError, InputKeyError

_BLOCK = 512


class NormStatsMixin:
    """Needs ``_ds``, ``variables``, ``train_range``, ``split_range``, ``_data``, ``_where``,
    ``normalize`` and ``_read_block``."""

    _stats: dict[str, dict[str, float]] | None
    train_moments: dict[str, tuple[int, float, float]] | None
    # provided by the dataset class (declared here for the type checker)
    _ds: xr.Dataset
    _data: np.ndarray | None
    _where: str
    variables: tuple[str, ...]
    train_range: tuple[int, int]
    split_range: tuple[int, int]
    normalize: bool
    if TYPE_CHECKING:

        def _read_block(self, lo: int, hi: int, variables: Sequence[str] | None = None) -> np.ndarray: ...

    def _train_moments(self) -> dict[str, tuple[int, float, float]]:
        """(count, mean, M2) of each channel over the train period's frames."""
        lo, hi = self.train_range
        cm, size = self._ds.attrs.get("chunk_moments"), int(self._ds.attrs.get("chunk_size") or 0)
        full = 0
        parts: dict[str, list] = {v: [] for v in self.variables}
        if isinstance(cm, dict) and size > 0 and all(v in cm for v in self.variables):
            full = min(hi // size, len(cm[self.variables[0]]))
            for v in self.variables:
                parts[v].extend(cm[v][:full])
        for a in range(full * size, hi, _BLOCK):
            b = min(a + _BLOCK, hi)
            s_lo = self.split_range[0]
            if self._data is not None and s_lo <= a and b <= self.split_range[1]:
                block = self._data[a - s_lo : b - s_lo]
            else:
                block = self._read_block(a, b)
            for c, v in enumerate(self.variables):
                parts[v].append(moments(block[:, c]))
        return {v: merge(parts[v]) for v in self.variables}

    def _stats_from_moments(self) -> dict[str, dict[str, float]]:
        stats = {}
        for v, (n, mean, m2) in (self.train_moments or {}).items():
            std = math.sqrt(m2 / n) if n else float("nan")
            if not (n and np.isfinite(mean) and std > 0):
                raise InputError(
                    f"{self._where}: the train period (frames {self.train_range[0]}.."
                    f"{self.train_range[1] - 1}) gives {v} no usable statistics (n={n}, std={std})"
                )
            stats[v] = {"mean": float(mean), "std": float(std)}
        self.set_stats(stats)
        return stats

    def set_stats(self, stats: dict[str, dict[str, float]]) -> None:
        """Normalise with ``stats`` (``{variable: {"mean", "std"}}``), e.g. pooled over stores."""
        self._stats = {v: dict(stats[v]) for v in self.variables}
        self._mean = np.array([stats[v]["mean"] for v in self.variables], np.float32)
        self._std = np.array([stats[v]["std"] for v in self.variables], np.float32)

    def _read_stats(self) -> dict[str, dict[str, float]] | None:
        stats = {}
        for v in self.variables:
            attrs = self._ds[v].attrs
            if "norm_mean" not in attrs or "norm_std" not in attrs:
                return None
            mean, std = float(attrs["norm_mean"]), float(attrs["norm_std"])
            if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
                raise InputError(
                    f"{self._where}: variable {v!r} has norm_mean={mean}, norm_std={std}; "
                    "expected finite values with norm_std > 0"
                )
            stats[v] = {"mean": mean, "std": std}
        self._mean = np.array([stats[v]["mean"] for v in self.variables], np.float32)
        self._std = np.array([stats[v]["std"] for v in self.variables], np.float32)
        return stats

    # ------------------------------------------------------------------ normalisation
    @property
    def stats(self) -> dict[str, dict[str, float]]:
        """``{variable: {"mean": m, "std": s}}`` in physical units: the train period's
        (``norm_stats="train"``), the store's attrs (``"store"``) or pooled (:meth:`set_stats`)."""
        if self._stats is None:
            raise InputKeyError(f"{self._where}: variables lack norm_mean/norm_std attrs")
        return {v: dict(s) for v, s in self._stats.items()}

    def inverse_normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map this dataset's frames ``[..., C, H, W]`` back to physical units.

        Identity when the dataset was built with ``normalize=False``.
        """
        if x.dim() < 3 or x.shape[-3] != len(self.variables):
            raise InputError(
                f"inverse_normalize: expected [..., {len(self.variables)}, H, W] "
                f"({', '.join(self.variables)}), got shape {tuple(x.shape)}"
            )
        if not self.normalize:
            return x
        std = torch.as_tensor(self._std, dtype=x.dtype, device=x.device)[:, None, None]
        mean = torch.as_tensor(self._mean, dtype=x.dtype, device=x.device)[:, None, None]
        return x * std + mean
