"""Writing CAM5-style history files (NetCDF4, float32 fields, ``noleap`` time), atomically."""

from __future__ import annotations

import os
from pathlib import Path

import cftime
import numpy as np
import xarray as xr

STEP_HOURS = 3.0


def cam_dataset(
    psl: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    days: np.ndarray,
    t0: cftime.datetime,
    times: list[cftime.datetime],
    case: str,
    provenance: str,
) -> xr.Dataset:
    """One CAM-style history file's contents (raw, already-encoded time numbers)."""
    units = f"days since {t0.strftime('%Y-%m-%d %H:%M:%S')}"
    dims = ("time", "lat", "lon")

    def field(x: np.ndarray, unit: str, long_name: str) -> xr.Variable:
        return xr.Variable(
            dims,
            x.astype(np.float32),
            {"mdims": np.int32(1), "units": unit, "long_name": long_name,
             "cell_methods": "time: point"},
        )  # fmt: skip

    step = STEP_HOURS / 24.0
    ds = xr.Dataset(
        {
            "U850": field(u, "m/s", "Zonal wind at 850 mbar pressure surface"),
            "V850": field(v, "m/s", "Meridional wind at 850 mbar pressure surface"),
            "PSL": field(psl, "Pa", "Sea level pressure"),
            "time_bnds": xr.Variable(
                ("time", "nbnd"),
                np.stack([days - step, days], axis=1),
                {"long_name": "time interval endpoints"},
            ),
            "date": xr.Variable(
                "time",
                np.array([t.year * 10000 + t.month * 100 + t.day for t in times], np.int32),
                {"long_name": "current date (YYYYMMDD)"},
            ),
            "datesec": xr.Variable(
                "time",
                np.array([t.hour * 3600 + t.minute * 60 + t.second for t in times], np.int32),
                {"long_name": "current seconds of current date"},
            ),
            "gw": xr.Variable(
                "lat",
                np.cos(np.deg2rad(lat)) * np.deg2rad(lat[1] - lat[0]),
                {"long_name": "latitude weights"},
            ),
        },
        coords={
            "time": xr.Variable(
                "time",
                days,
                {"long_name": "time", "units": units, "calendar": "noleap", "bounds": "time_bnds"},
            ),
            "lat": xr.Variable("lat", lat, {"long_name": "latitude", "units": "degrees_north"}),
            "lon": xr.Variable("lon", lon, {"long_name": "longitude", "units": "degrees_east"}),
        },
        attrs={
            "Conventions": "CF-1.0",
            "source": "CAM",
            "case": case,
            "title": "UNSET",
            "logname": "hurricane_ode",
            "host": "synthetic",
            "Version": "$Name$",
            "revision_Id": "$Id$",
            "initial_file": "none (synthetic world)",
            "topography_file": "none (aquaplanet-like synthetic world)",
            "history": f"written by hurricane_ode.data.synthetic ({provenance})",
        },
    )
    return ds


def write_atomic(ds: xr.Dataset, path: Path, compress: bool = False) -> None:
    """Write ``ds`` as a CAM-like NetCDF4 file via a temporary file; ``compress``: zlib level 1 + shuffle."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    nlat, nlon = ds.sizes["lat"], ds.sizes["lon"]
    enc: dict[str, dict] = {
        name: {
            "dtype": "float32",
            "_FillValue": np.float32(1e36),
            "missing_value": np.float32(1e36),
            "chunksizes": (1, nlat, nlon),
            **({"zlib": True, "complevel": 1, "shuffle": True} if compress else {}),
        }
        for name in ("U850", "V850", "PSL")
    }
    for name in ("time", "lat", "lon", "time_bnds", "gw"):
        enc[name] = {"_FillValue": None, "dtype": "float64"}
    try:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", unlimited_dims=["time"], encoding=enc)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
