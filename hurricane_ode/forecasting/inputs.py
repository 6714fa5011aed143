"""Inputs for forecasts and hindcasts: any accepted source -> a basin tile on the model's grid.

Accepted sources: an ``xarray.Dataset`` (global fields or a basin tile), CAM5 file(s) / a
directory / a glob, or a Zarr tile store (``*.zarr``) made by ``hurricane-ode prepare``.
There is no default: the demo world is an application (:mod:`hurricane_ode.demo`, the CLI),
never a silent fallback here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import cftime
import numpy as np
import xarray as xr

from hurricane_ode.errors import InputError

__all__ = ["open_inputs", "open_basin_fields", "grid_spacing", "calendar_of", "check_finite", "stats_arrays"]


def _is_tile_store(inputs: Any) -> bool:
    if not isinstance(inputs, str | os.PathLike):
        return False
    p = Path(inputs).expanduser()
    return str(inputs).rstrip("/").endswith(".zarr") or (
        p.is_dir() and ((p / ".zgroup").exists() or (p / "zarr.json").exists())
    )


def _cftime_axis(ds: xr.Dataset) -> xr.Dataset:
    """Make ``time`` cftime (xarray decodes standard-calendar stores to datetime64)."""
    if np.issubdtype(ds["time"].dtype, np.datetime64):
        cal = ds["time"].encoding.get("calendar", "standard")
        ds = ds.convert_calendar(cal, use_cftime=True)
    return ds


def open_basin_fields(
    inputs: Any,
    basin: str,
    variables: Sequence[str],
    shape: tuple[int, int] | None,
    source: str = "the model",
) -> xr.Dataset:
    """Any accepted input -> a lazy (time, lat, lon) Dataset of ``basin`` with ``variables``.

    Parameters
    ----------
    inputs : Dataset, CAM5 path(s) / glob, or tile store; None is refused.
    basin : basin name or ``bbox:...``.
    variables : variables needed, in channel order.
    shape : (H, W) tile shape; None keeps the native resolution (CAM5 inputs only).
    source : who needs them (named in errors, e.g. ``checkpoint runs/x/last.pt``).

    Returns
    -------
    The basin tile, time as cftime in the data's calendar.
    """
    from hurricane_ode.data.basins import get_basin, tile_basin

    if inputs is None:
        raise InputError(
            "no inputs given (inputs=None): pass CAM5 files, a tile store or an xarray Dataset; "
            "for the built-in demo world use hurricane_ode.demo.demo_world().files"
        )
    basin_obj = get_basin(basin)  # unknown basin -> error listing the known ones
    variables = list(variables)
    if isinstance(inputs, xr.Dataset):
        ds, where = inputs, "the input dataset"
    elif _is_tile_store(inputs):
        from hurricane_ode.data.store import open_tiles

        ds, where = open_tiles(inputs, basin_obj.name), f"tile store {inputs}"
    else:
        from hurricane_ode.data.cam5 import open_cam5

        ds = open_cam5(inputs, variables=variables)
        where = f"inputs {inputs}"
    missing = [v for v in variables if v not in ds.data_vars]
    if missing:
        raise InputError(
            f"{where} lack variable(s) {missing} that {source} needs "
            f"(channels {variables}; the inputs have {sorted(map(str, ds.data_vars))})"
        )
    if "time" not in ds.dims or ds.sizes["time"] == 0:
        raise InputError(f"{where} have no time axis (expected dims time, lat, lon)")
    ds = _cftime_axis(ds[variables])
    tile_of = ds.attrs.get("basin")
    if tile_of:
        if tile_of != basin_obj.name:
            raise InputError(
                f"{where} are a tile of basin '{tile_of}', but basin '{basin_obj.name}' was asked for"
            )
        grid = (ds.sizes["lat"], ds.sizes["lon"])
        if shape is not None and grid != tuple(shape):
            raise InputError(
                f"{where} are a {grid[0]}x{grid[1]} (lat x lon) tile but {source} "
                f"{'was trained on' if source.startswith('checkpoint') else 'works on'} "
                f"{shape[0]}x{shape[1]} grids (model.image_size); re-run "
                f"`hurricane-ode prepare --shape {shape[0]} {shape[1]}` or pass the CAM5 files"
            )
        return ds
    native = grid_spacing(ds)
    out = tile_basin(ds, basin_obj)  # the native grid, lazily
    if shape is not None and (out.sizes["lat"], out.sizes["lon"]) != tuple(shape):
        out = tile_basin(ds, basin_obj, shape=(shape[0], shape[1]))  # another grid: regrid conservatively
    used = grid_spacing(out)
    out.attrs["input_grid"] = f"{native[0]:g} x {native[1]:g} degrees (lat x lon)"
    if not np.allclose(native, used, rtol=1e-3):
        out.attrs["regridding"] = (
            f"inputs regridded conservatively (NaN-aware) from {native[0]:g} x {native[1]:g} to "
            f"{used[0]:g} x {used[1]:g} degrees, the grid {source} works on"
        )
    return out


def grid_spacing(ds: xr.Dataset) -> tuple[float, float]:
    """(dlat, dlon) in degrees: the median spacing of the grid."""
    dlat, dlon = (float(np.median(np.abs(np.diff(ds[c].values.astype(float))))) for c in ("lat", "lon"))
    return dlat, dlon


def grid_attrs(ds: xr.Dataset) -> dict[str, str]:
    """Global attributes that say which grid the inputs came on and whether they were regridded."""
    return {k: str(ds.attrs[k]) for k in ("input_grid", "regridding") if k in ds.attrs}


def model_grid(fc: Any, basin: Any) -> tuple[int, int]:
    """(H, W) of the basin tiles Forecaster ``fc`` forecasts on.

    With ``model.grid_spacing_deg`` (a fully convolutional model) the whole basin at that
    spacing (natl at 1 degree: 60 x 160), else ``model.image_size``.
    """
    from hurricane_ode.data.basins import get_basin

    spacing = getattr(fc.config.model, "grid_spacing_deg", None)
    if not spacing:
        return tuple(fc.image_size)
    box = get_basin(basin)
    return round((box.lat_max - box.lat_min) / spacing), round((box.lon_max - box.lon_min) / spacing)


def open_inputs(inputs: Any, basin: str, fc: Any) -> xr.Dataset:
    """Inputs for Forecaster ``fc``: :func:`open_basin_fields` with its variables and grid."""
    return open_basin_fields(inputs, basin, fc.variables, model_grid(fc, basin), f"checkpoint {fc.source}")


def calendar_of(ds: xr.Dataset) -> str:
    """The CF calendar of ``ds.time`` (encoding, attribute, or the cftime values)."""
    cal = ds.time.encoding.get("calendar") or ds.time.attrs.get("calendar")
    if cal is None:
        cal = getattr(ds.time.values[0], "calendar", None) or "standard"
    return str(cal)


def _iso(t: cftime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def check_finite(frames: np.ndarray, times: Sequence[cftime.datetime], basin: str, what: str = "input") -> None:
    """Refuse frames ``[T, C, H, W]`` holding NaN/inf, naming the times and cell counts."""
    bad = ~np.isfinite(frames)
    if not bad.any():
        return
    per_t = bad.reshape(bad.shape[0], -1).sum(axis=1)
    where = [f"{_iso(times[i])} ({int(n)} cells)" for i, n in enumerate(per_t) if n]
    more = f" and {len(where) - 6} more" if len(where) > 6 else ""
    raise InputError(
        f"{what} frames of basin '{basin}' contain NaN or inf values at {', '.join(where[:6])}{more}; "
        "choose other input times (--input-times / --input-offsets)"
    )


def stats_arrays(fc: Any) -> tuple[np.ndarray, np.ndarray]:
    """(mean, std) of the Forecaster's channels, shaped ``[1, C, 1, 1]`` (float32)."""
    mean = np.array([fc.stats[v][0] for v in fc.variables], dtype=np.float32)
    std = np.array([fc.stats[v][1] for v in fc.variables], dtype=np.float32)
    return mean[None, :, None, None], std[None, :, None, None]
