"""A torch ``Dataset`` of :class:`~hurricane_ode.data.clips.Clip` s cut from a Zarr tile store.

The store holds one group per basin; each group has variables of dims
``(time, lat, lon)`` (float32), a cftime time axis (3-hourly, possibly with
gaps) and per-variable attributes ``norm_mean`` / ``norm_std``. The dataset
maps variable names to channels in the given order and knows nothing else
about them.

Item ``i`` of epoch ``e`` is drawn with ``numpy.random.default_rng([seed, e, i])``
so every DataLoader worker and DDP rank produces the same clip for the same
index; call :meth:`TileClipDataset.set_epoch` to get fresh clips each epoch.

Memory: with ``cache=True`` the frames of the selected split are read once
into a float32 array of ``T x C x H x W x 4`` bytes (e.g. 20 years of 3-hourly
64x64 tiles with 3 variables: 58 400 frames -> 2.9 GB; one year: 140 MB). With
``cache=False`` each clip reads only its ``n_inputs + n_targets`` frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch.utils.data import Dataset
from tqdm.auto import tqdm

from hurricane_ode.config import DataConfig, SamplingConfig
from hurricane_ode.data._tile_stats import NormStatsMixin
from hurricane_ode.data.clips import Clip
from hurricane_ode.data.sampling import (
    ClipIndices,
    check_sampling_config,
    drop_inputs,
    hours_since,
    sample_clip,
    target_offsets,
    valid_starts,
)
from hurricane_ode.data.storm_motion import storm_motion, storm_positions_by_frame
from hurricane_ode.data.tile_reader import open_tiles
from hurricane_ode.data.tracks import read_track_points, storm_proximity, track_pixels_by_frame
from hurricane_ode.errors import InputError, InputKeyError

__all__ = ["TileClipDataset", "open_basin", "read_track_points"]

_SPLITS = ("train", "test", "all")
_NORM_STATS = ("train", "store")
_BLOCK = 512  # frames read at a time when scanning the store


def open_basin(store: str | Path, basin: str) -> xr.Dataset:
    """One basin group of a tile store, lazily (no dask), times as cftime.

    The same reader as :func:`hurricane_ode.data.tile_reader.open_tiles` (``chunks=None``);
    a missing store raises ``FileNotFoundError``, a missing basin ``KeyError`` listing the
    groups (both :class:`~hurricane_ode.errors.TileStoreError`).
    """
    return open_tiles(store, basin, chunks=None)


class TileClipDataset(NormStatsMixin, Dataset):
    """Clips ``[T, C, H, W]`` drawn at irregular times from one basin of a tile store.

    Parameters
    ----------
    store : path of the Zarr tile store.
    basin : group name inside the store.
    variables : store variables, one per channel, in order.
    sampling : how clips are cut (see :mod:`hurricane_ode.data.sampling`).
    split : ``train`` (leading ``train_fraction`` of the frames), ``test`` (the
        rest) or ``all``. No window crosses the split.
    clips_per_epoch : items per epoch, each at a random window; ``None``: one
        item per valid window, in time order (for evaluation).
    seed : base seed; item ``i`` uses ``default_rng([seed, epoch, i])``.
    normalize : z-score each variable with the store's ``norm_mean``/``norm_std``.
    tracks : tracks CSV path or DataFrame for ``sampling.cyclones_only``
        (default ``sampling.tracks``); without one the tile minimum of
        ``sampling.cyclone_variable`` below ``sampling.psl_threshold_pa`` marks a cyclone.
    cache : read the split's frames into memory once (see module docstring).
    progress : show a progress bar while reading the store.
    crop : ``(h, w)``: each clip is an ``h x w`` window of the tile (random position, the
        same for all its frames); ``None``: the whole basin (evaluation windows).
    storm_crop_prob : with this probability a crop is centred (with a jitter of up to a
        quarter crop) on a storm of the clip: a track point of ``tracks`` in one of its
        frames, or without tracks the minimum of ``sampling.cyclone_variable`` in the last
        input frame when below ``sampling.psl_threshold_pa``; otherwise uniform.
    norm_stats : ``"train"`` (default): z-score statistics from the train period only (the
        leading ``train_fraction`` of the frames, whatever ``split`` is built), from the
        store's per-chunk moments when ``prepare`` wrote them, else from the data;
        ``"store"``: the store's whole-period ``norm_mean``/``norm_std`` attributes.
    storm_sigma_km : > 0: clips carry ``target_weights`` ``[T_out, H, W]``, ``exp(-d^2 / 2 sigma^2)``
        of the distance ``d`` (km) to the nearest track point at each target (needs ``tracks``),
        and ``target_motion`` (:func:`~hurricane_ode.data.storm_motion.storm_motion`).
    """

    def __init__(
        self,
        store: str | Path,
        basin: str,
        variables: Sequence[str] = ("U850", "V850", "PSL"),
        sampling: SamplingConfig | None = None,
        split: str = "train",
        train_fraction: float = 0.8,
        clips_per_epoch: int | None = 256,
        seed: int = 0,
        normalize: bool = True,
        tracks: str | Path | pd.DataFrame | None = None,
        cache: bool = True,
        progress: bool = False,
        crop: Sequence[int] | None = None,
        storm_crop_prob: float = 0.0,
        norm_stats: str = "train",
        storm_sigma_km: float = 0.0,
    ) -> None:
        self.sampling = sampling if sampling is not None else SamplingConfig()
        check_sampling_config(self.sampling)
        if split not in _SPLITS:
            raise InputError(f"TileClipDataset: split must be one of {_SPLITS}, got {split!r}")
        if split != "all" and not 0.0 < train_fraction < 1.0:
            raise InputError(f"TileClipDataset: train_fraction must be in (0, 1), got {train_fraction}")
        if clips_per_epoch is not None and clips_per_epoch < 1:
            raise InputError(f"TileClipDataset: clips_per_epoch must be >= 1, got {clips_per_epoch}")
        if isinstance(variables, str) or len(variables) == 0:
            raise InputError(f"TileClipDataset: variables must be a non-empty list, got {variables!r}")
        self.store, self.basin, self.split = Path(store), basin, split
        self.variables = tuple(variables)
        self.clips_per_epoch = clips_per_epoch
        self.seed, self.epoch = int(seed), 0
        self.normalize = normalize
        self.progress = progress
        self._where = f"tile store {self.store}, basin {basin!r}"

        if norm_stats not in _NORM_STATS:
            raise InputError(f"TileClipDataset: norm_stats must be one of {_NORM_STATS}, got {norm_stats!r}")
        if not 0.0 <= storm_crop_prob <= 1.0:
            raise InputError(f"TileClipDataset: storm_crop_prob must be in [0, 1], got {storm_crop_prob}")
        self._ds = open_tiles(store, basin, chunks=None, variables=self.variables)
        self.crop = self._check_crop(crop)
        self.storm_crop_prob = float(storm_crop_prob)
        if not (np.isfinite(storm_sigma_km) and storm_sigma_km >= 0):
            raise InputError(f"TileClipDataset: storm_sigma_km must be >= 0 km, got {storm_sigma_km}")
        self.storm_sigma_km = float(storm_sigma_km)
        self.times = np.asarray(self._ds["time"].values)
        if self.times.size == 0:
            raise InputError(f"{self._where}: the time axis is empty")
        self.frame_hours = hours_since(self.times, self.times[0])
        n = self.times.size
        n_train = int(round(train_fraction * n)) if 0.0 < train_fraction < 1.0 else n
        self.train_range = (0, n_train)
        self.split_range = {"train": (0, n_train), "test": (n_train, n), "all": (0, n)}[split]
        lo, hi = self.split_range
        try:
            self.starts = valid_starts(self.frame_hours[lo:hi], self.sampling) + lo
        except ValueError as exc:
            raise InputError(f"{self._where}, split {split!r} (frames {lo}..{hi - 1}): {exc}") from exc

        self._data: np.ndarray | None = self._read_block(lo, hi) if cache else None
        if self._data is not None and not np.all(np.isfinite(self._data)):
            bad = [
                v for c, v in enumerate(self.variables) if not np.isfinite(self._data[:, c]).all()
            ]
            raise InputError(f"{self._where}: non-finite values in variable(s) {bad}")
        self.norm_stats = norm_stats
        self.train_moments = self._train_moments() if norm_stats == "train" else None
        self._stats = self._stats_from_moments() if norm_stats == "train" else self._read_stats()
        if normalize and self._stats is None:
            raise InputKeyError(
                f"{self._where}: normalize=True needs attrs norm_mean and norm_std on every variable"
            )
        tracks = tracks if tracks is not None else self.sampling.tracks
        if self.sampling.cyclones_only:
            self.starts = self._cyclone_windows(tracks)
        self._storm_pixels: dict[int, np.ndarray] | None = None
        self._storm_positions: dict[int, dict[str, tuple[float, float]]] | None = None
        if self.storm_sigma_km > 0 and tracks is None:
            raise InputError(f"{self._where}: storm_sigma_km = {self.storm_sigma_km:g} needs the storms' tracks "
                             "(a tracks CSV: STORE::BASIN@tracks.csv in data.paths, or sampling.tracks)")
        if (self.crop is not None and self.storm_crop_prob > 0 or self.storm_sigma_km > 0) and tracks is not None:
            where = (tracks, self.times, self.frame_hours, self._ds["lat"].values.astype(float),
                     self._ds["lon"].values.astype(float))
            self._storm_pixels = track_pixels_by_frame(*where)
            self._storm_positions = storm_positions_by_frame(*where) if self.storm_sigma_km > 0 else None

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_config(
        cls, cfg: DataConfig, split: str = "train", seed: int = 0, **kwargs: Any
    ) -> TileClipDataset:
        """Build from a :class:`~hurricane_ode.config.DataConfig` (``source="tiles"``)."""
        if cfg.path is None:
            raise InputError("DataConfig.path is None: give the tile store path for source 'tiles'")
        return cls(
            cfg.path,
            cfg.basin,
            variables=cfg.variables,
            sampling=cfg.sampling,
            split=split,
            train_fraction=cfg.train_fraction,
            clips_per_epoch=cfg.clips_per_epoch,
            seed=seed,
            cache=cfg.cache,
            crop=getattr(cfg, "crop", None) if split == "train" else None,
            storm_crop_prob=getattr(cfg, "storm_crop_prob", 0.0),
            storm_sigma_km=getattr(cfg, "storm_sigma_km", 0.0) if split == "train" else 0.0,
            **kwargs,
        )

    def _check_crop(self, crop: Sequence[int] | None) -> tuple[int, int] | None:
        if crop is None:
            return None
        h_tile, w_tile = self._ds.sizes["lat"], self._ds.sizes["lon"]
        dims = tuple(crop)
        if len(dims) != 2 or any(int(c) != c or c < 1 for c in dims):
            raise InputError(f"{self._where}: crop must be two positive integers (H, W), got {crop!r}")
        h, w = int(dims[0]), int(dims[1])
        if h > h_tile or w > w_tile:
            raise InputError(
                f"{self._where}: crop {h}x{w} is larger than the {h_tile}x{w_tile} tile"
            )
        return h, w

    def _read_block(self, lo: int, hi: int, variables: Sequence[str] | None = None) -> np.ndarray:
        """Frames ``lo:hi`` of ``variables`` (default: the channels), float32 ``[T, C, H, W]``."""
        names = self.variables if variables is None else variables
        h, w = self._ds.sizes["lat"], self._ds.sizes["lon"]
        out = np.empty((hi - lo, len(names), h, w), dtype=np.float32)
        edges = range(lo, hi, _BLOCK)
        for a in tqdm(
            edges, desc=f"reading {self.basin}", disable=not self.progress or len(edges) < 2
        ):
            b = min(a + _BLOCK, hi)
            for c, v in enumerate(names):
                out[a - lo : b - lo, c] = self._ds[v].isel(time=slice(a, b)).values
        return out

    def _cyclone_windows(self, tracks: str | Path | pd.DataFrame | None) -> np.ndarray:
        """Window starts with a cyclone in at least one target frame."""
        lo, hi = self.split_range
        if tracks is not None:
            pixels = track_pixels_by_frame(
                tracks, self.times, self.frame_hours,
                self._ds["lat"].values.astype(float), self._ds["lon"].values.astype(float),
            )  # fmt: skip
            present = np.zeros(self.frame_hours.size, dtype=bool)
            present[list(pixels)] = True
            source = "the tracks" if isinstance(tracks, pd.DataFrame) else str(tracks)
            criterion = f"a track point of {source} inside the tile"
        else:
            var, thr = self.sampling.cyclone_variable, self.sampling.psl_threshold_pa
            if var not in self._ds.data_vars:
                raise InputKeyError(
                    f"{self._where}: cyclone filter needs variable {var!r} "
                    "(SamplingConfig.cyclone_variable) or a tracks file"
                )
            present = np.zeros(self.frame_hours.size, dtype=bool)
            if self._data is not None and var in self.variables:
                minima = self._data[:, self.variables.index(var)].min(axis=(1, 2))
            else:
                minima = np.empty(hi - lo, dtype=np.float32)
                for a in range(lo, hi, _BLOCK):
                    b = min(a + _BLOCK, hi)
                    minima[a - lo : b - lo] = self._read_block(a, b, [var])[:, 0].min(axis=(1, 2))
            present[lo:hi] = minima < thr
            criterion = f"tile minimum of {var} below {thr:g} (physical units)"
        offsets = target_offsets(self.sampling)
        keep = present[self.starts[:, None] + offsets[None, :]].any(axis=1)
        if not keep.any():
            raise InputError(
                f"{self._where}, split {self.split!r}: cyclones_only found no window with "
                f"{criterion} at a target frame (of {self.starts.size} windows)"
            )
        return self.starts[keep]

    # ------------------------------------------------------------------ Dataset protocol
    def set_epoch(self, epoch: int) -> None:
        """Vary the clips drawn across epochs (same epoch + index -> same clip everywhere)."""
        self.epoch = int(epoch)

    @property
    def n_windows(self) -> int:
        """Number of distinct valid window starts in this split."""
        return int(self.starts.size)

    def __len__(self) -> int:
        return self.n_windows if self.clips_per_epoch is None else int(self.clips_per_epoch)

    def _indices(self, i: int) -> tuple[int, ClipIndices, np.ndarray, tuple[int, int] | None]:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"TileClipDataset index {i} out of range for length {n}")
        i = i % n
        rng = np.random.default_rng([self.seed, self.epoch, i])
        if self.clips_per_epoch is None:
            start = int(self.starts[i])
        else:
            start = int(self.starts[rng.integers(self.starts.size)])
        idx = sample_clip(self.frame_hours, start, self.sampling, rng)
        mask = np.ones(idx.input_idx.size, dtype=bool)
        if self.sampling.input_drop_prob > 0:
            mask = drop_inputs(mask, self.sampling.input_drop_prob, rng)
        return i, idx, mask, self._crop_origin(rng, idx)

    def _storms(self, idx: ClipIndices) -> np.ndarray:
        """Storm pixels ``[n, 2]`` of the clip: track points, else a deep enough PSL minimum."""
        if self._storm_pixels is not None:
            frames = np.concatenate([idx.input_idx, idx.target_idx])
            found = [self._storm_pixels[int(f)] for f in frames if int(f) in self._storm_pixels]
            return np.concatenate(found) if found else np.zeros((0, 2), np.int64)
        var, thr = self.sampling.cyclone_variable, self.sampling.psl_threshold_pa
        if var not in self._ds.data_vars:
            return np.zeros((0, 2), np.int64)
        field = np.asarray(self._ds[var].isel(time=int(idx.input_idx[-1])).values, np.float64)
        if not np.isfinite(field).any() or np.nanmin(field) >= thr:
            return np.zeros((0, 2), np.int64)
        return np.array([np.unravel_index(np.nanargmin(field), field.shape)], np.int64)

    def _crop_origin(self, rng: np.random.Generator, idx: ClipIndices) -> tuple[int, int] | None:
        """Top-left corner of the clip's crop (uniform, or storm-centred with jitter)."""
        if self.crop is None:
            return None
        (h, w), (ht, wt) = self.crop, (self._ds.sizes["lat"], self._ds.sizes["lon"])
        if self.storm_crop_prob > 0 and rng.random() < self.storm_crop_prob:
            storms = self._storms(idx)
            if storms.size:
                r, c = storms[rng.integers(len(storms))]
                r += rng.integers(-(h // 4), h // 4 + 1)
                c += rng.integers(-(w // 4), w // 4 + 1)
                return int(np.clip(r - h // 2, 0, ht - h)), int(np.clip(c - w // 2, 0, wt - w))
        return int(rng.integers(0, ht - h + 1)), int(rng.integers(0, wt - w + 1))

    def _frames(self, index: np.ndarray) -> np.ndarray:
        if self._data is not None:
            x = self._data[index - self.split_range[0]]
        else:
            x = np.stack([self._ds[v].isel(time=index).values for v in self.variables], axis=1)
            x = x.astype(np.float32, copy=False)
        if self.normalize:
            x = (x - self._mean[:, None, None]) / self._std[:, None, None]
        return x

    def __getitem__(self, i: int) -> Clip:
        _, idx, mask, origin = self._indices(i)
        frames = self._frames(np.concatenate([idx.input_idx, idx.target_idx]))
        if origin is not None and self.crop is not None:
            (y, x), (h, w) = origin, self.crop
            frames = frames[..., y : y + h, x : x + w]
        n_in = idx.input_idx.size
        inputs = torch.from_numpy(np.ascontiguousarray(frames[:n_in]))
        inputs[torch.from_numpy(~mask)] = 0.0  # a missing frame carries no data, only its time
        return Clip(
            inputs=inputs,
            input_times=torch.from_numpy(idx.input_hours.astype(np.float32)),
            input_mask=torch.from_numpy(mask),
            targets=torch.from_numpy(np.ascontiguousarray(frames[n_in:])),
            target_times=torch.from_numpy(idx.target_hours.astype(np.float32)),
            target_mask=torch.ones(idx.target_idx.size, dtype=torch.bool),
            **(self._storm_maps(idx.target_idx, idx.input_idx[mask][-1] if mask.any() else idx.input_idx[-1],
                                origin, frames.shape[-2:]) if self.storm_sigma_km > 0 else {}),
        )

    def _storm_maps(self, frames: np.ndarray, ref: int, origin: Any, size: Any) -> dict[str, torch.Tensor]:
        """``target_weights`` (storm proximity) and ``target_motion`` (storm flow from frame ``ref``)."""
        lat, lon, sig = self._ds["lat"].values, self._ds["lon"].values, self.storm_sigma_km
        w = storm_proximity(self._storm_pixels or {}, frames, lat, lon, origin, self.crop, sig)
        m = storm_motion(self._storm_positions or {}, ref, frames, lat, lon, origin, tuple(size), sig)
        return {"target_weights": torch.from_numpy(w), "target_motion": torch.from_numpy(m)}

    def clip_info(self, i: int) -> dict[str, Any]:
        """Where item ``i`` (this epoch) comes from: absolute cftime times and store indices.

        Keys: ``index``, ``epoch``, ``basin``, ``variables``, ``origin_time``,
        ``input_index`` / ``target_index`` (int64 indices into the store's time
        axis), ``input_times`` / ``target_times`` (lists of cftime),
        ``input_hours`` / ``target_hours`` (float64, since ``origin_time``), ``input_mask``,
        ``crop`` (``(row, col, h, w)`` of the window in the tile, or None).
        """
        i, idx, mask, origin = self._indices(i)
        crop = None if origin is None or self.crop is None else (*origin, *self.crop)
        return {
            "crop": crop,
            "index": i,
            "epoch": self.epoch,
            "basin": self.basin,
            "variables": list(self.variables),
            "origin_time": self.times[idx.origin],
            "input_index": idx.input_idx.copy(),
            "target_index": idx.target_idx.copy(),
            "input_times": list(self.times[idx.input_idx]),
            "target_times": list(self.times[idx.target_idx]),
            "input_hours": idx.input_hours.copy(),
            "target_hours": idx.target_hours.copy(),
            "input_mask": mask,
        }
