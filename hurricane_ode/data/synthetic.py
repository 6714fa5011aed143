"""A synthetic CAM5-like world with moving tropical cyclones, and its true tracks.

:func:`make_synthetic_world` writes 3-hourly CAM5-style history files
(``<case>.cam.h2.YYYY-MM-DD-SSSSS.nc``; ``U850``, ``V850`` in m/s and ``PSL``
in Pa, float32, dims ``(time, lat, lon)``, ``noleap`` calendar) plus
``tracks.csv`` with the analytic storm tracks. Nothing downstream should
special-case these files: they follow the layout of real CAM h-files.

The atmosphere is built from

* a zonal-mean sea-level pressure with an equatorial trough (~1008 hPa),
  subtropical highs (~1020 hPa near 30 deg) and subpolar lows, a weak
  stationary wave-2, travelling mid-latitude Rossby-like waves (eastward) and
  tropical easterly waves (westward), all seeded;
* 850 hPa winds in geostrophic balance with that pressure (Coriolis parameter
  bounded away from zero in the deep tropics), plus an equatorial easterly jet
  and a weak Hadley inflow, so the tropics carry trade easterlies and the
  mid-latitudes westerlies;
* tropical cyclones as Holland (1980) vortices with a broad outer low,
  ``p(r) = p_env - dp * [(1-a) (1 - exp(-(Rmax/r)**B)) + a exp(-(r/R2)**2)] * exp(-(r/R_out)**4)``
  (``a`` 0.25-0.4, ``R2`` 250-400 km, ``R_out`` 600-900 km, ``Rmax`` 30-80 km, ``B`` 1-1.6),
  with gradient-wind-balanced tangential winds (cyclonic in each hemisphere)
  and a 15 degree inflow angle, born in six basins (natl, epac, wpac, nio,
  sio, spac), drifting westward and poleward, recurving into the westerlies,
  intensifying then decaying over 4-11 days.

Everything comes from one :class:`numpy.random.Generator` seeded by ``seed``.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cftime
import numpy as np
import pandas as pd
import xarray as xr
from scipy.interpolate import PchipInterpolator
from tqdm.auto import tqdm

__all__ = ["SyntheticWorld", "make_synthetic_world", "BASINS", "TRACK_COLUMNS"]

EARTH_RADIUS_M = 6.371e6
OMEGA = 7.292e-5  # s-1
RHO_AIR = 1.15  # kg m-3, boundary-layer air density used for geostrophic / gradient balance
STEP_HOURS = 3.0
SPINUP_DAYS = 12.0  # storms may be born this long before ``start`` (so some are active at t=0)
INFLOW_ANGLE = math.radians(15.0)
TRACK_COLUMNS = ("storm_id", "basin", "time", "lat", "lon", "min_psl_pa", "max_wind_ms")


@dataclass(frozen=True)
class _Basin:
    hemisphere: int  # +1 north, -1 south
    lat: tuple[float, float]  # genesis latitude range, deg
    lon: tuple[float, float]  # genesis longitude range, deg east (0..360, may exceed 360)
    rate_per_day: float  # Poisson genesis rate
    ridge_lat: tuple[float, float]  # latitude where storms recurve, deg (absolute)


#: Genesis regions (main development regions) and rates. The natl rate gives
#: about 2 active storms (1-3 most of the time) inside 0..60N, 100W..60E.
BASINS: dict[str, _Basin] = {
    "natl": _Basin(+1, (9.0, 20.0), (285.0, 340.0), 0.28, (26.0, 34.0)),
    "epac": _Basin(+1, (10.0, 17.0), (235.0, 262.0), 0.18, (22.0, 28.0)),
    "wpac": _Basin(+1, (8.0, 20.0), (130.0, 165.0), 0.24, (24.0, 32.0)),
    "nio": _Basin(+1, (10.0, 17.0), (84.0, 92.0), 0.06, (20.0, 24.0)),
    "sio": _Basin(-1, (8.0, 17.0), (55.0, 100.0), 0.12, (22.0, 28.0)),
    "spac": _Basin(-1, (10.0, 18.0), (160.0, 200.0), 0.10, (22.0, 28.0)),
}


@dataclass
class SyntheticWorld:
    """What :func:`make_synthetic_world` wrote."""

    files: list[Path]
    """CAM5-style history files, in time order."""
    tracks: Path
    """``tracks.csv`` (columns :data:`TRACK_COLUMNS`)."""
    directory: Path
    """The output directory."""


@dataclass
class _Storm:
    storm_id: str
    basin: str
    hemisphere: int
    first_step: int  # step index (relative to start) of the first position
    lat: np.ndarray  # [L] deg
    lon: np.ndarray  # [L] deg, 0..360
    dp: np.ndarray  # [L] Pa, central pressure deficit
    rmax: np.ndarray  # [L] m
    b: np.ndarray  # [L] Holland B
    r_out: float  # m, outer size of the pressure deficit
    alpha: float  # fraction of dp in the broad outer low
    r_broad: float  # m, e-folding radius of the broad outer low


# --------------------------------------------------------------------------- grid & time


def _grid(resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """``lat`` -90..90 inclusive and ``lon`` 0..360 exclusive, degrees."""
    if not (isinstance(resolution, int | float) and resolution > 0):
        raise ValueError(f"resolution must be a positive number of degrees, got {resolution!r}")
    nlat = round(180.0 / resolution)
    nlon = round(360.0 / resolution)
    if abs(nlat * resolution - 180.0) > 1e-6 or abs(nlon * resolution - 360.0) > 1e-6:
        raise ValueError(f"resolution must divide 180 degrees exactly, got {resolution!r}")
    if nlat < 8:
        raise ValueError(f"resolution {resolution!r} is too coarse (need at least 9 latitudes)")
    lat = np.linspace(-90.0, 90.0, nlat + 1)
    lon = np.arange(nlon) * (360.0 / nlon)
    return lat, lon


def _parse_start(start: str) -> cftime.datetime:
    """``YYYY-MM-DD[ HH[:MM[:SS]]]`` (or ``T`` separator) -> noleap cftime on a 3-hourly step."""
    try:
        parts = str(start).strip().replace("T", " ").split()
        y, m, d = (int(v) for v in parts[0].split("-"))
        hms = [int(v) for v in parts[1].split(":")] if len(parts) > 1 else []
        hh, mm, ss = (hms + [0, 0, 0])[:3]
        t0 = cftime.datetime(y, m, d, hh, mm, ss, calendar="noleap")
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError(
            f"start must be a date 'YYYY-MM-DD[ HH:MM:SS]' valid in the noleap calendar, "
            f"got {start!r} ({exc})"
        ) from exc
    if (hh * 3600 + mm * 60 + ss) % int(STEP_HOURS * 3600):
        raise ValueError(f"start must fall on a 3-hourly step (00, 03, ... 21 h), got {start!r}")
    return t0


# --------------------------------------------------------------------------- background


def _zonal_mean_psl(lat: np.ndarray) -> np.ndarray:
    """Zonal-mean sea-level pressure, Pa, [nlat]."""
    nodes = np.array([-90, -75, -64, -52, -42, -30, -18, -8, 0, 8, 18, 30, 42, 52, 62, 75, 90.0])
    hpa = np.array(
        [1006, 994, 984, 996, 1012, 1019.5, 1013, 1009.5, 1008.5,
         1009.5, 1013.5, 1020.5, 1014, 1003, 996, 1005, 1012.0]
    )  # fmt: skip
    return PchipInterpolator(nodes, hpa * 100.0)(lat)


@dataclass
class _Waves:
    """Travelling waves in PSL: sum of A(t) * env(lat) * cos(k*lon - w*t + theta + tilt(lat))."""

    amp: np.ndarray  # [N] Pa
    k: np.ndarray  # [N] zonal wavenumber
    omega: np.ndarray  # [N] rad s-1 (positive: eastward)
    theta: np.ndarray  # [N] rad
    lat0: np.ndarray  # [N] deg
    width: np.ndarray  # [N] deg
    tilt: np.ndarray  # [N] rad per width
    mod_period: np.ndarray  # [N] s
    mod_phase: np.ndarray  # [N] rad


def _draw_waves(rng: np.random.Generator) -> _Waves:
    rows = []
    for hemi in (+1, -1):
        for _ in range(4):  # mid-latitude Rossby-like waves, eastward at 6-12 m/s
            k = int(rng.integers(4, 9))
            lat0 = hemi * rng.uniform(40.0, 55.0)
            c = rng.uniform(6.0, 12.0)
            omega = k * c / (EARTH_RADIUS_M * math.cos(math.radians(lat0)))
            amp = rng.uniform(350.0, 800.0) * (1.2 if hemi < 0 else 1.0)
            rows.append((amp, k, omega, lat0, rng.uniform(7.0, 11.0), rng.uniform(-1.0, 1.0)))
    for _ in range(2):  # tropical easterly waves (NH), westward at ~7 m/s
        k = int(rng.integers(12, 19))
        lat0 = rng.uniform(10.0, 16.0)
        c = -rng.uniform(5.0, 8.0)
        omega = k * c / (EARTH_RADIUS_M * math.cos(math.radians(lat0)))
        rows.append((rng.uniform(80.0, 150.0), k, omega, lat0, rng.uniform(4.0, 6.0), 0.0))
    n = len(rows)
    amp, k, omega, lat0, width, tilt = (np.array(c, dtype=float) for c in zip(*rows))
    return _Waves(
        amp=amp,
        k=k,
        omega=omega,
        theta=rng.uniform(0.0, 2 * math.pi, n),
        lat0=lat0,
        width=width,
        tilt=tilt,
        mod_period=rng.uniform(4.0, 10.0, n) * 86400.0,
        mod_phase=rng.uniform(0.0, 2 * math.pi, n),
    )


def _background_psl(
    seconds: np.ndarray, lat: np.ndarray, lon: np.ndarray, waves: _Waves, zonal: np.ndarray
) -> np.ndarray:
    """Background PSL without cyclones, Pa, [T, nlat, nlon]; ``seconds`` since start."""
    lam = np.deg2rad(lon)
    # stationary wave-2: subtropical highs stronger over the oceans
    env_st = np.exp(-(((np.abs(lat) - 30.0) / 10.0) ** 2))
    field = zonal[:, None] + 250.0 * env_st[:, None] * np.cos(2.0 * (lam - math.radians(200.0)))
    field = np.broadcast_to(field, (len(seconds), len(lat), len(lon))).copy()
    for i in range(len(waves.amp)):
        xi = (lat - waves.lat0[i]) / waves.width[i]
        env = np.exp(-(xi**2))  # [nlat]
        amp_t = waves.amp[i] * (
            1.0 + 0.4 * np.sin(2 * math.pi * seconds / waves.mod_period[i] + waves.mod_phase[i])
        )  # [T]
        psi = (
            -waves.omega[i] * seconds[:, None] + waves.theta[i] + waves.tilt[i] * xi[None, :]
        )  # [T, nlat]
        cos_k, sin_k = np.cos(waves.k[i] * lam), np.sin(waves.k[i] * lam)  # [nlon]
        wave = np.cos(psi)[:, :, None] * cos_k - np.sin(psi)[:, :, None] * sin_k
        field += (amp_t[:, None] * env[None, :])[:, :, None] * wave
    return field


def _coriolis_bounded(lat: np.ndarray, min_lat: float) -> np.ndarray:
    """2*Omega*sin(lat) with |f| >= f(min_lat); the sign of lat (north for 0)."""
    sign = np.where(lat >= 0, 1.0, -1.0)
    return (
        sign
        * 2
        * OMEGA
        * np.maximum(np.abs(np.sin(np.deg2rad(lat))), math.sin(math.radians(min_lat)))
    )


def _background_wind(
    psl: np.ndarray, lat: np.ndarray, lon: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Geostrophic 850 hPa wind from background PSL (plus trades and Hadley inflow), m/s."""
    dlat = math.radians(lat[1] - lat[0])
    dlon = math.radians(lon[1] - lon[0])
    coslat = np.maximum(np.cos(np.deg2rad(lat)), 0.05)[None, :, None]
    f = _coriolis_bounded(lat, 14.0)[None, :, None]
    dpdy = np.gradient(psl, axis=1) / (EARTH_RADIUS_M * dlat)
    dpdx = (np.roll(psl, -1, axis=2) - np.roll(psl, 1, axis=2)) / (
        2 * dlon * EARTH_RADIUS_M * coslat
    )
    u = -dpdy / (RHO_AIR * f)
    v = dpdx / (RHO_AIR * f)
    u += (-3.0 * np.exp(-((lat / 8.0) ** 2)))[None, :, None]  # equatorial easterlies
    hadley = np.where(np.abs(lat) < 30.0, -2.0 * np.sin(np.pi * lat / 30.0), 0.0)
    v += hadley[None, :, None]  # trade-wind inflow towards the equator
    return u, v


def _bilinear(
    field: np.ndarray, lat: np.ndarray, lon: np.ndarray, plat: float, plon: float
) -> float:
    """Bilinear value of a 2-D [nlat, nlon] periodic-in-lon field at (plat, plon)."""
    res = lat[1] - lat[0]
    y = (plat - lat[0]) / res
    x = (plon % 360.0) / res
    i0 = int(min(max(math.floor(y), 0), len(lat) - 2))
    j0 = int(math.floor(x)) % len(lon)
    j1 = (j0 + 1) % len(lon)
    wy, wx = y - i0, x - math.floor(x)
    return float(
        (1 - wy) * ((1 - wx) * field[i0, j0] + wx * field[i0, j1])
        + wy * ((1 - wx) * field[i0 + 1, j0] + wx * field[i0 + 1, j1])
    )


# --------------------------------------------------------------------------- cyclones


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _draw_storms(rng: np.random.Generator, n_steps: int) -> list[_Storm]:
    """Genesis (Poisson per basin) and kinematic tracks with intensity life cycles."""
    spin = int(round(SPINUP_DAYS * 24 / STEP_HOURS))
    window_days = (spin + n_steps) * STEP_HOURS / 24.0
    dt = STEP_HOURS * 3600.0
    storms: list[_Storm] = []
    for name, basin in BASINS.items():
        # renewal process with Gamma(4) gaps: as many storms as Poisson on average, but more
        # regular, so a basin is rarely empty or crowded for long
        mean_gap = 1.0 / basin.rate_per_day
        n_max = int(window_days / mean_gap * 3) + 8
        gaps = rng.gamma(4.0, mean_gap / 4.0, size=n_max)
        t_birth = (
            -SPINUP_DAYS
            + rng.uniform(0.0, mean_gap)
            + np.concatenate([[0.0], np.cumsum(gaps[:-1])])
        )
        births = np.round(t_birth[t_birth * 24 / STEP_HOURS < n_steps] * 24 / STEP_HOURS).astype(
            int
        )
        for idx, birth in enumerate(births):
            life = int(round(rng.uniform(4.0, 11.0) * 24 / STEP_HOURS))
            lat = rng.uniform(*basin.lat) * basin.hemisphere
            lon = rng.uniform(*basin.lon)
            ridge = rng.uniform(*basin.ridge_lat)
            u_west, u_east = -rng.uniform(3.0, 6.0), rng.uniform(6.0, 12.0)
            v_beta, v_rec = rng.uniform(1.0, 2.5), rng.uniform(2.0, 4.0)
            dp_peak = rng.uniform(1500.0, 7500.0)
            dp_gen = rng.uniform(500.0, 800.0)
            tau_peak = rng.uniform(0.35, 0.7)
            r_weak, r_peak = rng.uniform(60e3, 80e3), rng.uniform(30e3, 50e3)
            b_weak, b_peak = rng.uniform(1.0, 1.2), rng.uniform(1.3, 1.6)
            r_out = rng.uniform(600e3, 900e3)
            alpha, r_broad = rng.uniform(0.25, 0.4), rng.uniform(250e3, 400e3)
            noise = rng.normal(0.0, 1.0, size=(life, 2))
            lats, lons = np.empty(life), np.empty(life)
            un = vn = 0.0
            phi = 0.92  # AR(1) per 3 h step: ~1.5-day memory, 1 m/s std
            for s in range(life):
                lats[s], lons[s] = lat, lon % 360.0
                alat = abs(lat)
                u = u_west + (u_east - u_west) * _sigmoid((alat - ridge) / 3.5)
                v = basin.hemisphere * (v_beta + v_rec * math.exp(-(((alat - ridge) / 6.0) ** 2)))
                un = phi * un + math.sqrt(1 - phi**2) * noise[s, 0]
                vn = phi * vn + math.sqrt(1 - phi**2) * noise[s, 1]
                u, v = u + un, v + vn
                lat += math.degrees(v * dt / EARTH_RADIUS_M)
                lon += math.degrees(u * dt / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
            keep = np.abs(lats) <= 58.0
            stop = int(np.argmin(keep)) if not keep.all() else life
            if stop < 2:
                continue
            tau = np.arange(life) / (life - 1)
            shape = np.sin(np.pi * np.clip(tau, 0, 1) ** (math.log(0.5) / math.log(tau_peak)))
            # fade in over the first day and out over the last day (no sudden lows)
            hours = np.arange(life) * STEP_HOURS
            ramp = np.clip(np.minimum(hours, hours[-1] - hours) / 24.0, 0.0, 1.0)
            dp = dp_gen * ramp + (dp_peak - dp_gen) * shape
            rmax = r_weak - (r_weak - r_peak) * shape
            bb = b_weak + (b_peak - b_weak) * shape
            storms.append(
                _Storm(
                    storm_id=f"{name}_{idx + 1:03d}",
                    basin=name,
                    hemisphere=basin.hemisphere,
                    first_step=int(birth),
                    lat=lats[:stop],
                    lon=lons[:stop],
                    dp=dp[:stop],
                    rmax=rmax[:stop],
                    b=bb[:stop],
                    r_out=r_out,
                    alpha=alpha,
                    r_broad=r_broad,
                )
            )
    return storms


def _holland(
    r: np.ndarray,
    dp: float,
    rmax: float,
    b: float,
    r_out: float,
    f: float,
    alpha: float = 0.0,
    r_broad: float = 300e3,
) -> tuple[np.ndarray, np.ndarray]:
    """Pressure deficit (Pa, >= 0) and gradient-wind speed (m/s, >= 0) at radii ``r`` (m).

    Deficit ``dp * [(1 - alpha) * (1 - exp(-(rmax/r)**b)) + alpha * exp(-(r/r_broad)**2)]``
    times the outer taper ``exp(-(r/r_out)**4)``: a Holland (1980) core plus a broad outer low
    (fraction ``alpha`` of ``dp``), so the storm is a clear low even on a 1-2 degree grid.
    The central deficit is ``dp``.
    """
    r = np.maximum(r, 1.0)
    x = (rmax / r) ** b
    ex = np.exp(-x)
    g = np.exp(-((r / r_broad) ** 2))
    w = np.exp(-((r / r_out) ** 4))
    deficit = dp * ((1.0 - alpha) * (1.0 - ex) + alpha * g)
    d_deficit = -dp * ((1.0 - alpha) * b * x * ex / r + alpha * 2.0 * r / r_broad**2 * g)
    dpdr = -d_deficit * w + deficit * 4.0 * (r / r_out) ** 4 / r * w
    fr = abs(f) * r
    speed = np.sqrt((0.5 * fr) ** 2 + r * dpdr / RHO_AIR) - 0.5 * fr
    return deficit * w, speed


def _storm_f(lat_c: float) -> float:
    return 2 * OMEGA * max(abs(math.sin(math.radians(lat_c))), math.sin(math.radians(5.0)))


def _add_vortex(
    psl: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    storm: _Storm,
    k: int,
) -> None:
    """Add the storm's vortex at its k-th position to 2-D fields [nlat, nlon] in place."""
    res = lat[1] - lat[0]
    lat_c, lon_c = storm.lat[k], storm.lon[k]
    r_cut = 1.7 * storm.r_out
    n_lat = int(math.ceil(math.degrees(r_cut / EARTH_RADIUS_M) / res))
    ic = int(round((lat_c - lat[0]) / res))
    ilat = np.arange(max(ic - n_lat, 0), min(ic + n_lat + 1, len(lat)))
    edge = max(abs(lat[ilat[0]]), abs(lat[ilat[-1]]))  # highest |lat| in the window
    coslat_min = max(math.cos(math.radians(min(edge, 89.0))), 0.02)
    n_lon = int(math.ceil(math.degrees(r_cut / (EARTH_RADIUS_M * coslat_min)) / res))
    n_lon = min(n_lon, (len(lon) - 1) // 2)
    jc = int(round(lon_c / res))
    jlon = (jc + np.arange(-n_lon, n_lon + 1)) % len(lon)
    glat = lat[ilat][:, None]
    dlon = (lon[jlon][None, :] - lon_c + 180.0) % 360.0 - 180.0
    dx = EARTH_RADIUS_M * np.cos(np.deg2rad(glat)) * np.deg2rad(dlon)
    dy = EARTH_RADIUS_M * np.deg2rad(glat - lat_c) * np.ones_like(dx)
    r = np.hypot(dx, dy)
    deficit, speed = _holland(
        r, storm.dp[k], storm.rmax[k], storm.b[k], storm.r_out, _storm_f(lat_c),
        storm.alpha, storm.r_broad,
    )  # fmt: skip
    rs = np.maximum(r, 1.0)
    s = float(storm.hemisphere)  # +1: counter-clockwise (NH), -1: clockwise (SH)
    ca, sa = math.cos(INFLOW_ANGLE), math.sin(INFLOW_ANGLE)
    uu = speed * (ca * s * (-dy) - sa * dx) / rs
    vv = speed * (ca * s * dx - sa * dy) / rs
    sel = np.ix_(ilat, jlon)
    psl[sel] -= deficit
    u[sel] += uu
    v[sel] += vv


def _max_gradient_wind(storm: _Storm, k: int) -> float:
    r = np.linspace(2e3, 600e3, 600)
    _, speed = _holland(
        r, storm.dp[k], storm.rmax[k], storm.b[k], storm.r_out, _storm_f(storm.lat[k]),
        storm.alpha, storm.r_broad,
    )  # fmt: skip
    return float(speed.max())


# --------------------------------------------------------------------------- writing


def _file_blocks(n_steps: int, steps_per_file: int) -> Iterator[tuple[int, int]]:
    for a in range(0, n_steps, steps_per_file):
        yield a, min(a + steps_per_file, n_steps)


def _cam_dataset(
    psl: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    days: np.ndarray,
    t0: cftime.datetime,
    times: list[cftime.datetime],
    case: str,
    seed: int,
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
            "history": f"written by hurricane_ode.data.synthetic (seed={seed})",
        },
    )
    return ds


def _write_atomic(ds: xr.Dataset, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    nlat, nlon = ds.sizes["lat"], ds.sizes["lon"]
    enc: dict[str, dict] = {
        name: {
            "dtype": "float32",
            "_FillValue": np.float32(1e36),
            "missing_value": np.float32(1e36),
            "chunksizes": (1, nlat, nlon),
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


def make_synthetic_world(
    output_dir: str | os.PathLike,
    start: str = "2005-08-01",
    days: float = 30,
    resolution: float = 1.0,
    seed: int = 0,
    days_per_file: float = 5,
    progress: bool = True,
    case: str = "f.e13.FAMIPC5.synthetic",
) -> SyntheticWorld:
    """Write a synthetic CAM5-like world: 3-hourly U850/V850/PSL files and true tracks.

    Parameters
    ----------
    output_dir: directory to create/fill; existing files of the same names are replaced.
    start: first time stamp, ``YYYY-MM-DD[ HH:MM:SS]`` in the ``noleap`` calendar.
    days: length of the run, days (``days * 8`` time steps of 3 h).
    resolution: grid spacing, degrees (must divide 180); lat -90..90 inclusive, lon 0..360 exclusive.
    seed: seeds everything (same seed and arguments -> identical files).
    days_per_file: days per history file (CAM ``h2`` files, named after their first time).
    progress: show a progress bar over time steps.
    case: CAM case name used in file names and the ``case`` global attribute.

    Returns
    -------
    SyntheticWorld(files, tracks, directory). ``tracks.csv`` has one row per
    storm per 3-hourly step inside the run with columns
    ``storm_id,basin,time,lat,lon,min_psl_pa,max_wind_ms``: ``time`` ISO
    ``YYYY-MM-DDTHH:MM:SS`` (noleap), ``lon`` in 0..360, ``min_psl_pa`` the
    analytic central pressure (background PSL at the centre minus the
    Holland deficit ``dp``; the gridded minimum is higher because no grid
    point sits exactly at the centre), ``max_wind_ms`` the maximum
    gradient-wind speed of the vortex plus the speed of the background
    wind at the centre (an upper bound on the gridded 850 hPa wind).
    """
    if days <= 0:
        raise ValueError(f"days must be positive, got {days!r}")
    if days_per_file <= 0:
        raise ValueError(f"days_per_file must be positive, got {days_per_file!r}")
    n_steps = int(round(days * 24 / STEP_HOURS))
    steps_per_file = max(int(round(days_per_file * 24 / STEP_HOURS)), 1)
    if n_steps < 1:
        raise ValueError(f"days={days!r} gives no 3-hourly time step")
    lat, lon = _grid(resolution)
    t0 = _parse_start(start)
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(seed)
    waves = _draw_waves(rng)
    storms = _draw_storms(rng, n_steps)
    zonal = _zonal_mean_psl(lat)
    step_td = _dt.timedelta(hours=STEP_HOURS)
    all_times = [t0 + i * step_td for i in range(n_steps)]

    rows: list[tuple] = []
    files: list[Path] = []
    bar = tqdm(total=n_steps, desc="synthetic world", unit="step", disable=not progress)
    try:
        for a, b in _file_blocks(n_steps, steps_per_file):
            seconds = np.arange(a, b) * STEP_HOURS * 3600.0
            psl = _background_psl(seconds, lat, lon, waves, zonal)
            u, v = _background_wind(psl, lat, lon)
            for i, step in enumerate(range(a, b)):
                bg_psl, bg_u, bg_v = psl[i].copy(), u[i].copy(), v[i].copy()
                for storm in storms:
                    k = step - storm.first_step
                    if not 0 <= k < len(storm.lat):
                        continue
                    _add_vortex(psl[i], u[i], v[i], lat, lon, storm, k)
                    lat_c, lon_c = float(storm.lat[k]), float(storm.lon[k])
                    env = _bilinear(bg_psl, lat, lon, lat_c, lon_c)
                    ub = _bilinear(bg_u, lat, lon, lat_c, lon_c)
                    vb = _bilinear(bg_v, lat, lon, lat_c, lon_c)
                    rows.append(
                        (
                            storm.storm_id,
                            storm.basin,
                            all_times[step].strftime("%Y-%m-%dT%H:%M:%S"),
                            round(lat_c, 4),
                            round(lon_c, 4),
                            round(env - float(storm.dp[k]), 1),
                            round(_max_gradient_wind(storm, k) + math.hypot(ub, vb), 2),
                        )
                    )
                bar.update(1)
            times = all_times[a:b]
            day_numbers = np.arange(a, b) * STEP_HOURS / 24.0
            ds = _cam_dataset(psl, u, v, lat, lon, day_numbers, t0, times, case, seed)
            first = times[0]
            secs = first.hour * 3600 + first.minute * 60 + first.second
            path = out / f"{case}.cam.h2.{first.strftime('%Y-%m-%d')}-{secs:05d}.nc"
            _write_atomic(ds, path)
            files.append(path)
    finally:
        bar.close()

    tracks = pd.DataFrame(rows, columns=list(TRACK_COLUMNS))
    tracks = tracks.sort_values(["storm_id", "time"], kind="stable").reset_index(drop=True)
    tracks_path = out / "tracks.csv"
    tmp = tracks_path.with_name(f".tracks.csv.tmp{os.getpid()}")
    tracks.to_csv(tmp, index=False)
    os.replace(tmp, tracks_path)
    return SyntheticWorld(files=files, tracks=tracks_path, directory=out)
