"""CF-1.8 metadata for forecast datasets.

One function turns arrays in physical units into the Dataset that every
climate tool opens (ncview, Panoply, xarray, the IOOS compliance checker):
dimensions ordered (time, lat, lon); ``time`` is the valid time in the input's
calendar; ``forecast_reference_time`` (scalar) and ``forecast_period`` (hours,
along ``time``) describe initialisation and lead; U850/V850 carry a scalar
``air_pressure = 85000 Pa`` coordinate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import cftime
import numpy as np
import xarray as xr

from hurricane_ode.data.schema import CF_ATTRS
from hurricane_ode.errors import InputError
from hurricane_ode.timeutil import hours_between

__all__ = ["VARIABLE_ATTRS", "forecast_dataset", "finish_cf", "lead_timedelta"]

#: CF attributes of the variables hurricane_ode knows (the reader's standardised attributes);
#: other channels keep what they had.
VARIABLE_ATTRS: dict[str, dict[str, str]] = CF_ATTRS

_PRESSURE_LEVEL_VARS = {"U850": 85000.0, "V850": 85000.0}


def forecast_dataset(
    fields: Mapping[str, np.ndarray],
    lat: np.ndarray,
    lon: np.ndarray,
    valid_times: Sequence[cftime.datetime],
    init_time: cftime.datetime,
    calendar: str,
    attrs: Mapping[str, object] | None = None,
) -> xr.Dataset:
    """Assemble a CF-1.8 forecast Dataset.

    fields: variable name -> array ``[K, H, W]`` in physical units (m s-1, Pa).
    lat ``[H]`` degrees_north (ascending), lon ``[W]`` degrees_east,
    valid_times: K cftime datetimes in ``calendar``; init_time: the last input time.
    """
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    if lat.size > 1 and np.any(np.diff(lat) <= 0):
        raise InputError("forecast_dataset: lat must be strictly ascending")
    lead_h = hours_between(valid_times, init_time)
    units = f"hours since {init_time.strftime('%Y-%m-%d %H:%M:%S')}"
    time_num = cftime.date2num(list(valid_times), units, calendar=calendar)

    coords = {
        "time": (
            "time",
            np.asarray(time_num, dtype=np.float64),
            {"standard_name": "time", "long_name": "valid time", "units": units, "calendar": calendar, "axis": "T"},
        ),
        "lat": ("lat", lat, {"standard_name": "latitude", "long_name": "latitude", "units": "degrees_north", "axis": "Y"}),
        "lon": ("lon", lon, {"standard_name": "longitude", "long_name": "longitude", "units": "degrees_east", "axis": "X"}),
        "forecast_reference_time": (
            (),
            0.0,
            {"standard_name": "forecast_reference_time", "long_name": "initialisation time (last input frame)", "units": units, "calendar": calendar},
        ),
        "forecast_period": (
            "time",
            lead_h,
            {"standard_name": "forecast_period", "long_name": "lead time after the last input frame", "units": "hours"},
        ),
    }
    data_vars = {}
    for name, values in fields.items():
        values = np.asarray(values, dtype=np.float32)
        if values.shape != (len(valid_times), lat.size, lon.size):
            raise InputError(
                f"forecast_dataset: {name} has shape {values.shape}, expected "
                f"{(len(valid_times), lat.size, lon.size)} (time, lat, lon)"
            )
        var_attrs = dict(VARIABLE_ATTRS.get(name, {}))
        if name in _PRESSURE_LEVEL_VARS:
            var_attrs["coordinates"] = "air_pressure"
        data_vars[name] = (("time", "lat", "lon"), values, var_attrs)
    ds = xr.Dataset(data_vars, coords=coords)
    if any(n in _PRESSURE_LEVEL_VARS for n in fields):
        ds = ds.assign_coords(
            air_pressure=((), 85000.0, {"standard_name": "air_pressure", "units": "Pa", "positive": "down", "axis": "Z"})
        )
        for name in fields:
            ds[name].attrs.pop("coordinates", None)
    # Decode time to cftime in the data's calendar, keeping the CF encoding for writing.
    ds = xr.decode_cf(ds, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True), decode_timedelta=False)
    # Friendly aliases asked for by users: a timedelta ``lead_time`` and a scalar ``init_time``.
    ds = ds.assign_coords(
        lead_time=("time", lead_timedelta(lead_h), {"long_name": "lead time after the last input frame"}),
        init_time=((), ds["forecast_reference_time"].values, {"long_name": "initialisation time (last input frame)"}),
    )
    return finish_cf(ds, ("time", "forecast_reference_time", "init_time"), units, calendar,
                     "hurricane_ode Vid-ODE forecast", attrs)


def lead_timedelta(hours: Any) -> np.ndarray:
    """Lead times in hours as ``timedelta64[ns]`` (rounded to the nanosecond)."""
    return np.round(np.asarray(hours) * 3600e9).astype("int64").astype("timedelta64[ns]")


def finish_cf(ds: xr.Dataset, time_names: Sequence[str], units: str, calendar: str, title: str,
              attrs: Mapping[str, Any] | None) -> xr.Dataset:
    """The last step of a CF output: encodings and global attributes.

    Parameters
    ----------
    ds : a decoded dataset with a ``lead_time`` coordinate (timedelta).
    time_names : the (cftime) time coordinates, encoded as ``units`` in ``calendar``.
    units, calendar : CF time units (``hours since ...``) and calendar.
    title : the ``title`` attribute.
    attrs : further global attributes (they win over the defaults).

    Returns
    -------
    xarray.Dataset
        ``ds``, its encodings and attributes set.
    """
    ds["lead_time"].encoding.update({"units": "hours", "dtype": "float64"})
    for name in time_names:
        ds[name].encoding.update({"units": units, "calendar": calendar, "dtype": "float64"})
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ds.attrs = {
        "Conventions": "CF-1.8",
        "title": title,
        "institution": "hurricane_ode",
        "source": "hurricane_ode (Vid-ODE, Park et al. 2021)",
        "history": f"{now} created by hurricane_ode",
        **dict(attrs or {}),
    }
    return ds
