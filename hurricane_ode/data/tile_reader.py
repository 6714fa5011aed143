"""The one reader of the Zarr tile store written by :func:`hurricane_ode.data.store.prepare_tiles`.

:func:`open_tiles` opens one basin group lazily with ``time`` decoded to cftime in the store's
calendar (never ``datetime64``, whatever the calendar), checks the basin is complete, and
raises :class:`~hurricane_ode.errors.TileStoreError` (subclasses below keep the builtin kinds
``FileNotFoundError`` / ``KeyError`` for a missing store / basin or variable).

A group written by ``prepare`` carries ``hurricane_ode_complete``; a group with that attribute
``False`` is refused (an interrupted run), a group without it (a store someone wrote with
``xarray.to_zarr``) is accepted as it is.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xarray as xr
import zarr

from hurricane_ode.errors import TileStoreError

__all__ = [
    "COMPLETE_ATTR",
    "TileStoreError",
    "TileStoreNotFoundError",
    "TileStoreKeyError",
    "open_tiles",
    "list_basins_in_store",
    "read_norm_stats",
]

COMPLETE_ATTR = "hurricane_ode_complete"
_ZARR3 = int(zarr.__version__.split(".")[0]) >= 3
FORMAT_KW: dict[str, Any] = {"zarr_format": 2} if _ZARR3 else {}
NO_CONSOLIDATED: dict[str, Any] = {"use_consolidated": False} if _ZARR3 else {}


class TileStoreNotFoundError(TileStoreError, FileNotFoundError):
    """No tile store at the path (the message mentions an unfinished ``.tmp`` run)."""


class TileStoreKeyError(TileStoreError, KeyError):
    """The store lacks the requested basin group or variable (the message lists what it has)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def list_basins_in_store(path: str | os.PathLike) -> list[str]:
    """Names of the groups (basins) in a tile store.

    Parameters
    ----------
    path
        The store.

    Returns
    -------
    list of str
        Sorted group names.
    """
    group = zarr.open_group(store=str(path), mode="r", **NO_CONSOLIDATED)
    return sorted(group.group_keys())


def _decode_kw() -> dict[str, Any]:
    try:
        return {"decode_times": xr.coders.CFDatetimeCoder(use_cftime=True)}
    except AttributeError:  # pragma: no cover - xarray < 2025.01
        return {"use_cftime": True}


def open_tiles(
    path: str | os.PathLike,
    basin: Any,
    chunks: Any = "auto",
    variables: Sequence[str] | None = None,
) -> xr.Dataset:
    """Open one basin of a tile store lazily, times as cftime.

    Parameters
    ----------
    path
        The Zarr store.
    basin
        Group name or a :class:`~hurricane_ode.data.basins.Basin`.
    chunks
        ``"auto"``: dask arrays chunked as stored; ``None``: lazily indexed numpy-backed
        arrays (fastest for reading a few frames at a time).
    variables
        When given, each must be present with dims (time, lat, lon).

    Returns
    -------
    xarray.Dataset
        ``time`` cftime (store calendar in ``time.encoding["calendar"]``), ``lat``, ``lon``,
        attributes as written (``basin``, ``normalization`` ...).

    Raises
    ------
    TileStoreNotFoundError
        No store (mentions an unfinished ``<store>.tmp``).
    TileStoreKeyError
        No such basin group (lists the groups) or variable.
    TileStoreError
        Unreadable store, or the basin is marked incomplete.
    """
    if path is None:
        raise TileStoreError("open_tiles: no tile store given (None)")
    p = Path(path).expanduser()
    name = getattr(basin, "name", None) or str(basin)
    if not p.exists():
        tmp = p.with_name(p.name + ".tmp")
        hint = (
            f" (an unfinished run left {tmp}; re-run `hurricane-ode prepare` to complete it)"
            if tmp.exists()
            else ""
        )
        raise TileStoreNotFoundError(f"tile store not found: {p}{hint}")
    try:
        groups = list_basins_in_store(p)
    except Exception as exc:  # noqa: BLE001 - any zarr failure means "not a store"
        raise TileStoreError(f"{p} is not a readable Zarr tile store: {exc}") from exc
    if name not in groups:
        raise TileStoreKeyError(
            f"tile store {p} has no basin group {name!r}; groups present: {groups or 'none'}"
        )
    consolidated = (p / name / ".zmetadata").exists() or None
    try:
        ds = xr.open_zarr(p, group=name, consolidated=consolidated, chunks=chunks, **_decode_kw())
    except Exception as exc:  # noqa: BLE001
        raise TileStoreError(f"tile store {p}, basin {name!r} is unreadable: {exc}") from exc
    if ds.attrs.get(COMPLETE_ATTR) is False:
        raise TileStoreError(f"tile store {p}, basin {name!r} is incomplete; re-run prepare")
    where = f"tile store {p}, basin {name!r}"
    for v in variables or ():
        if v not in ds.data_vars:
            raise TileStoreKeyError(
                f"{where}: no variable {v!r}; has {sorted(map(str, ds.data_vars))}"
            )
        if ds[v].dims != ("time", "lat", "lon"):
            raise TileStoreError(
                f"{where}: variable {v!r} has dims {ds[v].dims}, expected ('time', 'lat', 'lon')"
            )
    return ds


def read_norm_stats(
    ds_or_path: xr.Dataset | str | os.PathLike, basin: str | None = None
) -> dict[str, tuple[float, float]]:
    """Whole-store ``{variable: (mean, std)}`` in the variable's units (what ``prepare`` wrote).

    Training uses the train period's statistics instead
    (:meth:`hurricane_ode.data.tile_dataset.TileClipDataset.stats`).

    Parameters
    ----------
    ds_or_path
        A tile group opened with :func:`open_tiles`, or a store path.
    basin
        Group name; may be omitted for a store holding exactly one basin.

    Returns
    -------
    dict
        ``{variable: (mean, std)}``.
    """
    if isinstance(ds_or_path, xr.Dataset):
        ds, where = ds_or_path, "dataset"
    else:
        p = Path(ds_or_path)
        if basin is None:
            groups = list_basins_in_store(p) if p.exists() else []
            if len(groups) != 1:
                raise TileStoreError(
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
        raise TileStoreError(f"read_norm_stats: {where} has no normalization statistics")
    return out
