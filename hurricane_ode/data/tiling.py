"""Streaming tiler: every requested basin from one pass over each CAM5 file, hyperslabs only.

For file inputs :func:`hurricane_ode.data.store.prepare_tiles` runs one task per output time
chunk. A task opens the file(s) holding its time steps and, for each basin, reads only that
basin's hyperslab (its latitude rows and one or two longitude runs; a basin crossing the
file's longitude seam is two runs), standardises it exactly as
:func:`~hurricane_ode.data.cam5.open_cam5` would (lat ascending, lon on the basin's axis, fill
values -> NaN, units -> SI), regrids it when asked (:func:`~hurricane_ode.data.regrid.regrid_block`,
the same code as :func:`~hurricane_ode.data.basins.tile_basin`) and writes the basin's Zarr
chunk. Memory per task: one time chunk of the basins' hyperslabs; tasks run in bounded
batches, so peak memory does not grow with the input.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import netCDF4
import numpy as np
import xarray as xr
from tqdm.auto import tqdm
from xarray.backends.locks import HDF5_LOCK, NETCDFC_LOCK, combine_locks

from hurricane_ode.data._chunks import batches, write_chunk
from hurricane_ode.data._groups import finish_group, start_group
from hurricane_ode.data._standardise import FileLayout, clean_values
from hurricane_ode.data.basins import Basin, _cut
from hurricane_ode.data.regrid import basin_weights, regrid_block
from hurricane_ode.data.schema import VARIABLES

_NETCDF_LOCK = combine_locks([NETCDFC_LOCK, HDF5_LOCK])  # the lock xarray reads netCDF4 under

__all__ = ["BasinPlan", "plan_basin", "read_basins", "tile_chunk", "prepare_files"]


@dataclass
class BasinPlan:
    """Which standardised grid points make a basin's tile, and the regrid weights (or None)."""

    name: str
    lat_index: np.ndarray
    lon_index: np.ndarray
    weights: tuple[np.ndarray, np.ndarray] | None
    min_valid_fraction: float


def plan_basin(
    ds: xr.Dataset, basin: Basin, shape: tuple[int, int] | None, min_valid_fraction: float
) -> BasinPlan:
    """Plan one basin on the standardised grid of ``ds`` (as :func:`tile_basin` cuts it).

    Parameters
    ----------
    ds
        The standardised dataset (only its ``lat``/``lon`` are used).
    basin
        The box.
    shape
        ``(H, W)`` to regrid, or None for native resolution.
    min_valid_fraction
        See :mod:`hurricane_ode.data.regrid`.

    Returns
    -------
    BasinPlan
    """
    idx = xr.Dataset(
        {"li": ("lat", np.arange(ds.sizes["lat"])), "lj": ("lon", np.arange(ds.sizes["lon"]))},
        coords={"lat": ds["lat"].values, "lon": ds["lon"].values},
    )
    sub, _, _ = _cut(idx, basin, padded=shape is not None)
    weights = None
    if shape is not None:
        w_lat, w_lon, _, _ = basin_weights(
            sub["lat"].values, sub["lon"].values, basin.bounds, shape
        )
        weights = (w_lat, w_lon)
    return BasinPlan(basin.name, sub["li"].values, sub["lj"].values, weights, min_valid_fraction)


def _runs(index: np.ndarray) -> list[tuple[int, int]]:
    """Sorted unique indices -> contiguous ``(start, stop)`` runs."""
    u = np.unique(index)
    breaks = np.nonzero(np.diff(u) != 1)[0] + 1
    return [(int(r[0]), int(r[-1]) + 1) for r in np.split(u, breaks)]


def _read_raw(nc: Any, layout: FileLayout, v: str, sel: dict[str, Any]) -> np.ndarray:
    """One hyperslab of variable ``v`` (masked/fill values -> NaN), axes (time, lat, lon)."""
    var = nc.variables[layout.names[v]]
    filters = var.filters() or {}
    if not any(filters.get(k) for k in ("zlib", "szip", "zstd", "bzip2", "blosc")):
        # uncompressed chunks: without a chunk cache HDF5 reads just the selected bytes
        var.set_var_chunk_cache(size=0, nelems=0, preemption=0.0)
    keys, kept = [], []
    for dim in var.dimensions:
        key = sel.get(dim, layout.squeeze.get(v, {}).get(dim, slice(None)))
        keys.append(key)
        if not isinstance(key, int):
            kept.append(dim)
    raw: np.ndarray = np.ma.asarray(var[tuple(keys)])
    if not np.issubdtype(raw.dtype, np.floating):
        raw = raw.astype(np.float64)
    x = np.ma.filled(raw, np.nan)
    d = layout.dims
    return np.transpose(x, [kept.index(d["time"]), kept.index(d["lat"]), kept.index(d["lon"])])


def _as_slice(index: np.ndarray) -> slice | np.ndarray:
    if index.size and np.all(np.diff(index) == 1):
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


def _take(block: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``block[:, rows][:, :, cols]`` as a new array (one copy), never a view of ``block``."""
    r, c = _as_slice(rows), _as_slice(cols)
    if isinstance(r, slice) or isinstance(c, slice):
        return np.array(block[:, r][:, :, c], order="C", copy=True)  # owned: cleaned in place
    return block[:, rows[:, None], cols[None, :]]


def read_basins(
    nc: Any,
    layout: FileLayout,
    plans: Sequence[BasinPlan],
    names: Sequence[str],
    start: int,
    stop: int,
) -> dict[str, dict[str, np.ndarray]]:
    """Time steps ``start:stop`` (file-local) of several basins, raw (not cleaned or regridded).

    One hyperslab read per variable serves every basin when their bounding box is no larger
    than their separate boxes together (e.g. all six basins: one read of the tropics); else
    each basin reads its own box (e.g. one basin: ~15 % of the globe).

    Parameters
    ----------
    nc
        The file, an open :class:`netCDF4.Dataset` (auto mask and scale on).
    layout
        How the file maps onto the standardised grid.
    plans
        The basins.
    names
        Canonical variables.
    start, stop
        File-local time steps.

    Returns
    -------
    dict
        ``{basin: {variable: [stop - start, h, w]}}`` on each basin's standardised sub-grid.
    """
    d = layout.dims
    geo = [(layout.lat_index[p.lat_index], layout.lon_index[p.lon_index]) for p in plans]
    boxes = [
        (int(fl.min()), int(fl.max()) + 1, np.unique(fc), [k]) for k, (fl, fc) in enumerate(geo)
    ]
    if len(boxes) > 1:
        lo, hi = min(b[0] for b in boxes), max(b[1] for b in boxes)
        cols = np.unique(np.concatenate([b[2] for b in boxes]))
        if (hi - lo) * cols.size <= sum((b[1] - b[0]) * b[2].size for b in boxes):
            boxes = [(lo, hi, cols, list(range(len(plans))))]
    out: dict[str, dict[str, np.ndarray]] = {p.name: {} for p in plans}
    for v in names:
        for lo, hi, cols, members in boxes:
            sel = {d["time"]: slice(start, stop), d["lat"]: slice(lo, hi)}
            pieces = [
                _read_raw(nc, layout, v, {**sel, d["lon"]: slice(a, b)}) for a, b in _runs(cols)
            ]
            block = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=2)
            for k in members:
                fl, fc = geo[k]
                out[plans[k].name][v] = _take(block, fl - lo, np.searchsorted(cols, fc))
    return out


def _finish_block(x: np.ndarray, plan: BasinPlan, factor: float) -> np.ndarray:
    x = clean_values(x, factor, out=x if x.dtype == np.float32 and x.flags.writeable else None)
    if plan.weights is not None:
        x = regrid_block(x, *plan.weights, min_valid_fraction=plan.min_valid_fraction)
    return x


def tile_chunk(
    store: str,
    names: tuple[str, ...],
    start: int,
    stop: int,
    items: Sequence[tuple[BasinPlan, str]],
    layouts: Sequence[FileLayout],
) -> int:
    """Read global time steps ``start:stop`` for every basin in ``items`` and write their chunks.

    ``items``: ``(plan, progress record path)`` per basin; ``layouts``: the files overlapping
    the chunk. Returns the number of basins written.
    """
    blocks: dict[str, list[dict[str, np.ndarray]]] = {plan.name: [] for plan, _ in items}
    for layout in layouts:
        a, b = max(start, layout.start), min(stop, layout.stop)
        if a >= b:
            continue
        with _NETCDF_LOCK:  # HDF5 is not thread-safe: open, read and close under xarray's lock
            nc = netCDF4.Dataset(layout.path, mode="r")
            try:
                nc.set_auto_maskandscale(True)
                raws = read_basins(
                    nc, layout, [p for p, _ in items], names, a - layout.start, b - layout.start
                )
            finally:
                nc.close()
        for plan, _ in items:  # regrid outside the lock, freeing each raw block once used
            raw = raws.pop(plan.name)
            blocks[plan.name].append(
                {v: _finish_block(raw.pop(v), plan, layout.factors.get(v, 1.0)) for v in names}
            )
    for plan, record in items:
        parts = blocks.pop(plan.name)
        arrays = [
            parts[0][v] if len(parts) == 1 else np.concatenate([p[v] for p in parts], axis=0)
            for v in names
        ]
        write_chunk(store, plan.name, names, start, stop, record, *arrays)
        del parts, arrays
    return len(items)


def _run_chunk(args: tuple) -> int:
    return tile_chunk(*args)


def prepare_files(
    store: Path,
    progress_root: Path,
    basins: dict[str, Basin],
    tiles: dict[str, xr.Dataset],
    shapes: dict[str, tuple[int, int] | None],
    ds: xr.Dataset,
    layouts: list,
    min_valid_fraction: float,
    time_chunk: int,
    sched: Any,
    threads: int,
    progress: bool,
) -> None:
    """File inputs: one task per time chunk reads every pending basin's hyperslab, one pass."""
    todo: dict[str, set[int]] = {}
    for name, tile in tiles.items():
        pending = start_group(store, progress_root / name, name, tile, time_chunk)
        if pending is not None:
            todo[name] = pending
    plans = {n: plan_basin(ds, basins[n], shapes[n], min_valid_fraction) for n in todo}
    total = ds.sizes["time"]
    n_chunks = math.ceil(total / time_chunk)
    needed = set().union(*todo.values()) if todo else set()
    bounds = {lay.stop for lay in layouts}
    bar = tqdm(total=len(needed), desc=f"tiling {', '.join(todo)}", unit="chunk",
               disable=not progress or not needed)  # fmt: skip
    try:
        for batch in batches(n_chunks, time_chunk, total, bounds, max(2, threads), needed):
            tasks = []
            for i in batch:
                a, b = i * time_chunk, min((i + 1) * time_chunk, total)
                items = [(plans[n], str(progress_root / n / f"{a:010d}.json"))
                         for n in todo if i in todo[n]]  # fmt: skip
                files = [lay for lay in layouts if lay.start < b and lay.stop > a]
                # plans hold arrays: wrapped so dask does not walk them looking for collections
                args = dask.delayed((str(store), VARIABLES, a, b, items, files), traverse=False)
                tasks.append(dask.delayed(_run_chunk, pure=False)(args))
            dask.compute(*tasks, scheduler=sched)
            bar.update(len(batch))
    finally:
        bar.close()
    for name in todo:
        finish_group(store, name, progress_root / name, n_chunks, time_chunk)
