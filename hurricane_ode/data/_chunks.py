"""Chunk-level machinery of the tile-store writer: moments, chunk writes, batches, schedulers.

Private to :mod:`hurricane_ode.data.store` and :mod:`hurricane_ode.data.tiling`.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import dask
import numcodecs
import numpy as np
import zarr

from hurricane_ode.data.tile_reader import FORMAT_KW
from hurricane_ode.errors import InputError, InputTypeError, OptionalDependencyError

_LOCAL_SCHEDULERS = ("threads", "processes", "sync", "synchronous", "single-threaded")


def moments(values: np.ndarray, finite: np.ndarray | None = None) -> tuple[int, float, float]:
    """(count, mean, sum of squared deviations) of the finite values, float64.

    ``finite``: ``np.isfinite(values)`` when the caller has it already.
    """
    a = np.asarray(values)
    finite = np.isfinite(a) if finite is None else finite
    if not finite.all():
        a = a[finite]
    if a.size == 0:
        return 0, 0.0, 0.0
    mean = float(a.mean(dtype=np.float64))
    d = a.astype(np.float64).ravel()
    d -= mean
    return int(a.size), mean, float(np.dot(d, d))


def merge(parts: Iterable[Sequence[float]]) -> tuple[int, float, float]:
    """Combine (count, mean, M2) triples exactly (Chan, Golub & LeVeque 1979)."""
    n, mean, m2 = 0, 0.0, 0.0
    for nb, mb, m2b in parts:
        nb = int(nb)
        if nb == 0:
            continue
        delta = mb - mean
        tot = n + nb
        mean += delta * nb / tot
        m2 += m2b + delta * delta * n * nb / tot
        n = tot
    return n, mean, m2


_Layout = tuple[tuple[int, ...], tuple[int, ...], np.dtype, Any, float, str]


def _v2_layout(array_dir: str) -> _Layout | None:
    """(shape, chunks, dtype, codec, fill, separator) of a plain Zarr v2 array, else None."""
    try:
        stamp = (Path(array_dir) / ".zarray").stat().st_mtime_ns
    except OSError:
        return None
    return _v2_layout_cached(array_dir, stamp)


@functools.lru_cache(maxsize=256)
def _v2_layout_cached(array_dir: str, stamp: int) -> _Layout | None:
    meta_path = Path(array_dir) / ".zarray"
    meta = json.loads(meta_path.read_text())
    if meta.get("filters") or meta.get("order", "C") != "C" or meta.get("zarr_format") != 2:
        return None
    codec = numcodecs.get_codec(meta["compressor"]) if meta.get("compressor") else None
    fill = meta.get("fill_value")
    fill = float("nan") if fill in ("NaN", None) else float(fill)
    sep = meta.get("dimension_separator", ".")
    return tuple(meta["shape"]), tuple(meta["chunks"]), np.dtype(meta["dtype"]), codec, fill, sep


def _write_array_chunk(store: str, path: str, start: int, stop: int, arr: np.ndarray) -> None:
    """Write ``arr`` as time rows ``start:stop`` (one whole chunk along time, whole in space).

    For the plain Zarr v2 arrays this package creates, the chunk is encoded with the array's
    own codec and written straight to its chunk file (atomically), which costs a tenth of
    zarr-python's per-call overhead; anything else goes through zarr.
    """
    layout = _v2_layout(str(Path(store) / path))
    if layout is not None:
        shape, chunks, dtype, codec, fill, sep = layout
        if start % chunks[0] == 0 and tuple(chunks[1:]) == tuple(shape[1:]):
            full = np.asarray(arr, dtype=dtype)
            if full.shape[0] < chunks[0]:  # v2 edge chunks are stored at full size, padded
                pad = np.full((chunks[0] - full.shape[0], *full.shape[1:]), fill, dtype=dtype)
                full = np.concatenate([full, pad])
            data = np.ascontiguousarray(full)
            raw = codec.encode(data) if codec is not None else data.tobytes()
            key = sep.join([str(start // chunks[0])] + ["0"] * (len(shape) - 1))
            target = Path(store) / path / key
            tmp = target.with_name(f".{key}.part{os.getpid()}")
            tmp.write_bytes(bytes(raw))
            os.replace(tmp, target)
            return
    z = zarr.open_array(store=store, path=path, mode="r+")
    z[start:stop] = arr


def write_chunk(
    store: str,
    group: str,
    names: tuple[str, ...],
    start: int,
    stop: int,
    record: str,
    *arrays: np.ndarray,
) -> dict[str, list[float]]:
    """Write one time chunk of every variable, then record its moments and missing cells."""
    stats: dict[str, list[float]] = {}
    missing = np.zeros(stop - start, dtype=np.int64)
    for name, arr in zip(names, arrays):
        path = f"{group}/{name}"
        layout = _v2_layout(str(Path(store) / path))
        if layout is not None:
            shape, dtype = layout[0], layout[2]
        else:
            z = zarr.open_array(store=store, path=path, mode="r")
            shape, dtype = z.shape, z.dtype
        arr = np.asarray(arr, dtype=dtype)
        if arr.shape != (stop - start, *shape[1:]):
            raise InputError(
                f"tile store {store}, basin {group!r}, variable {name}: chunk {start}:{stop} "
                f"has shape {arr.shape}, expected {(stop - start, *shape[1:])}"
            )
        _write_array_chunk(store, path, start, stop, arr)
        finite = np.isfinite(arr)
        stats[name] = list(moments(arr, finite))
        missing += arr[0].size - finite.reshape(arr.shape[0], -1).sum(axis=1)
    tmp = f"{record}.part"
    with open(tmp, "w") as fh:
        json.dump({"start": start, "stop": stop, "stats": stats, "missing": missing.tolist()}, fh)
    os.replace(tmp, record)
    return stats


def batches(
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


def consolidate(store: Path, groups: Iterable[str]) -> None:
    """Consolidated metadata (``.zmetadata``) in every group and at the root."""
    for g in groups:
        zarr.consolidate_metadata(str(store), path=g, **FORMAT_KW)
    zarr.consolidate_metadata(str(store), **FORMAT_KW)


def drop_consolidated(store: Path) -> None:
    """Remove stale ``.zmetadata`` files before a store is modified."""
    for meta in store.rglob(".zmetadata"):
        meta.unlink()


def resolve_scheduler(scheduler: Any) -> tuple[Any, Any, int]:
    """-> (scheduler for dask.compute, client to close or None, threads available).

    ``None`` (dask's threads), ``"threads"``/``"processes"``/``"sync"``, ``"local"`` or
    ``"local:N"`` (a ``dask.distributed.LocalCluster`` of N single-threaded worker processes,
    default: one per CPU), a scheduler address ``"tcp://host:8786"`` or a ``distributed.Client``.
    """
    if scheduler is None:
        return None, None, int(dask.config.get("num_workers", None) or os.cpu_count() or 1)
    if isinstance(scheduler, str) and scheduler in _LOCAL_SCHEDULERS:
        single = scheduler.startswith(("sync", "single"))
        return scheduler, None, 1 if single else os.cpu_count() or 1
    if isinstance(scheduler, str):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - distributed is a declared extra
            raise OptionalDependencyError(
                f"prepare: scheduler {scheduler!r} needs dask.distributed "
                "(pip install 'hurricane_ode[distributed]')"
            ) from exc
        if scheduler == "local" or scheduler.startswith("local:"):
            text = scheduler.partition(":")[2] or str(os.cpu_count() or 1)
            if not text.isdigit() or int(text) < 1:
                raise InputError(f"prepare: scheduler 'local:N' needs N >= 1, got {scheduler!r}")
            cluster = LocalCluster(n_workers=int(text), threads_per_worker=1, processes=True,
                                   dashboard_address=None)  # fmt: skip
            client = Client(cluster)
            return client, _Closer(client, cluster), int(text)
        try:
            client = Client(scheduler, timeout="20s")
        except OSError as exc:
            raise InputError(
                f"prepare: cannot connect to dask scheduler at {scheduler!r}: {exc}"
            ) from exc
        return client, client, max(1, sum(client.nthreads().values()))
    if hasattr(scheduler, "nthreads") and hasattr(scheduler, "get"):  # distributed.Client
        return scheduler, None, max(1, sum(scheduler.nthreads().values()))
    raise InputTypeError(
        f"prepare: scheduler must be None, 'threads'/'processes'/'sync', 'local[:N]', an address "
        f"or a distributed.Client, got {type(scheduler).__name__}"
    )


class _Closer:
    """Closes a client and the LocalCluster it was made for."""

    def __init__(self, *things: Any) -> None:
        self.things = things

    def close(self) -> None:
        for thing in self.things:
            thing.close()
