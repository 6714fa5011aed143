"""Hindcasts: one model run from many initial times, batched, as one CF Dataset.

``hindcast(model, inputs, basin, init_times, lead_times)`` returns U850/V850/PSL on
``(init_time, lead_time, lat, lon)`` with a 2-D ``valid_time`` coordinate, so forecasts
can be verified by lead time (:func:`hurricane_ode.verification.score`).

Inputs of each initial time ``T`` are chosen as :func:`~hurricane_ode.forecasting.forecast`
chooses them (the last ``n_inputs`` frames at or before ``T``) or given as offsets from
``T`` (``input_offsets="-24h,-15h,-9h,-6h,0h"``), so irregular sampling can be studied.
All initial times with the same number of inputs go through the model together, in
batches of ``batch_size`` (per-sample time grids; the model contract allows them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import cftime
import numpy as np
import torch
import xarray as xr

from hurricane_ode import __version__
from hurricane_ode.cf import VARIABLE_ATTRS, finish_cf, lead_timedelta
from hurricane_ode.errors import InputError
from hurricane_ode.forecasting.inputs import (
    calendar_of,
    check_finite,
    grid_attrs,
    model_grid,
    open_basin_fields,
    stats_arrays,
)
from hurricane_ode.models.inference import Forecaster, baseline_forecaster, load_forecaster
from hurricane_ode.timeutil import hours_between, parse_times, time_key, to_cftime

__all__ = ["hindcast", "parse_leads", "parse_durations", "input_stats", "TRUTH"]

#: ``hindcast(None, ..., model=TRUTH)``: the inputs' own fields at the valid times, not a forecast
#: but the verification reference (the tracker run on it gives the POD a forecast is measured against)
TRUTH = "truth"

_DUR = re.compile(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(h|hr|hours?|m|min|minutes?|d|days?)?\s*$", re.I)
_DEFAULT_VARIABLES = ("U850", "V850", "PSL")


def _duration_h(text: str, what: str) -> float:
    m = _DUR.match(str(text))
    if not m:
        raise InputError(f"{what} '{text}' not understood; expected hours such as 6h, -24h, 90min or 1d")
    value, unit = float(m.group(1)), (m.group(2) or "h").lower()
    return value * 24.0 if unit.startswith("d") else value / 60.0 if unit.startswith("m") else value


def parse_durations(spec: str | Sequence[Any], what: str = "duration") -> np.ndarray:
    """``"-24h,-15h,0h"``, ``"0/48h/3h"`` (START/END/STEP, END included) or numbers -> hours.

    Parameters
    ----------
    spec : comma list of durations and ranges, or a sequence of numbers / strings.
    what : name used in error messages.

    Returns
    -------
    Sorted unique float hours.
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[float] = []
    for item in items:
        if isinstance(item, int | float | np.integer | np.floating):
            out.append(float(item))
            continue
        if isinstance(item, timedelta):
            out.append(item.total_seconds() / 3600.0)
            continue
        item = str(item).strip()
        if not item:
            continue
        if "/" in item:
            parts = item.split("/")
            if len(parts) != 3:
                raise InputError(f"{what} range '{item}' must be START/END/STEP, e.g. 0/48h/3h")
            a, b, step = (_duration_h(x, what) for x in parts)
            if step <= 0 or b < a:
                raise InputError(f"{what} range '{item}': need STEP > 0 and END >= START")
            n = int(np.floor((b - a) / step + 1e-9)) + 1
            out.extend(a + step * np.arange(n))
        else:
            out.append(_duration_h(item, what))
    if not out:
        raise InputError(f"no {what}s given")
    return np.array(sorted(set(round(x, 9) for x in out)), dtype=np.float64)


def parse_leads(spec: str | Sequence[Any]) -> np.ndarray:
    """Lead times (hours, >= 0) from a spec such as ``"0/48h/3h"`` or ``"0,6h,12h"``."""
    leads = parse_durations(spec, "lead time")
    if leads.min() < 0:
        raise InputError(f"lead times must be >= 0 h, got {leads.min():g} h")
    return leads


def input_stats(ds: xr.Dataset, variables: Sequence[str]) -> dict[str, tuple[float, float]]:
    """Mean and standard deviation of each variable over every cell and time of ``ds``."""
    out = {}
    for v in variables:
        a = np.asarray(ds[v].values, dtype=np.float64)
        a = a[np.isfinite(a)]
        std = float(a.std()) if a.size else float("nan")
        out[v] = (float(a.mean()) if a.size else float("nan"), std if std > 0 else 1.0)
    return out


def _resolve_model(
    checkpoint_or_model: Forecaster | str | os.PathLike | None, model: str | None, device: str
) -> Forecaster | None:
    """The Forecaster of a checkpoint, or None when a registered baseline is to be built."""
    if checkpoint_or_model is None and model is not None:
        return None  # a registered parameter-free model, built once the inputs are known
    fc = checkpoint_or_model if isinstance(checkpoint_or_model, Forecaster) \
        else load_forecaster(checkpoint_or_model, device=device)
    if model is not None and model != fc.config.model.name:
        raise InputError(
            f"model '{model}' was asked for but checkpoint {fc.source} holds a "
            f"'{fc.config.model.name}' model; drop one of the two"
        )
    return fc


def _initial_times(init_times: str | Sequence, calendar: str) -> list[cftime.datetime]:
    """A spec such as ``"2005-08-24T00/2005-08-30T00/12h"`` or a sequence of times -> sorted, unique cftimes."""
    if isinstance(init_times, str):
        return parse_times(init_times, calendar)
    return sorted(set(to_cftime(list(init_times), calendar)))


def _select(times: list, init: cftime.datetime, offsets: np.ndarray | None, n: int) -> list[int]:
    index = {t: i for i, t in enumerate(times)}
    span = f"the inputs run from {times[0]} to {times[-1]}"
    if offsets is not None:
        wanted = [init + timedelta(hours=float(h)) for h in offsets]
        missing = [str(t) for t in wanted if t not in index]
        if missing:
            raise InputError(f"initial time {init}: input time(s) {missing} are not frames of the inputs ({span})")
        return [index[t] for t in wanted]
    idx = [i for i, t in enumerate(times) if t <= init][-n:]
    if len(idx) < 2:
        raise InputError(
            f"initial time {init}: {len(idx)} input frame(s) at or before it (need at least 2; {span})"
        )
    return idx


def hindcast(
    checkpoint_or_model: Forecaster | str | os.PathLike | None,
    inputs: Any,
    basin: str,
    init_times: str | Sequence,
    lead_times: str | Sequence,
    input_offsets: str | Sequence | None = None,
    model: str | None = None,
    *,
    shape: tuple[int, int] | None = None,
    batch_size: int = 16,
    device: str = "cpu",
) -> xr.Dataset:
    """Forecasts from many initial times, batched through one model, as a CF Dataset.

    Parameters
    ----------
    checkpoint_or_model : a Forecaster, a checkpoint path, or None (with ``model=``: that
        registered model; without: the shipped demo model, as :func:`forecast`).
    inputs : CAM5 file(s) / glob, a tile store, or an xarray Dataset (never None).
    basin : basin name or ``bbox:...``.
    init_times : spec such as ``"2005-08-24T00/2005-08-30T00/12h"`` or a sequence of times.
    lead_times : hours after each initial time: ``"0/48h/3h"`` or a sequence of hours.
    input_offsets : input frames as offsets from each initial time (``"-24h,-15h,-9h,-6h,0h"``);
        default: the last ``n_inputs`` frames at or before it.
    model : a registered model name (``persistence``, ``advection`` ...) run without a
        checkpoint; normalisation statistics are then computed from the inputs (attrs say so).
        ``"truth"`` (:data:`TRUTH`) writes the inputs' own fields at the valid times (they must
        cover them): the reference that POD over the truth's POD is measured against.
    shape : tile (H, W) for ``model=`` runs on CAM5 inputs (default: native resolution).
    batch_size : initial times per forward pass.
    device : torch device.

    Returns
    -------
    Dataset with U850, V850 (m s-1), PSL (Pa) on ``(init_time, lead_time, lat, lon)``,
    ``valid_time(init_time, lead_time)``, ``forecast_period`` (hours), CF-1.8 attributes.
    """
    if int(batch_size) < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    if checkpoint_or_model is None and model == TRUTH:
        return _true_fields(inputs, basin, init_times, lead_times, shape)
    fc = _resolve_model(checkpoint_or_model, model, device)
    variables = fc.variables if fc is not None else list(_DEFAULT_VARIABLES)
    grid = model_grid(fc, basin) if fc is not None else shape
    who = f"checkpoint {fc.source}" if fc is not None else f"model '{model}'"
    ds = open_basin_fields(inputs, basin, variables, grid, who)
    calendar = calendar_of(ds)
    inits = _initial_times(init_times, calendar)
    leads = parse_leads(lead_times)
    offsets = None
    if input_offsets is not None:
        offsets = parse_durations(input_offsets, "input offset")
        if offsets.max() > 0:
            raise InputError(f"input offsets must be <= 0 h (before the initial time), got {offsets.max():g} h")
    times = list(ds.time.values)
    n_default = fc.config.data.sampling.n_inputs if fc is not None else 5
    chosen = [_select(times, t0, offsets, n_default) for t0 in inits]
    used = sorted({i for idx in chosen for i in idx})
    if fc is None:
        assert model is not None  # _resolve_model gives no Forecaster only for model=
        sub = ds.isel(time=used)
        norm = "computed from the inputs (mean and std over the basin and the input frames used)"
        # parameter-free models have no trained horizon: any lead is accepted
        h, w = ds[variables[0]].shape[-2:]
        fc = baseline_forecaster(model, input_stats(sub, variables), (h, w),
                                 n_inputs=n_default, max_lead_h=float(leads.max()) + 1e4, device=device)
    else:
        norm = f"from checkpoint {fc.source}"
    frames_all = np.asarray(
        ds.isel(time=used).to_array("channel").transpose("time", "channel", "lat", "lon").values,
        dtype=np.float32,
    )
    pos = {i: k for k, i in enumerate(used)}
    mean, std = stats_arrays(fc)
    out = np.empty((len(inits), len(leads), len(variables), *frames_all.shape[-2:]), dtype=np.float32)
    groups: dict[int, list[int]] = {}
    for n, idx in enumerate(chosen):
        in_times = [times[i] for i in idx]
        check_finite(frames_all[[pos[i] for i in idx]], in_times, str(basin), f"initial time {inits[n]}: input")
        last_lead = float(leads.max() + hours_between([inits[n]], in_times[-1])[0])
        if last_lead > fc.max_lead_h:
            raise InputError(
                f"initial time {inits[n]}: lead {last_lead:g} h after the last input {in_times[-1]} "
                f"exceeds the {fc.max_lead_h:g} h that {who} supports"
            )
        groups.setdefault(len(idx), []).append(n)
    fc.model.to(device).eval()
    with torch.no_grad():
        for members in groups.values():
            for s in range(0, len(members), int(batch_size)):
                batch = members[s : s + int(batch_size)]
                x = np.stack([frames_all[[pos[i] for i in chosen[n]]] for n in batch])
                t_in, t_q = [], []
                for n in batch:
                    in_times = [times[i] for i in chosen[n]]
                    t_in.append(hours_between(in_times, in_times[0]))
                    t_q.append(hours_between([inits[n]], in_times[0])[0] + leads)
                xt = torch.from_numpy((x - mean[None]) / std[None]).to(device)
                ti = torch.tensor(np.array(t_in), dtype=torch.float32, device=device)
                tq = torch.tensor(np.array(t_q), dtype=torch.float32, device=device)
                y = fc.model(xt, ti, tq).frames.float().cpu().numpy()
                out[batch] = y * std[None] + mean[None]
    attrs: dict[str, Any] = {
        "model": fc.config.model.name,
        "checkpoint": fc.source,
        "checkpoint_sha256": fc.digest,
        "checkpoint_hurricane_ode_version": fc.package_version or "unknown",
        "hurricane_ode_version": __version__,
        "basin": str(ds.attrs.get("basin", basin)),
        "calendar": calendar,
        "input_selection": f"offsets {','.join(f'{h:g}h' for h in offsets)} from each initial time"
        if offsets is not None else f"the last {n_default} frames at or before each initial time",
        "normalisation": norm,
        **grid_attrs(ds),
    }
    for v in variables:
        attrs[f"norm_mean_{v}"], attrs[f"norm_std_{v}"] = fc.stats[v]
    return hindcast_dataset(out, variables, np.asarray(ds.lat.values), np.asarray(ds.lon.values),
                            inits, leads, calendar, attrs)


def _true_fields(inputs: Any, basin: str, init_times: str | Sequence, lead_times: str | Sequence,
                 shape: tuple[int, int] | None) -> xr.Dataset:
    """``hindcast(None, ..., model="truth")``: the inputs at each valid time, on the tile grid."""
    who = f"model '{TRUTH}'"
    ds = open_basin_fields(inputs, basin, list(_DEFAULT_VARIABLES), shape, who)
    calendar = calendar_of(ds)
    inits = _initial_times(init_times, calendar)
    leads = parse_leads(lead_times)
    index = {time_key(t): i for i, t in enumerate(ds.time.values)}
    valid = [[time_key(t0 + timedelta(hours=float(h))) for h in leads] for t0 in inits]
    missing = sorted({v for row in valid for v in row if v not in index})
    if missing:
        raise InputError(
            f"{who}: valid time(s) {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''} are not frames "
            f"of the inputs (they run from {ds.time.values[0]} to {ds.time.values[-1]}); the truth can only "
            "be written where the inputs have it"
        )
    used = sorted({index[v] for row in valid for v in row})
    pos = {i: k for k, i in enumerate(used)}
    frames = np.asarray(ds.isel(time=used).to_array("channel").transpose("time", "channel", "lat", "lon").values,
                        dtype=np.float32)  # only the frames the valid times need, read lazily
    out = frames[np.array([[pos[index[v]] for v in row] for row in valid])]
    attrs: dict[str, Any] = {
        "model": TRUTH, "checkpoint": "none", "hurricane_ode_version": __version__,
        "basin": str(ds.attrs.get("basin", basin)), "calendar": calendar,
        "title": "true fields at the hindcast's valid times (the verification reference, not a forecast)",
        "input_selection": "none: every frame is the inputs' own field at its valid time",
        "normalisation": "none", **grid_attrs(ds),
    }
    return hindcast_dataset(out, list(_DEFAULT_VARIABLES), np.asarray(ds.lat.values), np.asarray(ds.lon.values),
                            inits, leads, calendar, attrs)


def hindcast_dataset(
    frames: np.ndarray,
    variables: Sequence[str],
    lat: np.ndarray,
    lon: np.ndarray,
    inits: Sequence[cftime.datetime],
    leads_h: np.ndarray,
    calendar: str,
    attrs: dict[str, Any],
) -> xr.Dataset:
    """Assemble the CF hindcast Dataset from frames ``[N, K, C, H, W]`` in physical units.

    Parameters
    ----------
    frames : values, ``[init, lead, channel, lat, lon]``.
    variables : channel names.
    lat, lon : degrees (lat ascending).
    inits : N cftime initial times; leads_h : K lead hours.
    calendar : CF calendar of the times.
    attrs : global attributes to add.

    Returns
    -------
    The Dataset (times decoded to cftime; encodings set for CF writing).
    """
    units = f"hours since {inits[0].strftime('%Y-%m-%d %H:%M:%S')}"
    init_num = hours_between(list(inits), inits[0])
    valid_num = init_num[:, None] + np.asarray(leads_h, dtype=np.float64)[None, :]
    cal = {"units": units, "calendar": calendar}
    coords = {
        "init_time": ("init_time", init_num, {"standard_name": "forecast_reference_time",
                                              "long_name": "initialisation time", **cal}),
        "lead_time": ("lead_time", np.asarray(leads_h, dtype=np.float64),
                      {"long_name": "lead time after the initial time", "units": "hours"}),
        "valid_time": (("init_time", "lead_time"), valid_num,
                       {"standard_name": "time", "long_name": "valid time", "axis": "T", **cal}),
        "forecast_period": ("lead_time", np.asarray(leads_h, dtype=np.float64),
                            {"standard_name": "forecast_period", "long_name": "lead time", "units": "hours"}),
        "lat": ("lat", np.asarray(lat, np.float64), {"standard_name": "latitude", "long_name": "latitude",
                                                     "units": "degrees_north", "axis": "Y"}),
        "lon": ("lon", np.asarray(lon, np.float64), {"standard_name": "longitude", "long_name": "longitude",
                                                     "units": "degrees_east", "axis": "X"}),
    }
    dims = ("init_time", "lead_time", "lat", "lon")
    data = {v: (dims, frames[:, :, c], dict(VARIABLE_ATTRS.get(v, {}))) for c, v in enumerate(variables)}
    ds = xr.Dataset(data, coords=coords)
    if any(v in ("U850", "V850") for v in variables):
        ds = ds.assign_coords(air_pressure=((), 85000.0, {"standard_name": "air_pressure", "units": "Pa",
                                                          "positive": "down", "axis": "Z"}))
    ds = xr.decode_cf(ds, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True), decode_timedelta=False)
    ds = ds.assign_coords(lead_time=("lead_time", lead_timedelta(leads_h),
                                     {"long_name": "lead time after the initial time"}))
    return finish_cf(ds, ("init_time", "valid_time"), units, calendar, "hurricane_ode hindcast", attrs)
