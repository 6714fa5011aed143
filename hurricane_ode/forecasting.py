"""Forecasts: a trained model + sparse inputs + query times -> a CF Dataset in physical units.

This is where data (xarray) and models (tensors) meet::

    ds = forecast("runs/demo/last.pt", "cam5/*.nc", "natl",
                  times="2005-08-28T00/2005-08-29T00/3h")

Inputs are the frames that exist (or the ones named by ``input_times``); the
query times may lie between and after them, at any real time, in the data's
own calendar. The model sees hours since the first input frame; a forecast
asked for at 04:30 is computed at 04:30, not rounded to a training step.

The work is three stages, each usable on its own (the benchmark times them):
:func:`prepare_request` (open, tile, select, normalise), :func:`run_model`
(the network only) and :func:`request_to_dataset` (de-normalise, CF metadata).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cftime
import numpy as np
import torch
import xarray as xr
from torch import nn

from hurricane_ode import __version__
from hurricane_ode.cf import forecast_dataset
from hurricane_ode.config import Config
from hurricane_ode.timeutil import hours_between, parse_times, to_cftime

__all__ = [
    "Forecaster",
    "ForecastRequest",
    "load_forecaster",
    "forecast",
    "prepare_request",
    "run_model",
    "request_to_dataset",
    "demo_checkpoint_path",
    "MIN_INPUTS",
]

log = logging.getLogger(__name__)

#: fewest observed input frames a forecast accepts
MIN_INPUTS = 2


@dataclass
class Forecaster:
    """A model ready to forecast: weights, the config it was trained with, normalisation stats.

    stats: ``{variable: (mean, std)}`` in physical units (m s-1, Pa), as stored in the checkpoint.
    """

    model: nn.Module
    config: Config
    stats: dict[str, tuple[float, float]]
    digest: str = "in-memory"
    source: str = "in-memory"
    package_version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def variables(self) -> list[str]:
        return list(self.config.data.variables)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.config.model.image_size)  # type: ignore[return-value]

    @property
    def max_lead_h(self) -> float:
        """Longest lead time (hours after the last input) the model is trusted for.

        Four times the horizon it was trained on (n_targets x frame interval), and
        never less than the longest input gap it saw (max_gap_h).
        """
        s = self.config.data.sampling
        return max(4.0 * s.n_targets * s.frame_interval_h, s.max_gap_h)

    def check(self) -> None:
        """Raise ValueError when the checkpoint's channels, variables and stats disagree."""
        where = f"checkpoint {self.source}"
        n_vars, n_ch = len(self.variables), int(self.config.model.in_channels)
        if n_vars != n_ch:
            raise ValueError(
                f"{where}: model.in_channels={n_ch} but data.variables lists {n_vars} "
                f"({self.variables}); the checkpoint is inconsistent"
            )
        missing = [v for v in self.variables if v not in self.stats]
        if missing:
            raise ValueError(
                f"{where}: no normalisation statistics for {missing}; it cannot produce physical units"
            )
        bad = [v for v in self.variables if not (np.isfinite(self.stats[v][1]) and self.stats[v][1] > 0)]
        if bad:
            raise ValueError(f"{where}: normalisation std of {bad} is not a positive number")


def demo_checkpoint_path() -> Path:
    """The demo model shipped inside the package."""
    return Path(__file__).parent / "resources" / "demo_model.pt"


def load_forecaster(checkpoint: str | os.PathLike | None = None, device: str = "cpu") -> Forecaster:
    """Load a checkpoint file or run directory (``None``: the shipped demo model).

    Raises FileNotFoundError (missing) or ValueError naming the file: not a checkpoint, an
    incompatible checkpoint format or package version, weights that do not fit the config,
    no normalisation statistics.
    """
    from hurricane_ode.training.checkpoint import load_checkpoint, load_model

    path = Path(checkpoint) if checkpoint is not None else demo_checkpoint_path()
    if checkpoint is None and not path.exists():
        raise FileNotFoundError(
            f"the demo model {path} is missing from this installation; pass a checkpoint "
            "(--checkpoint FILE; train one with `hurricane-ode train --config configs/demo_model.yaml`)"
        )
    try:
        model, meta = load_model(path, device=device)
    except (KeyError, TypeError, RuntimeError) as exc:
        # unknown config keys / changed architecture: written by another hurricane_ode version
        made_by = load_checkpoint(path).get("package_version") or "an unknown version"
        if made_by == __version__:
            raise ValueError(f"checkpoint {path} is inconsistent (its weights do not fit its config): {exc}") from exc
        raise ValueError(
            f"checkpoint {path} was written by hurricane_ode {made_by} and does not fit this "
            f"hurricane_ode {__version__} (config or weights differ): {exc}"
        ) from exc
    if not meta.get("stats"):
        raise ValueError(
            f"checkpoint {path} has no normalisation statistics; it cannot produce physical units"
        )
    fc = Forecaster(
        model=model,
        config=meta["config"],
        stats=meta["stats"],
        digest=meta["sha256"],
        source=str(path),
        package_version=meta.get("package_version"),
    )
    fc.check()
    return fc


# --------------------------------------------------------------------------- inputs


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


def open_inputs(inputs: Any, basin: str, fc: Forecaster) -> xr.Dataset:
    """Any accepted input -> a lazy (time, lat, lon) Dataset of ``basin`` on the model's grid.

    inputs: an xarray Dataset (global fields or a basin tile), CAM5 file(s) / directory /
    glob, a tile store (``*.zarr``), or None (the built-in demo world, made on first use).
    """
    from hurricane_ode.data.basins import get_basin, tile_basin

    basin_obj = get_basin(basin)  # unknown basin -> ValueError listing the known ones
    shape = fc.image_size
    if inputs is None:
        from hurricane_ode.demo import demo_world

        inputs = list(demo_world().files)
    if isinstance(inputs, xr.Dataset):
        ds, where = inputs, "the input dataset"
    elif _is_tile_store(inputs):
        from hurricane_ode.data.store import open_tiles

        ds, where = open_tiles(inputs, basin_obj.name), f"tile store {inputs}"
    else:
        from hurricane_ode.data.cam5 import open_cam5

        ds = open_cam5(inputs, variables=fc.variables)
        where = f"inputs {inputs}"
    missing = [v for v in fc.variables if v not in ds.data_vars]
    if missing:
        raise ValueError(
            f"{where} lack variable(s) {missing} that checkpoint {fc.source} was trained on "
            f"(channels {fc.variables}; the inputs have {sorted(map(str, ds.data_vars))})"
        )
    if "time" not in ds.dims or ds.sizes["time"] == 0:
        raise ValueError(f"{where} have no time axis (expected dims time, lat, lon)")
    ds = _cftime_axis(ds[fc.variables])
    tile_of = ds.attrs.get("basin")
    if tile_of:
        if tile_of != basin_obj.name:
            raise ValueError(
                f"{where} are a tile of basin '{tile_of}', but basin '{basin_obj.name}' was asked for"
            )
        grid = (ds.sizes["lat"], ds.sizes["lon"])
        if grid != shape:
            raise ValueError(
                f"{where} are a {grid[0]}x{grid[1]} (lat x lon) tile but checkpoint {fc.source} "
                f"was trained on {shape[0]}x{shape[1]} grids (model.image_size); re-run "
                f"`hurricane-ode prepare --shape {shape[0]} {shape[1]}` or pass the CAM5 files"
            )
        return ds
    return tile_basin(ds, basin_obj, shape=shape)


def _calendar(ds: xr.Dataset) -> str:
    cal = ds.time.encoding.get("calendar") or ds.time.attrs.get("calendar")
    if cal is None:
        cal = getattr(ds.time.values[0], "calendar", None) or "standard"
    return str(cal)


def _select_inputs(
    ds: xr.Dataset, queries: list[cftime.datetime], input_times: Any, n_default: int, calendar: str
) -> list[int]:
    available = list(ds.time.values)
    span = f"the inputs run from {available[0]} to {available[-1]}"
    if queries[0] < available[0]:
        raise ValueError(
            f"query time {queries[0]} is before the first input frame {available[0]}; "
            "Vid-ODE forecasts between and after its inputs"
        )
    if input_times is not None:
        wanted = (
            parse_times(input_times, calendar)
            if isinstance(input_times, str)
            else to_cftime(input_times, calendar)
        )
        index = {t: i for i, t in enumerate(available)}
        missing = [str(t) for t in wanted if t not in index]
        if missing:
            raise ValueError(f"input time(s) {missing} are not frames of the inputs ({span})")
        idx = sorted({index[t] for t in wanted})
        how = "given as input times"
    else:
        idx = [i for i, t in enumerate(available) if t < queries[0]][-n_default:]
        how = f"before the first query time {queries[0]}"
    if len(idx) < MIN_INPUTS:
        raise ValueError(
            f"too few input frames: {len(idx)} {how} (need at least {MIN_INPUTS}; {span})"
        )
    return idx


@dataclass
class ForecastRequest:
    """Everything the model needs, and what the output Dataset needs, for one forecast.

    x ``[1, T, C, H, W]`` normalised inputs; t_in ``[1, T]`` and t_q ``[1, K]`` hours since
    the first input frame; lat ``[H]``, lon ``[W]`` degrees.
    """

    x: torch.Tensor
    t_in: torch.Tensor
    t_q: torch.Tensor
    input_times: list[cftime.datetime]
    queries: list[cftime.datetime]
    calendar: str
    lat: np.ndarray
    lon: np.ndarray
    basin: str


def prepare_request(
    fc: Forecaster,
    inputs: Any,
    basin: str,
    times: str | Sequence,
    input_times: str | Sequence | None = None,
    device: str | torch.device = "cpu",
) -> ForecastRequest:
    """Open and tile the inputs, pick the input frames, check the query times, normalise."""
    ds = open_inputs(inputs, basin, fc)
    calendar = _calendar(ds)
    if isinstance(times, str):
        queries = parse_times(times, calendar)
    else:
        queries = sorted(set(to_cftime(times, calendar)))
        if not queries:
            raise ValueError("no query times given")
    idx = _select_inputs(ds, queries, input_times, fc.config.data.sampling.n_inputs, calendar)
    in_times = [ds.time.values[i] for i in idx]
    if queries[0] < in_times[0]:
        raise ValueError(
            f"query time {queries[0]} is before the first input frame used ({in_times[0]}); "
            "Vid-ODE forecasts between and after its inputs"
        )
    init = in_times[-1]
    lead = hours_between(queries, init)
    if lead.max() > fc.max_lead_h:
        raise ValueError(
            f"query time {queries[int(lead.argmax())]} is {lead.max():g} h after the last input "
            f"({init}); checkpoint {fc.source} supports leads up to {fc.max_lead_h:g} h "
            "(4 x its training horizon)"
        )
    gaps = np.diff(hours_between(in_times, in_times[0]))
    max_gap = fc.config.data.sampling.max_gap_h
    if gaps.size and gaps.max() > max_gap:
        log.warning("input gap of %g h exceeds the %g h the model was trained with", gaps.max(), max_gap)

    frames = ds.isel(time=idx).to_array("channel").transpose("time", "channel", "lat", "lon").values
    frames = np.asarray(frames, dtype=np.float32)
    if not np.isfinite(frames).all():
        raise ValueError(
            f"input frames of basin '{basin}' contain NaN or inf values; choose other input times"
        )
    mean, std = _stats_arrays(fc)
    x = torch.from_numpy((frames - mean) / std)[None].to(device)
    t_in = torch.tensor(hours_between(in_times, in_times[0]), dtype=torch.float32)[None].to(device)
    t_q = torch.tensor(hours_between(queries, in_times[0]), dtype=torch.float32)[None].to(device)
    return ForecastRequest(
        x=x, t_in=t_in, t_q=t_q, input_times=in_times, queries=queries, calendar=calendar,
        lat=np.asarray(ds.lat.values), lon=np.asarray(ds.lon.values), basin=str(basin),
    )  # fmt: skip


def _stats_arrays(fc: Forecaster) -> tuple[np.ndarray, np.ndarray]:
    mean = np.array([fc.stats[v][0] for v in fc.variables], dtype=np.float32)
    std = np.array([fc.stats[v][1] for v in fc.variables], dtype=np.float32)
    return mean[None, :, None, None], std[None, :, None, None]


@torch.no_grad()
def run_model(fc: Forecaster, request: ForecastRequest) -> np.ndarray:
    """The network alone: normalised inputs -> frames ``[K, C, H, W]`` in physical units."""
    fc.model.eval()
    out = fc.model(request.x, request.t_in, request.t_q).frames[0].float().cpu().numpy()
    mean, std = _stats_arrays(fc)
    return out * std + mean


def _iso(t: cftime.datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%S")


def request_to_dataset(fc: Forecaster, request: ForecastRequest, frames: np.ndarray) -> xr.Dataset:
    """Frames ``[K, C, H, W]`` (physical units) -> the CF-1.8 forecast Dataset."""
    attrs = {
        "model": fc.config.model.name,
        "checkpoint": fc.source,
        "checkpoint_sha256": fc.digest,
        "checkpoint_hurricane_ode_version": fc.package_version or "unknown",
        "hurricane_ode_version": __version__,
        "basin": request.basin,
        "input_times": ", ".join(_iso(t) for t in request.input_times),
        "calendar": request.calendar,
    }
    fields = {v: frames[:, c] for c, v in enumerate(fc.variables)}
    return forecast_dataset(
        fields, request.lat, request.lon, request.queries, request.input_times[-1],
        request.calendar, attrs,
    )  # fmt: skip


def forecast(
    model: Forecaster | str | os.PathLike | None,
    inputs: Any,
    basin: str,
    times: str | Sequence,
    input_times: str | Sequence | None = None,
    *,
    device: str = "cpu",
) -> xr.Dataset:
    """Forecast U850/V850/PSL of ``basin`` at ``times``.

    model: a :class:`Forecaster`, a checkpoint path, or None (the shipped demo model).
    inputs: an xarray Dataset (global CAM5 fields or a basin tile), CAM5 file(s) / a glob,
        a tile store (``*.zarr``), or None (the built-in demo world, made on first use).
    times: query times, a spec such as ``"2005-08-28T00/2005-08-29T00/3h,2005-08-30T00"``
        or a sequence of ISO strings / cftime values, in the data's calendar. They may lie
        between inputs (interpolation) and after the last (extrapolation).
    input_times: which existing frames to use as inputs, as a spec or a sequence (default:
        the last ``data.sampling.n_inputs`` frames, as trained, before the first query).

    Returns a CF-1.8 Dataset: U850, V850 (m s-1) and PSL (Pa) on (time, lat, lon), with
    ``forecast_period`` (float hours) / ``lead_time`` (timedelta) after the last input and
    the scalar ``forecast_reference_time`` / ``init_time`` (the last input time).
    """
    fc = model if isinstance(model, Forecaster) else load_forecaster(model, device=device)
    fc.model.to(device)
    request = prepare_request(fc, inputs, basin, times, input_times, device=device)
    return request_to_dataset(fc, request, run_model(fc, request))
