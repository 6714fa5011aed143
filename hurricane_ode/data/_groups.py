"""Basin groups of the tile store: create, check, resume and finish (statistics, missing cells).

Private to :mod:`hurricane_ode.data.store` and :mod:`hurricane_ode.data.tiling`.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
import zarr

from hurricane_ode.data._chunks import merge as _merge
from hurricane_ode.data.schema import VARIABLES
from hurricane_ode.data.tile_reader import (
    COMPLETE_ATTR,
    FORMAT_KW,
    NO_CONSOLIDATED,
    _decode_kw,
    list_basins_in_store,
)
from hurricane_ode.errors import TileStoreError
from hurricane_ode.timeutil import calendar_of

log = logging.getLogger("hurricane_ode.data.store")
_FORMAT_KW = FORMAT_KW
_NO_CONS = NO_CONSOLIDATED


def group_attrs(store: Path, name: str) -> dict[str, Any] | None:
    try:
        return dict(zarr.open_group(store=str(store), path=name, mode="r", **_NO_CONS).attrs)
    except Exception:  # noqa: BLE001 - missing or unreadable group
        return None


def has_group(store: Path, name: str) -> bool:
    return store.exists() and name in list_basins_in_store(store)


def compatible(store: Path, name: str, tile: xr.Dataset) -> str | None:
    """None when the existing group matches ``tile``'s grid and times; else the reason."""
    try:
        old = xr.open_zarr(store, group=name, consolidated=False, **_decode_kw())
    except Exception as exc:  # noqa: BLE001 - any unreadable group is simply incompatible
        return f"unreadable ({exc})"
    for v in VARIABLES:
        if v not in old or old[v].shape != tile[v].shape:
            return f"variable {v} shape {old[v].shape if v in old else None} != {tile[v].shape}"
    for c in ("lat", "lon"):
        if not np.allclose(old[c].values, tile[c].values):
            return f"{c} coordinates differ"
    if list(old["time"].values) != list(tile["time"].values):
        return "time coordinates differ"
    return None


def create_group(store: Path, name: str, tile: xr.Dataset, time_chunk: int) -> None:
    shutil.rmtree(store / name, ignore_errors=True)
    h, w = tile.sizes["lat"], tile.sizes["lon"]
    encoding: dict[str, dict[str, Any]] = {
        v: {"chunks": (time_chunk, h, w), "dtype": "float32"} for v in VARIABLES
    }
    encoding["lat"] = {"_FillValue": None}
    encoding["lon"] = {"_FillValue": None}
    encoding["time"] = {"calendar": calendar_of(tile)}
    attrs = {k: v for k, v in tile.attrs.items() if k not in ("normalization", COMPLETE_ATTR)}
    # metadata and coordinates only (compute=False): the data are written chunk by chunk later
    tile = tile.chunk({"time": time_chunk, "lat": -1, "lon": -1})
    tile.attrs = attrs
    tile.attrs[COMPLETE_ATTR] = False
    tile["time"].encoding = {}  # let xarray pick exact units for irregular times
    for v in VARIABLES:
        tile[v].encoding = {}
        tile[v].attrs.pop("norm_mean", None)
        tile[v].attrs.pop("norm_std", None)
    tile.to_zarr(
        store,
        group=name,
        mode="w-",
        compute=False,
        consolidated=False,
        encoding=encoding,
        **_FORMAT_KW,
    )


def finish_group(
    store: Path, name: str, progress_dir: Path, n_chunks: int, time_chunk: int
) -> dict:
    records = []
    for i in range(n_chunks):
        rec = progress_dir / f"{i * time_chunk:010d}.json"
        if not rec.exists():
            raise RuntimeError(f"tile store {store}, basin {name!r}: chunk record {rec} missing")
        records.append(json.loads(rec.read_text()))
    norm: dict[str, dict[str, float]] = {}
    group = zarr.open_group(store=str(store), path=name, mode="r+", **_NO_CONS)
    for v in VARIABLES:
        n, mean, m2 = _merge(r["stats"][v] for r in records)
        if n == 0:
            raise TileStoreError(
                f"tile store {store}, basin {name!r}: variable {v} has no finite values"
            )
        std = math.sqrt(m2 / n)
        norm[v] = {"mean": mean, "std": std}
        arr = group[v]
        arr.attrs.update({"norm_mean": mean, "norm_std": std})
    missing = np.concatenate([np.asarray(r.get("missing", []), dtype=np.int64) for r in records])
    times = xr.open_zarr(store, group=name, consolidated=False, **_decode_kw())["time"].values
    bad = np.flatnonzero(missing)
    group.attrs.update(
        {
            "normalization": norm,
            "normalization_count": int(n),
            # per time chunk (count, mean, M2) of each variable: training takes its statistics
            # from the chunks of the train period only (TileClipDataset)
            "chunk_moments": {v: [r["stats"][v] for r in records] for v in VARIABLES},
            "chunk_size": int(time_chunk),
            "missing_cells": int(missing.sum()),
            "missing_times": [str(times[i]) for i in bad[:1000]],
            "missing_time_count": int(bad.size),
        }
    )
    if bad.size:
        log.warning(
            "tile store %s, basin %s: %d missing cells (all variables) at %d time(s), first %s",
            store, name, int(missing.sum()), bad.size, times[bad[0]],
        )  # fmt: skip
    group.attrs[COMPLETE_ATTR] = True
    shutil.rmtree(progress_dir, ignore_errors=True)
    return norm


def start_group(
    store: Path, progress_dir: Path, name: str, tile: xr.Dataset, time_chunk: int
) -> set[int] | None:
    """Create or check the group; the chunk indices still to write (None: basin complete)."""
    attrs = group_attrs(store, name) if has_group(store, name) else None
    if attrs is not None:
        why = compatible(store, name, tile)
        if attrs.get(COMPLETE_ATTR) and why is None:
            log.info("basin %s already complete in %s; skipping", name, store)
            return None
        if why is not None:
            log.warning(
                "basin %s in %s does not match the inputs (%s); rewriting it", name, store, why
            )
            attrs = None
    if attrs is None:
        shutil.rmtree(progress_dir, ignore_errors=True)
        create_group(store, name, tile, time_chunk)
    progress_dir.mkdir(parents=True, exist_ok=True)
    n_chunks = math.ceil(tile.sizes["time"] / time_chunk)
    return {
        i for i in range(n_chunks) if not (progress_dir / f"{i * time_chunk:010d}.json").exists()
    }
