"""The Zarr tile store: one group per basin, written in a single streaming pass.

Layout of a store ``tiles.zarr`` (Zarr format 2 on disk, readable by zarr-python 2 and 3;
consolidated metadata in ``.zmetadata`` at the root and in every group)::

    tiles.zarr/                      root attrs: title, Conventions, history, source_files,
                                     hurricane_ode_version, time_chunk
      natl/                          one group per basin (group name = basin name)
        U850, V850, PSL              float32 (time, lat, lon), chunks (time_chunk, H, W),
                                     attrs norm_mean / norm_std (variable units)
        time, lat, lon               CF-encoded time with the input's calendar
        .zattrs                      tile attrs + basin, basin_bounds, normalization =
                                     {var: {"mean": m, "std": s}}, chunk_moments (per time
                                     chunk (count, mean, M2) of each variable, for train-period
                                     statistics), missing_cells, missing_times,
                                     hurricane_ode_complete

Tiles are at the data's native resolution unless ``shape``/``resolution`` coarsens them
(conservative, NaN-aware: :mod:`hurricane_ode.data.regrid`). The store is read back by
:func:`hurricane_ode.data.tile_reader.open_tiles` (re-exported here).

How it is written (:func:`prepare_tiles`):

* Work happens under ``<output>.tmp/`` (``store.zarr`` + ``progress/``) and is renamed to
  ``<output>`` only when every requested basin is complete; nothing half-written ever
  carries the final name.
* Each basin group is created empty (metadata and coordinates only), then filled time chunk
  by time chunk. File inputs: one task per chunk reads every pending basin's hyperslab straight
  from the file(s) (:mod:`hurricane_ode.data.tiling`). A Dataset input: one dask task per chunk
  and basin reads its slice of the lazy tile. Either way a task writes it into its
  own Zarr chunk (tasks never share a chunk) and returns the chunk's moments (count, mean,
  M2 per variable), which are also saved in ``progress/<basin>/<start>.json``. Chunks are
  computed in bounded batches, so memory stays bounded whatever the input size, and the
  input is read once (batches end on the input's own time-chunk boundaries).
* Normalisation statistics are merged from the per-chunk moments (Chan et al.'s parallel
  formula, float64): no second read of the data.
* Resume: a re-run skips basins whose group has ``hurricane_ode_complete = True`` and, for an
  incomplete basin, writes only the chunks without a progress record. A finished store that
  lacks a requested basin is moved back to ``<output>.tmp`` and extended.
* ``scheduler``: ``None`` (dask's default, threads), a named local scheduler
  (``"threads"``, ``"processes"``, ``"sync"``), a ``dask.distributed`` address such as
  ``"tcp://host:8786"``, ``"local"``/``"local:N"`` (a ``dask.distributed.LocalCluster`` of N
  worker processes, made and closed here) or a ``distributed.Client``. Workers must see the output path
  (a shared file system).
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import dask
import numpy as np
import xarray as xr
import zarr
from tqdm.auto import tqdm

from hurricane_ode.data._chunks import batches as _batches
from hurricane_ode.data._chunks import consolidate as _consolidate
from hurricane_ode.data._chunks import drop_consolidated as _drop_consolidated
from hurricane_ode.data._chunks import resolve_scheduler as _resolve_scheduler
from hurricane_ode.data._chunks import write_chunk as _write_chunk
from hurricane_ode.data._groups import compatible, finish_group, group_attrs, start_group
from hurricane_ode.data.basins import Basin, get_basin, tile_basin
from hurricane_ode.data.regrid import MIN_VALID_FRACTION
from hurricane_ode.data.schema import VARIABLES, check_variables
from hurricane_ode.data.tile_reader import (
    COMPLETE_ATTR,
    FORMAT_KW,
    NO_CONSOLIDATED,
    list_basins_in_store,
    open_tiles,
    read_norm_stats,
)
from hurricane_ode.data.tiling import prepare_files
from hurricane_ode.errors import InputError
from hurricane_ode.locking import locked_output
from hurricane_ode.outputs import check_work_dir, replace_path

__all__ = [
    "VARIABLES",
    "COMPLETE_ATTR",
    "prepare_tiles",
    "open_tiles",
    "read_norm_stats",
    "list_basins_in_store",
]

log = logging.getLogger(__name__)

DEFAULT_TIME_CHUNK = 8
_FORMAT_KW = FORMAT_KW
_NO_CONS = NO_CONSOLIDATED


def _open_inputs(inputs: Any) -> tuple[xr.Dataset, list[str], list]:
    """-> (standardised lazy dataset, file names, file layouts for direct reads)."""
    from hurricane_ode.data.cam5 import scan_cam5

    if inputs is None:
        raise InputError("prepare: no inputs given (None); pass CAM5 files, a glob or a Dataset")
    if isinstance(inputs, xr.Dataset):
        check_variables(inputs, "prepare: input")
        ds, layouts = scan_cam5(inputs)
        files = [str(inputs.encoding.get("source", "<in-memory dataset>"))]
    else:
        ds, layouts = scan_cam5(inputs)
        files = [str(lay.path) for lay in layouts]
    checked = check_variables(ds, "prepare: input")
    checked.set_close(ds.close)  # closing the checked subset closes the files scan_cam5 opened
    return checked, files, layouts


# --------------------------------------------------------------------------- one basin


# --------------------------------------------------------------------------- public API


@locked_output("output", make_parents=True)  # one writer; a foreign folder there is refused
def prepare_tiles(
    inputs: str | os.PathLike | Sequence[str | os.PathLike] | xr.Dataset,
    basins: str | Basin | Sequence[str | Basin | Sequence[float]],
    shape: tuple[int, int] | None,
    output: str | os.PathLike,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: bool = True,
    time_chunk: int = DEFAULT_TIME_CHUNK,
    resolution: float | None = None,
    min_valid_fraction: float = MIN_VALID_FRACTION,
) -> Path:
    """Tile CAM5 fields into a Zarr store with one group per basin; return the store path.

    Parameters
    ----------
    inputs
        A glob (``"DIR/*.nc"``), path(s), or an open Dataset with U850, V850, PSL
        (time, lat, lon), standardised by :func:`hurricane_ode.data.cam5.open_cam5`. Files are
        read by the streaming tiler (:mod:`hurricane_ode.data.tiling`: each basin's hyperslab
        only, every basin in one pass); a Dataset through dask.
    basins
        Basin name(s), ``"bbox:..."`` strings, 4-tuples or :class:`Basin` s.
    shape
        ``None`` (default): the data's native resolution. ``(H, W)``: coarsen each tile
        conservatively and NaN-aware to ``H x W`` cells.
    output
        Store path (local file system). See the module docstring for the layout, resume
        behaviour and ``scheduler``; ``overwrite=True`` rebuilds everything.
    scheduler, overwrite, progress, time_chunk
        See the module docstring.
    resolution
        Alternative to ``shape``: cell size in degrees.
    min_valid_fraction
        A coarse cell is missing only when less than this share of its area is valid.

    Returns
    -------
    Path
        The store. Each group's attrs ``missing_cells`` / ``missing_times`` report missing
        values (also logged as a warning).
    """
    if isinstance(basins, str | Basin) or (
        isinstance(basins, tuple)
        and len(basins) == 4
        and all(isinstance(x, int | float) for x in basins)
    ):
        basins = [basins]  # type: ignore[list-item]
    resolved: dict[str, Basin] = {}
    for spec in basins:
        b = get_basin(spec)
        resolved.setdefault(b.name, b)
    if not resolved:
        raise InputError("prepare: give at least one basin")
    if shape is not None:
        if len(tuple(shape)) != 2 or any(int(x) != x or x < 1 for x in shape):
            raise InputError(f"prepare: shape must be two positive integers H W, got {shape!r}")
        shape = (int(shape[0]), int(shape[1]))
    if time_chunk < 1:
        raise InputError(f"prepare: time_chunk must be >= 1, got {time_chunk}")

    output = Path(output).expanduser()
    work = output.with_name(output.name + ".tmp")
    store = work / "store.zarr"
    progress_root = work / "progress"
    check_work_dir(work, ("store.zarr", "progress"))  # never use or delete a user's folder

    ds, files, layouts = _open_inputs(inputs)
    tiles = {
        name: tile_basin(ds, b, shape, resolution=resolution, min_valid_fraction=min_valid_fraction)
        for name, b in resolved.items()
    }

    if overwrite:
        shutil.rmtree(work, ignore_errors=True)
    elif output.exists():
        existing = set(list_basins_in_store(output))
        pending = [
            n
            for n in resolved
            if n not in existing or not (group_attrs(output, n) or {}).get(COMPLETE_ATTR)
        ]
        for n in resolved:
            if n in existing and n not in pending:
                why = compatible(output, n, tiles[n])
                if why:
                    raise InputError(
                        f"prepare: tile store {output} already has basin {n!r} built from other "
                        f"inputs or another shape ({why}); use --overwrite or another --output"
                    )
        if not pending:
            log.info("tile store %s already complete for %s", output, list(resolved))
            return output
        if work.exists():
            raise FileExistsError(
                f"prepare: both {output} and {work} exist; remove one or use --overwrite"
            )
        log.info("extending %s with %s (moved to %s while writing)", output, pending, work)
        work.mkdir(parents=True)
        os.replace(output, store)
        _drop_consolidated(store)

    work.mkdir(parents=True, exist_ok=True)
    progress_root.mkdir(exist_ok=True)
    if not (store / ".zgroup").exists() and not (store / "zarr.json").exists():
        root = zarr.open_group(store=str(store), mode="w", **_FORMAT_KW)
        root.attrs.update(
            {
                "title": "hurricane_ode basin tile store",
                "Conventions": "CF-1.8",
                "history": f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} hurricane-ode prepare",
                "source_files": [os.path.basename(f) for f in files],
                "time_chunk": int(time_chunk),
            }
        )
        from hurricane_ode import __version__

        root.attrs["hurricane_ode_version"] = __version__

    sched, own_client, threads = _resolve_scheduler(scheduler)
    try:
        if layouts:
            regrid = shape is not None or resolution is not None
            shapes = {n: (t.sizes["lat"], t.sizes["lon"]) if regrid else None
                      for n, t in tiles.items()}  # fmt: skip
            # (layouts: file inputs, opened by _open_inputs.) The reads below reopen each file: an
            # xarray handle left open shares HDF5's file object and keeps every chunk they read
            # (measured: ~200 MB per 0.25-degree file)
            ds.close()
            prepare_files(store, progress_root, resolved, tiles, shapes, ds, layouts,
                           min_valid_fraction, time_chunk, sched, threads, progress)  # fmt: skip
        else:
            for name, tile in tiles.items():
                _prepare_one(
                    store, progress_root / name, name, tile, time_chunk, sched, threads, progress
                )
        _consolidate(store, list_basins_in_store(store))
    finally:
        if own_client is not None:
            own_client.close()

    replace_path(store, output)  # overwrite: the old store is deleted only after the swap
    shutil.rmtree(work, ignore_errors=True)
    return output


def _prepare_one(
    store: Path,
    progress_dir: Path,
    name: str,
    tile: xr.Dataset,
    time_chunk: int,
    sched: Any,
    threads: int,
    progress: bool,
) -> None:
    todo = start_group(store, progress_dir, name, tile, time_chunk)
    if todo is None:
        return
    total = tile.sizes["time"]
    n_chunks = math.ceil(total / time_chunk)
    data = {v: tile[v].data for v in VARIABLES}
    if not any(isinstance(d, dask.array.Array) for d in data.values()):
        data = {
            v: dask.array.from_array(np.asarray(d), chunks=(time_chunk, -1, -1))
            for v, d in data.items()
        }
    bounds = set(np.cumsum(data[VARIABLES[0]].chunks[0]).tolist())  # the input's time chunks
    batches = _batches(n_chunks, time_chunk, total, bounds, max(2, 2 * threads), todo)
    # one delayed block per output chunk; the graph is optimised once per variable
    blocks = {v: d.rechunk((time_chunk, -1, -1)).to_delayed().reshape(-1) for v, d in data.items()}

    bar = tqdm(
        total=n_chunks,
        initial=n_chunks - len(todo),
        desc=f"tiling {name}",
        unit="chunk",
        disable=not progress,
    )
    try:
        for batch in batches:
            tasks = []
            for i in batch:
                a, b = i * time_chunk, min((i + 1) * time_chunk, total)
                tasks.append(
                    dask.delayed(_write_chunk, pure=False)(
                        str(store),
                        name,
                        VARIABLES,
                        a,
                        b,
                        str(progress_dir / f"{a:010d}.json"),
                        *(blocks[v][i] for v in VARIABLES),
                    )
                )
            dask.compute(*tasks, scheduler=sched)
            bar.update(len(batch))
    finally:
        bar.close()
    finish_group(store, name, progress_dir, n_chunks, time_chunk)
