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

import re
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

__all__ = ["TileClipDataset", "open_basin", "read_track_points"]

_SPLITS = ("train", "test", "all")
_BLOCK = 512  # frames read at a time when scanning the store
_TIME_TOL_H = 1e-3  # track times within this many hours of a frame match it


def open_basin(store: str | Path, basin: str) -> xr.Dataset:
    """Open one basin group of a tile store lazily, times decoded to cftime.

    Raises ``FileNotFoundError`` / ``KeyError`` naming the store and, for a
    missing basin, the groups it does have.
    """
    path = Path(store)
    if not path.exists():
        raise FileNotFoundError(f"tile store not found: {path}")
    try:
        decode: Any = {"decode_times": xr.coders.CFDatetimeCoder(use_cftime=True)}
    except AttributeError:  # xarray < 2025.01
        decode = {"use_cftime": True}
    try:
        return xr.open_zarr(path, group=basin, chunks=None, **decode)
    except (KeyError, FileNotFoundError, OSError, ValueError) as exc:
        try:
            import zarr

            groups = sorted(zarr.open_group(str(path), mode="r").group_keys())
        except Exception:  # noqa: BLE001 - listing is only a hint for the message
            groups = []
        raise KeyError(
            f"tile store {path} has no readable basin group {basin!r} "
            f"(groups found: {groups}): {exc}"
        ) from exc


_ISO = re.compile(r"^\s*(-?\d{1,4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2}))?)?\s*$")


def read_track_points(
    tracks: str | Path | pd.DataFrame, calendar: str, has_year_zero: bool | None = None
) -> tuple[list[Any], np.ndarray, np.ndarray]:
    """Track points from a tracks CSV (``storm_id,basin,time,lat,lon,...``) or DataFrame.

    ``time`` strings ``YYYY-MM-DDTHH:MM:SS`` are read as cftime datetimes in
    ``calendar`` (never through datetime64). Returns ``(times, lat, lon)``;
    lat/lon float64 degrees as written (lon in any convention).
    """
    import cftime

    name = "tracks DataFrame" if isinstance(tracks, pd.DataFrame) else f"tracks file {tracks}"
    if isinstance(tracks, pd.DataFrame):
        df = tracks
    else:
        path = Path(tracks)
        if not path.exists():
            raise FileNotFoundError(f"tracks file not found: {path}")
        df = pd.read_csv(path, dtype={"time": str})
    missing = [c for c in ("time", "lat", "lon") if c not in df.columns]
    if missing:
        raise ValueError(
            f"{name} lacks column(s) {missing}; expected storm_id,basin,time,lat,lon,..."
        )
    kw = {} if has_year_zero is None else {"has_year_zero": has_year_zero}
    times = []
    for row, text in enumerate(df["time"].astype(str)):
        m = _ISO.match(text)
        if m is None:
            raise ValueError(f"{name}, row {row}: time {text!r} is not YYYY-MM-DDTHH:MM:SS")
        y, mo, d, hh, mi, ss = (int(g) if g else 0 for g in m.groups())
        try:
            times.append(cftime.datetime(y, mo, d, hh, mi, ss, calendar=calendar, **kw))
        except ValueError as exc:
            raise ValueError(
                f"{name}, row {row}: time {text!r} is not a valid {calendar} date: {exc}"
            ) from exc
    lat = pd.to_numeric(df["lat"], errors="raise").to_numpy(np.float64)
    lon = pd.to_numeric(df["lon"], errors="raise").to_numpy(np.float64)
    return times, lat, lon


def _inside_tile(
    lat: np.ndarray, lon: np.ndarray, tile_lat: np.ndarray, tile_lon: np.ndarray
) -> np.ndarray:
    """Points inside the tile's cell bounds (longitudes compared modulo 360)."""
    dlat = float(np.median(np.abs(np.diff(tile_lat)))) if tile_lat.size > 1 else 0.0
    dlon = float(np.median(np.abs(np.diff(tile_lon)))) if tile_lon.size > 1 else 0.0
    lat_ok = (lat >= tile_lat.min() - dlat / 2) & (lat <= tile_lat.max() + dlat / 2)
    west = float(tile_lon[0]) - dlon / 2
    width = float((tile_lon[-1] - tile_lon[0]) % 360.0) + dlon
    lon_ok = np.mod(lon - west, 360.0) <= width + 1e-9
    return lat_ok & lon_ok


class TileClipDataset(Dataset):
    """Clips ``[T, C, H, W]`` drawn at irregular times from one basin of a tile store.

    Args:
        store: path of the Zarr tile store.
        basin: group name inside the store.
        variables: store variables, one per channel, in order.
        sampling: how clips are cut (see :mod:`hurricane_ode.data.sampling`).
        split: ``train`` (leading ``train_fraction`` of the frames), ``test`` (the
            rest) or ``all``. No window crosses the split.
        clips_per_epoch: items per epoch, each at a random window; ``None``: one
            item per valid window, in time order (for evaluation).
        seed: base seed; item ``i`` uses ``default_rng([seed, epoch, i])``.
        normalize: z-score each variable with the store's ``norm_mean``/``norm_std``.
        tracks: tracks CSV path or DataFrame for ``sampling.cyclones_only``
            (default ``sampling.tracks``); without one the tile minimum of
            ``sampling.cyclone_variable`` below ``sampling.psl_threshold_pa`` marks a cyclone.
        cache: read the split's frames into memory once (see module docstring).
        progress: show a progress bar while reading the store.
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
    ) -> None:
        self.sampling = sampling if sampling is not None else SamplingConfig()
        check_sampling_config(self.sampling)
        if split not in _SPLITS:
            raise ValueError(f"TileClipDataset: split must be one of {_SPLITS}, got {split!r}")
        if split != "all" and not 0.0 < train_fraction < 1.0:
            raise ValueError(
                f"TileClipDataset: train_fraction must be in (0, 1), got {train_fraction}"
            )
        if clips_per_epoch is not None and clips_per_epoch < 1:
            raise ValueError(
                f"TileClipDataset: clips_per_epoch must be >= 1, got {clips_per_epoch}"
            )
        if isinstance(variables, str) or len(variables) == 0:
            raise ValueError(
                f"TileClipDataset: variables must be a non-empty list, got {variables!r}"
            )
        self.store, self.basin, self.split = Path(store), basin, split
        self.variables = tuple(variables)
        self.clips_per_epoch = clips_per_epoch
        self.seed, self.epoch = int(seed), 0
        self.normalize = normalize
        self.progress = progress
        self._where = f"tile store {self.store}, basin {basin!r}"

        self._ds = open_basin(store, basin)
        for v in self.variables:
            if v not in self._ds.data_vars:
                raise KeyError(
                    f"{self._where}: no variable {v!r}; has {sorted(map(str, self._ds.data_vars))}"
                )
            if self._ds[v].dims != ("time", "lat", "lon"):
                raise ValueError(
                    f"{self._where}: variable {v!r} has dims {self._ds[v].dims}, "
                    "expected ('time', 'lat', 'lon')"
                )
        self._stats = self._read_stats()
        if normalize and self._stats is None:
            raise KeyError(
                f"{self._where}: normalize=True needs attrs norm_mean and norm_std on every variable"
            )

        self.times = np.asarray(self._ds["time"].values)
        if self.times.size == 0:
            raise ValueError(f"{self._where}: the time axis is empty")
        self.frame_hours = hours_since(self.times, self.times[0])
        n = self.times.size
        n_train = int(round(train_fraction * n))
        self.split_range = {"train": (0, n_train), "test": (n_train, n), "all": (0, n)}[split]
        lo, hi = self.split_range
        try:
            self.starts = valid_starts(self.frame_hours[lo:hi], self.sampling) + lo
        except ValueError as exc:
            raise ValueError(
                f"{self._where}, split {split!r} (frames {lo}..{hi - 1}): {exc}"
            ) from exc

        self._data: np.ndarray | None = self._read_block(lo, hi) if cache else None
        if self._data is not None and not np.all(np.isfinite(self._data)):
            bad = [
                v for c, v in enumerate(self.variables) if not np.isfinite(self._data[:, c]).all()
            ]
            raise ValueError(f"{self._where}: non-finite values in variable(s) {bad}")
        if self.sampling.cyclones_only:
            self.starts = self._cyclone_windows(
                tracks if tracks is not None else self.sampling.tracks
            )

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_config(
        cls, cfg: DataConfig, split: str = "train", seed: int = 0, **kwargs: Any
    ) -> TileClipDataset:
        """Build from a :class:`~hurricane_ode.config.DataConfig` (``source="tiles"``)."""
        if cfg.path is None:
            raise ValueError("DataConfig.path is None: give the tile store path for source 'tiles'")
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
            **kwargs,
        )

    def _read_stats(self) -> dict[str, dict[str, float]] | None:
        stats = {}
        for v in self.variables:
            attrs = self._ds[v].attrs
            if "norm_mean" not in attrs or "norm_std" not in attrs:
                return None
            mean, std = float(attrs["norm_mean"]), float(attrs["norm_std"])
            if not (np.isfinite(mean) and np.isfinite(std) and std > 0):
                raise ValueError(
                    f"{self._where}: variable {v!r} has norm_mean={mean}, norm_std={std}; "
                    "expected finite values with norm_std > 0"
                )
            stats[v] = {"mean": mean, "std": std}
        self._mean = np.array([stats[v]["mean"] for v in self.variables], np.float32)
        self._std = np.array([stats[v]["std"] for v in self.variables], np.float32)
        return stats

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
            t0 = self.times[0]
            calendar = getattr(t0, "calendar", "standard") or "standard"
            times, lat, lon = read_track_points(
                tracks, calendar, getattr(t0, "has_year_zero", None)
            )
            inside = _inside_tile(
                lat, lon, self._ds["lat"].values.astype(float), self._ds["lon"].values.astype(float)
            )
            hours = hours_since(times, t0)[inside] if times else np.zeros(0)
            k = np.clip(np.searchsorted(self.frame_hours, hours), 0, self.frame_hours.size - 1)
            k_prev = np.clip(k - 1, 0, self.frame_hours.size - 1)
            near = np.where(
                np.abs(self.frame_hours[k_prev] - hours) < np.abs(self.frame_hours[k] - hours),
                k_prev,
                k,
            )
            hit = np.abs(self.frame_hours[near] - hours) <= _TIME_TOL_H
            present = np.zeros(self.frame_hours.size, dtype=bool)
            present[near[hit]] = True
            source = "the tracks" if isinstance(tracks, pd.DataFrame) else str(tracks)
            criterion = f"a track point of {source} inside the tile"
        else:
            var, thr = self.sampling.cyclone_variable, self.sampling.psl_threshold_pa
            if var not in self._ds.data_vars:
                raise KeyError(
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
            raise ValueError(
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

    def _indices(self, i: int) -> tuple[int, ClipIndices, np.ndarray]:
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
        return i, idx, mask

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
        _, idx, mask = self._indices(i)
        frames = self._frames(np.concatenate([idx.input_idx, idx.target_idx]))
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
        )

    def clip_info(self, i: int) -> dict[str, Any]:
        """Where item ``i`` (this epoch) comes from: absolute cftime times and store indices.

        Keys: ``index``, ``epoch``, ``basin``, ``variables``, ``origin_time``,
        ``input_index`` / ``target_index`` (int64 indices into the store's time
        axis), ``input_times`` / ``target_times`` (lists of cftime),
        ``input_hours`` / ``target_hours`` (float64, since ``origin_time``), ``input_mask``.
        """
        i, idx, mask = self._indices(i)
        return {
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

    # ------------------------------------------------------------------ normalisation
    @property
    def stats(self) -> dict[str, dict[str, float]]:
        """``{variable: {"mean": m, "std": s}}`` in physical units, from the store's attrs."""
        if self._stats is None:
            raise KeyError(f"{self._where}: variables lack norm_mean/norm_std attrs")
        return {v: dict(s) for v, s in self._stats.items()}

    def inverse_normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map this dataset's frames ``[..., C, H, W]`` back to physical units.

        Identity when the dataset was built with ``normalize=False``.
        """
        if x.dim() < 3 or x.shape[-3] != len(self.variables):
            raise ValueError(
                f"inverse_normalize: expected [..., {len(self.variables)}, H, W] "
                f"({', '.join(self.variables)}), got shape {tuple(x.shape)}"
            )
        if not self.normalize:
            return x
        std = torch.as_tensor(self._std, dtype=x.dtype, device=x.device)[:, None, None]
        mean = torch.as_tensor(self._mean, dtype=x.dtype, device=x.device)[:, None, None]
        return x * std + mean
