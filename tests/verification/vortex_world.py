"""Small vortex worlds for verification tests: analytic fields, true tracks, hindcast builders."""

from __future__ import annotations

from datetime import timedelta

import cftime
import numpy as np
import pandas as pd
import xarray as xr

from hurricane_ode.forecasting.hindcasting import hindcast_dataset

T0 = cftime.DatetimeNoLeap(2005, 8, 1)


def vortex(lat2, lon2, lat_c, lon_c, dp, rmax_km=80.0, b=1.4):
    """Holland deficit (Pa) and cyclonic winds (m s-1, NH) on a lat/lon grid."""
    dy = np.radians(lat2 - lat_c) * 6371.0
    dx = np.radians((lon2 - lon_c + 180) % 360 - 180) * 6371.0 * np.cos(np.radians(lat2))
    r = np.maximum(np.hypot(dx, dy), 1.0)
    x = (rmax_km / r) ** b
    speed = np.sqrt(b * dp * x * np.exp(-x) / 1.15)
    return dp * (1 - np.exp(-x)), speed * (-dy) / r, speed * dx / r


def make_world(n_times=8, res=1.0, storms=((15.0, 300.0, 0.3, -0.8, 2500.0),), lat=(0.0, 40.0),
               lon=(260.0, 340.0), step_h=6.0):
    """Truth (time, lat, lon) with storms (lat0, lon0, dlat/step, dlon/step, dp) and their tracks."""
    lats = np.arange(lat[0] + res / 2, lat[1], res)
    lons = np.arange(lon[0] + res / 2, lon[1], res)
    lat2, lon2 = np.meshgrid(lats, lons, indexing="ij")
    times = [T0 + timedelta(hours=step_h * k) for k in range(n_times)]
    psl = np.full((n_times, *lat2.shape), 101200.0) + 200.0 * np.sin(np.radians(lat2) * 4)
    u = np.full_like(psl, -4.0)
    v = np.zeros_like(psl)
    rows = []
    for sid, (la, lo, dla, dlo, dp) in enumerate(storms):
        for k in range(n_times):
            d, uu, vv = vortex(lat2, lon2, la + k * dla, lo + k * dlo, dp)
            psl[k] -= d
            u[k] += uu
            v[k] += vv
            rows.append({"storm_id": f"S{sid}", "time": times[k].strftime("%Y-%m-%dT%H:%M:%S"),
                         "lat": la + k * dla, "lon": lo + k * dlo, "min_psl_pa": 101200.0 - dp,
                         "max_wind_ms": 35.0})
    ds = xr.Dataset({n: (("time", "lat", "lon"), a.astype("float32")) for n, a in
                     (("U850", u), ("V850", v), ("PSL", psl))},
                    coords={"time": times, "lat": lats, "lon": lons})
    ds["U850"].attrs["units"] = ds["V850"].attrs["units"] = "m s-1"
    ds["PSL"].attrs["units"] = "Pa"
    return ds, pd.DataFrame(rows)


def as_hindcast(frames, truth, init_index, leads_h, basin="bbox", stats=None):
    """Frames [N, K, C, H, W] on the truth grid -> a CF hindcast Dataset."""
    inits = [truth["time"].values[i] for i in init_index]
    attrs = {"basin": basin, "model": "test", "checkpoint": "none"}
    for v in ("U850", "V850", "PSL"):
        m, s = stats[v] if stats else (0.0, 1.0)
        attrs[f"norm_mean_{v}"], attrs[f"norm_std_{v}"] = m, s
    return hindcast_dataset(np.asarray(frames, np.float32), ["U850", "V850", "PSL"],
                            truth["lat"].values, truth["lon"].values, inits, np.asarray(leads_h, float),
                            "noleap", attrs)


def truth_frames(truth, init_index, leads_h, step_h=6.0):
    """[N, K, C, H, W] of the truth at each init + lead."""
    arr = truth.to_array("channel").transpose("time", "channel", "lat", "lon").values
    idx = np.array([[i + int(round(h / step_h)) for h in leads_h] for i in init_index])
    return arr[idx].copy()

