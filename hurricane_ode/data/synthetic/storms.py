"""Tropical cyclones: genesis, kinematic tracks and life cycles, Holland vortices.

Each basin's genesis is a renewal process drawn in time order from its own seeded
stream, and each storm draws its track and life cycle from its own stream (keyed by
basin and storm number), so a longer run adds storms but never changes one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hurricane_ode.data.synthetic.climate import Climate
from hurricane_ode.data.synthetic.constants import EARTH_RADIUS_M, OMEGA, RHO_AIR

STEP_HOURS = 3.0
SPINUP_DAYS = 12.0  # storms may be born this long before ``start`` (so some are active at t=0)
INFLOW_ANGLE = math.radians(15.0)
ALPHA_WEAK = 0.6  # broad-low fraction of a depression (genesis / decay): weak storms are broad


@dataclass(frozen=True)
class _Basin:
    hemisphere: int  # +1 north, -1 south
    lat: tuple[float, float]  # genesis latitude range, deg
    lon: tuple[float, float]  # genesis longitude range, deg east (0..360, may exceed 360)
    rate_per_day: float  # mean genesis rate
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
class Storm:
    """One storm's 3-hourly life: positions and vortex parameters per step."""

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
    alpha: np.ndarray  # [L] fraction of dp in the broad outer low (larger while weak)
    r_broad: float  # m, e-folding radius of the broad outer low
    target_psl: np.ndarray | None = None  # [L] Pa: given central pressures (storms on given tracks)
    rmax_range: tuple[float, float] = (0.0, 0.0)  # given tracks: Rmax (m) at genesis / peak deficit
    b_range: tuple[float, float] = (0.0, 0.0)  # given tracks: Holland B at genesis / peak deficit
    alpha_peak: float = 0.0  # given tracks: broad-low fraction at peak deficit


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def genesis_times(rng: np.random.Generator, rate_per_day: float, n_steps: int) -> list[float]:
    """Birth times (days after start, from ``-SPINUP_DAYS``) of a renewal process with
    Gamma(4) gaps, drawn one by one in time order until the run ends (prefix-stable)."""
    mean_gap = 1.0 / rate_per_day
    t = -SPINUP_DAYS + rng.uniform(0.0, mean_gap)
    out = []
    while round(t * 24 / STEP_HOURS) < n_steps:
        out.append(t)
        t += rng.gamma(4.0, mean_gap / 4.0)
    return out


def draw_storms(
    stream: Callable[..., np.random.Generator], n_steps: int, climate: Climate
) -> list[Storm]:
    """All storms alive during ``n_steps`` 3-hourly steps (born up to SPINUP_DAYS before).

    Parameters
    ----------
    stream: ``stream(*key)`` -> an independent seeded generator for that key.
    n_steps: length of the run in steps.
    climate: storm knobs (genesis rate, sizes, intensities, steering).

    Returns
    -------
    list of Storm, in basin order then birth order.
    """
    c = climate
    dt = STEP_HOURS * 3600.0
    ts = c.translation_scale
    storms: list[Storm] = []
    for b_idx, (name, basin) in enumerate(BASINS.items()):
        births = genesis_times(
            stream("genesis", b_idx), basin.rate_per_day * c.genesis_scale, n_steps
        )
        for idx, t_birth in enumerate(births):
            rng = stream("storm", b_idx, idx)
            birth = int(round(t_birth * 24 / STEP_HOURS))
            life = max(int(round(rng.uniform(*c.lifetime_days) * 24 / STEP_HOURS)), 2)
            lat = rng.uniform(*basin.lat) * basin.hemisphere
            lon = rng.uniform(*basin.lon)
            ridge = rng.uniform(*basin.ridge_lat) + c.recurve_lat_shift
            u_west, u_east = -rng.uniform(3.0, 6.0) * ts, rng.uniform(6.0, 12.0) * ts
            v_beta, v_rec = rng.uniform(1.0, 2.5) * ts, rng.uniform(2.0, 4.0) * ts
            dp_peak = rng.uniform(*c.dp_peak_hpa) * 100.0
            dp_gen = rng.uniform(*c.dp_genesis_hpa) * 100.0
            tau_peak = rng.uniform(0.35, 0.7)
            r_weak, r_peak = (
                rng.uniform(*c.rmax_genesis_km) * 1e3,
                rng.uniform(*c.rmax_peak_km) * 1e3,
            )
            b_weak, b_peak = rng.uniform(1.0, 1.2), rng.uniform(1.3, 1.6)
            r_out = rng.uniform(*c.outer_radius_km) * 1e3
            alpha, r_broad = rng.uniform(0.25, 0.4), rng.uniform(*c.broad_radius_km) * 1e3
            noise = rng.normal(0.0, 1.0, size=(life, 2))
            lats, lons = np.empty(life), np.empty(life)
            un = vn = 0.0
            phi = 0.92  # AR(1) per 3 h step: ~1.5-day memory
            sd = c.track_noise_ms
            for s in range(life):
                lats[s], lons[s] = lat, lon % 360.0
                alat = abs(lat)
                u = u_west + (u_east - u_west) * _sigmoid((alat - ridge) / 3.5)
                v = basin.hemisphere * (v_beta + v_rec * math.exp(-(((alat - ridge) / 6.0) ** 2)))
                un = phi * un + math.sqrt(1 - phi**2) * noise[s, 0]
                vn = phi * vn + math.sqrt(1 - phi**2) * noise[s, 1]
                u, v = u + sd * un, v + sd * vn
                lat += math.degrees(v * dt / EARTH_RADIUS_M)
                lon += math.degrees(u * dt / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
            keep = np.abs(lats) <= 58.0
            stop = int(np.argmin(keep)) if not keep.all() else life
            if stop < 2 or birth + stop <= 0:
                continue
            tau = np.arange(life) / (life - 1)
            shape = np.sin(np.pi * np.clip(tau, 0, 1) ** (math.log(0.5) / math.log(tau_peak)))
            # fade in over the first day and out over the last day (no sudden lows)
            hours = np.arange(life) * STEP_HOURS
            ramp = np.clip(np.minimum(hours, hours[-1] - hours) / 24.0, 0.0, 1.0)
            dp = dp_gen * ramp + (dp_peak - dp_gen) * shape
            storms.append(
                Storm(
                    storm_id=f"{name}_{idx + 1:03d}", basin=name, hemisphere=basin.hemisphere,
                    first_step=birth, lat=lats[:stop], lon=lons[:stop], dp=dp[:stop],
                    rmax=(r_weak - (r_weak - r_peak) * shape)[:stop],
                    b=(b_weak + (b_peak - b_weak) * shape)[:stop],
                    r_out=r_out, alpha=(alpha + (ALPHA_WEAK - alpha) * (1.0 - shape))[:stop],
                    r_broad=r_broad,
                )
            )  # fmt: skip
    return storms


def holland(
    r: np.ndarray, dp: float, rmax: float, b: float, r_out: float, f: float,
    alpha: float = 0.0, r_broad: float = 300e3,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
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
    speed = np.sqrt(np.maximum((0.5 * fr) ** 2 + r * dpdr / RHO_AIR, 0.0)) - 0.5 * fr
    return deficit * w, speed


def storm_f(lat_c: float) -> float:
    """|Coriolis parameter| at the storm centre, bounded below by its value at 5 deg."""
    return 2 * OMEGA * max(abs(math.sin(math.radians(lat_c))), math.sin(math.radians(5.0)))


def add_vortex(
    psl: np.ndarray,
    u: np.ndarray,
    v: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    storm: Storm,
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
    deficit, speed = holland(
        r,
        storm.dp[k],
        storm.rmax[k],
        storm.b[k],
        storm.r_out,
        storm_f(lat_c),
        storm.alpha[k],
        storm.r_broad,
    )
    rs = np.maximum(r, 1.0)
    s = float(storm.hemisphere)  # +1: counter-clockwise (NH), -1: clockwise (SH)
    ca, sa = math.cos(INFLOW_ANGLE), math.sin(INFLOW_ANGLE)
    sel = np.ix_(ilat, jlon)
    psl[sel] -= deficit
    u[sel] += speed * (ca * s * (-dy) - sa * dx) / rs
    v[sel] += speed * (ca * s * dx - sa * dy) / rs


def max_gradient_wind(storm: Storm, k: int) -> float:
    """Maximum gradient-wind speed of the storm's vortex at its k-th position, m/s."""
    r = np.linspace(2e3, 600e3, 600)
    _, speed = holland(
        r,
        storm.dp[k],
        storm.rmax[k],
        storm.b[k],
        storm.r_out,
        storm_f(storm.lat[k]),
        storm.alpha[k],
        storm.r_broad,
    )
    return float(speed.max())
