"""One forecast: a trained model + sparse inputs + query times -> a CF Dataset in physical units.

The work is three stages, each usable on its own (the benchmark times them):
:func:`prepare_request` (open, tile, select, normalise), :func:`run_model`
(the network only) and :func:`request_to_dataset` (de-normalise, CF metadata).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import cftime
import numpy as np
import torch
import xarray as xr

from hurricane_ode import __version__
from hurricane_ode.cf import forecast_dataset
from hurricane_ode.errors import InputError
from hurricane_ode.forecasting.inputs import (
    calendar_of,
    check_finite,
    grid_attrs,
    open_inputs,
    stats_arrays,
)
from hurricane_ode.models.inference import Forecaster, load_forecaster
from hurricane_ode.timeutil import hours_between, parse_times, to_cftime

__all__ = [
    "ForecastRequest",
    "forecast",
    "prepare_request",
    "run_model",
    "request_to_dataset",
    "select_inputs",
    "MIN_INPUTS",
]

log = logging.getLogger(__name__)

#: fewest observed input frames a forecast accepts
MIN_INPUTS = 2


def select_inputs(
    ds: xr.Dataset,
    queries: list[cftime.datetime],
    input_times: Any,
    n_default: int,
    calendar: str,
    init: cftime.datetime | None = None,
) -> list[int]:
    """Indices of the input frames: ``input_times`` if given, else the last ``n_default`` frames
    at or before ``init`` (if given) or before the first query. Raises InputError naming the
    times when they are too few or not frames of ``ds``."""
    available = list(ds.time.values)
    span = f"the inputs run from {available[0]} to {available[-1]}"
    if queries[0] < available[0]:
        raise InputError(
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
            raise InputError(f"input time(s) {missing} are not frames of the inputs ({span})")
        idx = sorted({index[t] for t in wanted})
        how = "given as input times"
    elif init is not None:
        idx = [i for i, t in enumerate(available) if t <= init][-n_default:]
        how = f"at or before the initial time {init}"
    else:
        idx = [i for i, t in enumerate(available) if t < queries[0]][-n_default:]
        how = f"before the first query time {queries[0]}"
    if len(idx) < MIN_INPUTS:
        raise InputError(
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
    grid: dict[str, str] = field(default_factory=dict)
    """Input grid and any regridding (global attributes of the output)."""


def prepare_request(
    fc: Forecaster,
    inputs: Any,
    basin: str,
    times: str | Sequence | None,
    input_times: str | Sequence | None = None,
    device: str | torch.device = "cpu",
    init_time: Any = None,
    lead_times: Any = None,
) -> ForecastRequest:
    """Open and tile the inputs, pick the input frames, check the query times, normalise.

    ``init_time`` + ``lead_times`` (a spec like ``"0/48h/3h"`` or hours) may replace ``times``;
    the inputs are then the last frames at or before ``init_time``.
    """
    ds = open_inputs(inputs, basin, fc)
    calendar = calendar_of(ds)
    init = None
    if init_time is not None:
        inits = parse_times(init_time, calendar) if isinstance(init_time, str) else to_cftime([init_time], calendar)
        if len(inits) != 1:
            raise InputError(f"init_time must be one time, got {len(inits)} ({init_time})")
        init = inits[0]
    if times is None:
        if init is None or lead_times is None:
            raise InputError("give query times (times=...) or init_time and lead_times")
        from datetime import timedelta

        from hurricane_ode.forecasting.hindcasting import parse_leads

        queries = sorted({init + timedelta(hours=float(h)) for h in parse_leads(lead_times)})
    elif lead_times is not None:
        raise InputError("give either times or lead_times, not both")
    elif isinstance(times, str):
        queries = parse_times(times, calendar)
    else:
        queries = sorted(set(to_cftime(times, calendar)))
        if not queries:
            raise InputError("no query times given")
    idx = select_inputs(ds, queries, input_times, fc.config.data.sampling.n_inputs, calendar, init)
    in_times = [ds.time.values[i] for i in idx]
    if queries[0] < in_times[0]:
        raise InputError(
            f"query time {queries[0]} is before the first input frame used ({in_times[0]}); "
            "Vid-ODE forecasts between and after its inputs"
        )
    init = in_times[-1]
    lead = hours_between(queries, init)
    if lead.max() > fc.max_lead_h:
        raise InputError(
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
    check_finite(frames, in_times, str(basin))
    mean, std = stats_arrays(fc)
    x = torch.from_numpy((frames - mean) / std)[None].to(device)
    t_in = torch.tensor(hours_between(in_times, in_times[0]), dtype=torch.float32)[None].to(device)
    t_q = torch.tensor(hours_between(queries, in_times[0]), dtype=torch.float32)[None].to(device)
    return ForecastRequest(
        x=x, t_in=t_in, t_q=t_q, input_times=in_times, queries=queries, calendar=calendar,
        lat=np.asarray(ds.lat.values), lon=np.asarray(ds.lon.values), basin=str(basin),
        grid=grid_attrs(ds),
    )  # fmt: skip


@torch.no_grad()
def run_model(fc: Forecaster, request: ForecastRequest) -> np.ndarray:
    """The network alone: normalised inputs -> frames ``[K, C, H, W]`` in physical units."""
    fc.model.eval()
    out = fc.model(request.x, request.t_in, request.t_q).frames[0].float().cpu().numpy()
    mean, std = stats_arrays(fc)
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
        **request.grid,
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
    times: str | Sequence | None = None,
    input_times: str | Sequence | None = None,
    *,
    init_time: Any = None,
    lead_times: Any = None,
    device: str = "cpu",
) -> xr.Dataset:
    """Forecast U850/V850/PSL of ``basin`` at ``times``.

    Parameters
    ----------
    model : Forecaster, checkpoint path or None
        A :class:`Forecaster`, a checkpoint file or run directory, or None (the shipped demo
        model).
    inputs : xarray.Dataset, path(s) or glob
        Global CAM5 fields or a basin tile, CAM5 file(s) / a glob, or a tile store
        (``*.zarr``). None is refused (the demo world is
        ``hurricane_ode.demo.demo_world().files``).
    basin : str
        A basin name (``natl`` ...) or ``"bbox:LAT_MIN,LAT_MAX,LON_MIN,LON_MAX"``.
    times : str or sequence, optional
        Query times, a spec such as ``"2005-08-28T00/2005-08-29T00/3h,2005-08-30T00"`` or a
        sequence of ISO strings / cftime values, in the data's calendar. They may lie between
        inputs (interpolation) and after the last (extrapolation).
    input_times : str or sequence, optional
        Which existing frames to use as inputs, as a spec or a sequence (default: the last
        ``data.sampling.n_inputs`` frames, as trained, before the first query).
    init_time, lead_times : optional
        Instead of ``times``: queries at ``init_time + lead`` (leads as a spec ``"0/48h/3h"``
        or hours); the inputs are the last frames at or before ``init_time``.
    device : str
        Torch device to run the model on.

    Returns
    -------
    xarray.Dataset
        CF-1.8: U850, V850 (m s-1) and PSL (Pa) on (time, lat, lon), with ``forecast_period``
        (float hours) / ``lead_time`` (timedelta) after the last input and the scalar
        ``forecast_reference_time`` / ``init_time`` (the last input time).
    """
    fc = model if isinstance(model, Forecaster) else load_forecaster(model, device=device)
    fc.model.to(device)
    request = prepare_request(fc, inputs, basin, times, input_times, device=device,
                              init_time=init_time, lead_times=lead_times)
    return request_to_dataset(fc, request, run_model(fc, request))
