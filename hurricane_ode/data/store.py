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
                                     {var: {"mean": m, "std": s}}, hurricane_ode_complete

How it is written (:func:`prepare_tiles`):

* Work happens under ``<output>.tmp/`` (``store.zarr`` + ``progress/``) and is renamed to
  ``<output>`` only when every requested basin is complete; nothing half-written ever
  carries the final name.
* Each basin group is created empty (metadata and coordinates only), then filled time chunk
  by time chunk: one dask task per chunk reads its slice of the lazy tile, writes it into its
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
  ``"tcp://host:8786"`` or a ``distributed.Client``. Workers must see the output path
  (a shared file system).
"""

from __future__ import annotations

import datetime as _dt
import glob
import json
import logging
import math
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import dask
import numpy as np
import xarray as xr
import zarr
from tqdm.auto import tqdm

from hurricane_ode.data.basins import Basin, get_basin, tile_basin
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

VARIABLES: tuple[str, ...] = ("U850", "V850", "PSL")
COMPLETE_ATTR = "hurricane_ode_complete"
DEFAULT_TIME_CHUNK = 8
_ZARR3 = int(zarr.__version__.split(".")[0]) >= 3
_FORMAT_KW: dict[str, Any] = {"zarr_format": 2} if _ZARR3 else {}
_NO_CONS: dict[str, Any] = {"use_consolidated": False} if _ZARR3 else {}


# --------------------------------------------------------------------------- moments


def _moments(values: np.ndarray) -> tuple[int, float, float]:
    """(count, mean, sum of squared deviations) of the finite values, float64."""
    a = np.asarray(values, dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return 0, 0.0, 0.0
    mean = float(a.mean())
    return int(a.size), mean, float(((a - mean) ** 2).sum())


def _merge(moments: Iterable[Sequence[float]]) -> tuple[int, float, float]:
    """Combine (count, mean, M2) triples exactly (Chan, Golub & LeVeque 1979)."""
    n, mean, m2 = 0, 0.0, 0.0
    for nb, mb, m2b in moments:
        nb = int(nb)
        if nb == 0:
            continue
        delta = mb - mean
        tot = n + nb
        mean += delta * nb / tot
        m2 += m2b + delta * delta * n * nb / tot
        n = tot
    return n, mean, m2


# --------------------------------------------------------------------------- worker task


def _write_chunk(
    store: str,
    group: str,
    names: tuple[str, ...],
    start: int,
    stop: int,
    record: str,
    *arrays: np.ndarray,
) -> dict[str, list[float]]:
    """Write one time chunk of every variable, then record its moments (runs on a worker)."""
    stats: dict[str, list[float]] = {}
    for name, arr in zip(names, arrays):
        z = zarr.open_array(store=store, path=f"{group}/{name}", mode="r+")
        if arr.shape != (stop - start, *z.shape[1:]):
            raise ValueError(
                f"tile store {store}, basin {group!r}, variable {name}: chunk {start}:{stop} "
                f"has shape {arr.shape}, expected {(stop - start, *z.shape[1:])}"
            )
        z[start:stop] = np.asarray(arr, dtype=z.dtype)
        stats[name] = list(_moments(arr))
    tmp = f"{record}.part"
    with open(tmp, "w") as fh:
        json.dump({"start": start, "stop": stop, "stats": stats}, fh)
    os.replace(tmp, record)
    return stats


# --------------------------------------------------------------------------- helpers


def _expand_inputs(inputs: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    items = [inputs] if isinstance(inputs, str | os.PathLike) else list(inputs)
    paths: list[str] = []
    for item in items:
        s = os.fspath(item)
        if glob.has_magic(s):
            found = sorted(glob.glob(os.path.expanduser(s)))
            if not found:
                raise FileNotFoundError(f"prepare: no input files match {s!r}")
            paths.extend(found)
        elif Path(s).expanduser().is_dir():
            found = sorted(str(f) for f in Path(s).expanduser().glob("*.nc"))
            if not found:
                raise FileNotFoundError(f"prepare: input directory {s} holds no *.nc files")
            paths.extend(found)
        else:
            if not Path(s).expanduser().exists():
                raise FileNotFoundError(f"prepare: input file not found: {s}")
            paths.append(str(Path(s).expanduser()))
    if not paths:
        raise ValueError("prepare: no input files given")
    return paths


def _open_inputs(inputs: Any) -> tuple[xr.Dataset, list[str]]:
    if isinstance(inputs, xr.Dataset):
        ds, files = inputs, [str(inputs.encoding.get("source", "<in-memory dataset>"))]
    else:
        from hurricane_ode.data.cam5 import open_cam5

        files = _expand_inputs(inputs)
        ds = open_cam5(files)
    missing = [v for v in VARIABLES if v not in ds.data_vars]
    if missing:
        raise ValueError(
            f"prepare: input is missing variable(s) {missing}; expected {list(VARIABLES)} "
            f"with dims (time, lat, lon), found {list(ds.data_vars)}"
        )
    for v in VARIABLES:
        if set(ds[v].dims) != {"time", "lat", "lon"}:
            raise ValueError(
                f"prepare: variable {v} has dims {ds[v].dims}, expected (time, lat, lon)"
            )
    return ds[list(VARIABLES)], files


def _calendar(ds: xr.Dataset) -> str | None:
    cal = ds["time"].encoding.get("calendar")
    if cal:
        return str(cal)
    try:
        return str(ds["time"].dt.calendar)
    except (AttributeError, TypeError):
        return None


def _resolve_scheduler(scheduler: Any) -> tuple[Any, Any, int]:
    """-> (scheduler for dask.compute, client to close or None, threads available)."""
    if scheduler is None:
        return None, None, int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    if isinstance(scheduler, str) and scheduler in (
        "threads",
        "processes",
        "sync",
        "synchronous",
        "single-threaded",
    ):
        return (
            scheduler,
            None,
            1 if scheduler.startswith(("sync", "single")) else os.cpu_count() or 1,
        )
    if isinstance(scheduler, str):
        try:
            from distributed import Client
        except ImportError as exc:  # pragma: no cover - distributed is a declared extra
            raise ImportError(
                "prepare: --scheduler ADDRESS needs dask.distributed (pip install 'hurricane_ode[distributed]')"
            ) from exc
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise ValueError(
                f"prepare: cannot connect to dask scheduler at {scheduler!r}: {exc}"
            ) from exc
        return client, client, max(1, sum(client.nthreads().values()))
    if hasattr(scheduler, "nthreads") and hasattr(scheduler, "get"):  # distributed.Client
        return scheduler, None, max(1, sum(scheduler.nthreads().values()))
    raise TypeError(
        f"prepare: scheduler must be None, 'threads'/'processes'/'sync', an address or a "
        f"distributed.Client, got {type(scheduler).__name__}"
    )


def list_basins_in_store(path: str | os.PathLike) -> list[str]:
    """Names of the groups (basins) in a tile store."""
    group = zarr.open_group(store=str(path), mode="r", **_NO_CONS)
    return sorted(group.group_keys())


def _group_attrs(store: Path, name: str) -> dict[str, Any] | None:
    try:
        return dict(zarr.open_group(store=str(store), path=name, mode="r", **_NO_CONS).attrs)
    except Exception:  # noqa: BLE001 - missing or unreadable group
        return None


def _has_group(store: Path, name: str) -> bool:
    return store.exists() and name in list_basins_in_store(store)


def _batches(
    n_chunks: int, chunk: int, total: int, input_bounds: set[int], target: int, todo: set[int]
) -> list[list[int]]:
    """Group chunk indices in ``todo`` into batches of >= target chunks ending on input boundaries."""
    out: list[list[int]] = []
    cur: list[int] = []
    for i in range(n_chunks):
        if i in todo:
            cur.append(i)
        stop = min((i + 1) * chunk, total)
        if cur and (
            (len(cur) >= target and (stop in input_bounds or stop == total))
            or len(cur) >= 8 * target
        ):
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _consolidate(store: Path, groups: Iterable[str]) -> None:
    """Consolidated metadata (``.zmetadata``) in every group and at the root."""
    for g in groups:
        zarr.consolidate_metadata(str(store), path=g, **_FORMAT_KW)
    zarr.consolidate_metadata(str(store), **_FORMAT_KW)


def _drop_consolidated(store: Path) -> None:
    """Remove stale ``.zmetadata`` files before a store is modified."""
    for meta in store.rglob(".zmetadata"):
        meta.unlink()


# --------------------------------------------------------------------------- one basin


def _compatible(store: Path, name: str, tile: xr.Dataset) -> str | None:
    """None when the existing group matches ``tile``'s grid and times; else the reason."""
    try:
        old = xr.open_zarr(store, group=name, consolidated=False)
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


def _create_group(store: Path, name: str, tile: xr.Dataset, time_chunk: int) -> None:
    shutil.rmtree(store / name, ignore_errors=True)
    h, w = tile.sizes["lat"], tile.sizes["lon"]
    encoding: dict[str, dict[str, Any]] = {
        v: {"chunks": (time_chunk, h, w), "dtype": "float32"} for v in VARIABLES
    }
    encoding["lat"] = {"_FillValue": None}
    encoding["lon"] = {"_FillValue": None}
    cal = _calendar(tile)
    encoding["time"] = {"calendar": cal} if cal else {}
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


def _finish_group(
    store: Path, name: str, progress_dir: Path, n_chunks: int, time_chunk: int
) -> dict:
    records = []
    for i in range(n_chunks):
        rec = progress_dir / f"{i * time_chunk:010d}.json"
        if not rec.exists():
            raise RuntimeError(f"tile store {store}, basin {name!r}: chunk record {rec} missing")
        records.append(json.loads(rec.read_text())["stats"])
    norm: dict[str, dict[str, float]] = {}
    group = zarr.open_group(store=str(store), path=name, mode="r+", **_NO_CONS)
    for v in VARIABLES:
        n, mean, m2 = _merge(r[v] for r in records)
        if n == 0:
            raise ValueError(
                f"tile store {store}, basin {name!r}: variable {v} has no finite values"
            )
        std = math.sqrt(m2 / n)
        norm[v] = {"mean": mean, "std": std}
        arr = group[v]
        arr.attrs.update({"norm_mean": mean, "norm_std": std})
    group.attrs.update({"normalization": norm, "normalization_count": int(n)})
    group.attrs[COMPLETE_ATTR] = True
    shutil.rmtree(progress_dir, ignore_errors=True)
    return norm


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
) -> Path:
    """Tile CAM5 fields into a Zarr store with one group per basin; return the store path.

    inputs: a glob (``"DIR/*.nc"``), path(s), or an open Dataset with U850, V850, PSL
        (time, lat, lon) as from :func:`hurricane_ode.data.cam5.open_cam5`.
    basins: basin name(s), ``"bbox:..."`` strings, 4-tuples or :class:`Basin` s.
    shape: ``(H, W)`` to regrid each tile conservatively, or ``None`` for native resolution.
    output: store path (local file system). See the module docstring for the layout,
        resume behaviour and ``scheduler``; ``overwrite=True`` rebuilds everything.
    """
    if isinstance(basins, str | Basin) or (
        isinstance(basins, tuple)
        and len(basins) == 4
        and all(isinstance(x, int | float) for x in basins)
    ):
        basins = [basins]  # type: ignore[list-item]
    resolved: dict[str, Basin] = {}
    for spec in basins:  # type: ignore[union-attr]
        b = get_basin(spec)
        resolved.setdefault(b.name, b)
    if not resolved:
        raise ValueError("prepare: give at least one basin")
    if shape is not None:
        shape = tuple(int(s) for s in shape)  # type: ignore[assignment]
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"prepare: shape must be two positive integers H W, got {shape!r}")
    if time_chunk < 1:
        raise ValueError(f"prepare: time_chunk must be >= 1, got {time_chunk}")

    output = Path(output).expanduser()
    work = output.with_name(output.name + ".tmp")
    store = work / "store.zarr"
    progress_root = work / "progress"
    check_work_dir(work, ("store.zarr", "progress"))  # never use or delete a user's folder

    ds, files = _open_inputs(inputs)
    tiles = {name: tile_basin(ds, b, shape) for name, b in resolved.items()}

    if overwrite:
        shutil.rmtree(work, ignore_errors=True)
    elif output.exists():
        existing = set(list_basins_in_store(output))
        pending = [
            n
            for n in resolved
            if n not in existing or not (_group_attrs(output, n) or {}).get(COMPLETE_ATTR)
        ]
        for n in resolved:
            if n in existing and n not in pending:
                why = _compatible(output, n, tiles[n])
                if why:
                    raise ValueError(
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
    attrs = _group_attrs(store, name) if _has_group(store, name) else None
    if attrs is not None:
        why = _compatible(store, name, tile)
        if attrs.get(COMPLETE_ATTR) and why is None:
            log.info("basin %s already complete in %s; skipping", name, store)
            return
        if why is not None:
            log.warning(
                "basin %s in %s does not match the inputs (%s); rewriting it", name, store, why
            )
            attrs = None
    if attrs is None:
        shutil.rmtree(progress_dir, ignore_errors=True)
        _create_group(store, name, tile, time_chunk)
    progress_dir.mkdir(parents=True, exist_ok=True)

    total = tile.sizes["time"]
    n_chunks = math.ceil(total / time_chunk)
    todo = {
        i for i in range(n_chunks) if not (progress_dir / f"{i * time_chunk:010d}.json").exists()
    }
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
    _finish_group(store, name, progress_dir, n_chunks, time_chunk)


def open_tiles(path: str | os.PathLike, basin: str | Basin) -> xr.Dataset:
    """Open one basin of a tile store lazily (dask, consolidated metadata).

    Raises ``FileNotFoundError`` (no store; mentions an unfinished ``.tmp``) or ``ValueError``
    naming the store and basin and listing the groups present, also for an incomplete basin.
    """
    p = Path(path).expanduser()
    name = basin.name if isinstance(basin, Basin) else str(basin)
    if not p.exists():
        tmp = p.with_name(p.name + ".tmp")
        hint = (
            f" (an unfinished run left {tmp}; re-run `hurricane-ode prepare` to complete it)"
            if tmp.exists()
            else ""
        )
        raise FileNotFoundError(f"tile store not found: {p}{hint}")
    try:
        groups = list_basins_in_store(p)
    except Exception as exc:  # noqa: BLE001
        raise ValueError(f"{p} is not a readable Zarr tile store: {exc}") from exc
    if name not in groups:
        raise ValueError(
            f"tile store {p} has no basin group {name!r}; groups present: {groups or 'none'}"
        )
    ds = xr.open_zarr(p, group=name, consolidated=True)
    if not ds.attrs.get(COMPLETE_ATTR):
        raise ValueError(f"tile store {p}, basin {name!r} is incomplete; re-run prepare")
    return ds


def read_norm_stats(
    ds_or_path: xr.Dataset | str | os.PathLike, basin: str | None = None
) -> dict[str, tuple[float, float]]:
    """``{variable: (mean, std)}`` in the variable's units, from a tile group or store path.

    With a path and ``basin=None`` the store must hold exactly one basin.
    """
    if isinstance(ds_or_path, xr.Dataset):
        ds, where = ds_or_path, "dataset"
    else:
        p = Path(ds_or_path)
        if basin is None:
            groups = list_basins_in_store(p) if p.exists() else []
            if len(groups) != 1:
                raise ValueError(
                    f"read_norm_stats: give basin=... for tile store {p}; groups present: {groups}"
                )
            basin = groups[0]
        ds, where = open_tiles(p, basin), f"tile store {p}, basin {basin!r}"
    norm = ds.attrs.get("normalization")
    if isinstance(norm, dict) and norm:
        return {v: (float(s["mean"]), float(s["std"])) for v, s in norm.items()}
    out = {}
    for v in ds.data_vars:
        if "norm_mean" in ds[v].attrs and "norm_std" in ds[v].attrs:
            out[str(v)] = (float(ds[v].attrs["norm_mean"]), float(ds[v].attrs["norm_std"]))
    if not out:
        raise ValueError(f"read_norm_stats: {where} has no normalization statistics")
    return out
