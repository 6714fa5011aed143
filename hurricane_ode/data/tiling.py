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

__all__ = ["BasinPlan", "plan_basin", "read_basin_block", "tile_chunk", "prepare_files"]


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
    keys, kept = [], []
    for dim in var.dimensions:
        key = sel.get(dim, layout.squeeze.get(v, {}).get(dim, slice(None)))
        keys.append(key)
        if not isinstance(key, int):
            kept.append(dim)
    x = np.ma.asarray(var[tuple(keys)])
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    x = np.ma.filled(x, np.nan)
    d = layout.dims
    return np.transpose(x, [kept.index(d["time"]), kept.index(d["lat"]), kept.index(d["lon"])])


def read_basin_block(
    nc: Any, layout: FileLayout, plan: BasinPlan, names: Sequence[str], start: int, stop: int
) -> dict[str, np.ndarray]:
    """Time steps ``start:stop`` (file-local) of one basin, raw (not yet cleaned or regridded).

    Parameters
    ----------
    nc
        The file, an open :class:`netCDF4.Dataset` (auto mask and scale on).
    layout
        How the file maps onto the standardised grid.
    plan
        The basin.
    names
        Canonical variables.
    start, stop
        File-local time steps.

    Returns
    -------
    dict
        ``{variable: [stop - start, h, w]}`` on the basin's standardised sub-grid.
    """
    d = layout.dims
    fl = layout.lat_index[plan.lat_index]
    lo, hi = int(fl.min()), int(fl.max()) + 1
    fc = layout.lon_index[plan.lon_index]
    runs = _runs(fc)
    read_cols = np.concatenate([np.arange(a, b) for a, b in runs])
    lon_pos = np.searchsorted(read_cols, fc)
    out = {}
    for v in names:
        sel = {d["time"]: slice(start, stop), d["lat"]: slice(lo, hi)}
        pieces = [_read_raw(nc, layout, v, {**sel, d["lon"]: slice(a, b)}) for a, b in runs]
        block = pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=2)
        out[v] = block[:, fl - lo][:, :, lon_pos]
    return out


def _finish_block(x: np.ndarray, plan: BasinPlan, factor: float) -> np.ndarray:
    x = clean_values(x, factor)
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
                raws = {
                    plan.name: read_basin_block(
                        nc, layout, plan, names, a - layout.start, b - layout.start
                    )
                    for plan, _ in items
                }
            finally:
                nc.close()
        for plan, _ in items:  # regrid outside the lock
            blocks[plan.name].append(
                {
                    v: _finish_block(raws[plan.name][v], plan, layout.factors.get(v, 1.0))
                    for v in names
                }
            )
    for plan, record in items:
        parts = blocks[plan.name]
        arrays = [np.concatenate([p[v] for p in parts], axis=0) for v in names]
        write_chunk(store, plan.name, names, start, stop, record, *arrays)
    return len(items)


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
        for batch in batches(n_chunks, time_chunk, total, bounds, max(2, 2 * threads), needed):
            tasks = []
            for i in batch:
                a, b = i * time_chunk, min((i + 1) * time_chunk, total)
                items = [(plans[n], str(progress_root / n / f"{a:010d}.json"))
                         for n in todo if i in todo[n]]  # fmt: skip
                files = [lay for lay in layouts if lay.start < b and lay.stop > a]
                tasks.append(dask.delayed(tile_chunk, pure=False)(
                    str(store), VARIABLES, a, b, items, files))  # fmt: skip
            dask.compute(*tasks, scheduler=sched)
            bar.update(len(batch))
    finally:
        bar.close()
    for name in todo:
        finish_group(store, name, progress_root / name, n_chunks, time_chunk)
