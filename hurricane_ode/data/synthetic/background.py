"""Background atmosphere (no cyclones): sea-level pressure and balanced 850 hPa winds.

Three generators, chosen by :attr:`Climate.background`:

* ``zonal``: a zonal-mean PSL through pressure nodes (equatorial trough, subtropical highs,
  subpolar lows; PCHIP), a stationary wave-2, travelling mid-latitude Rossby-like waves
  (eastward) and tropical easterly waves (westward);
* ``spectral``: an analytic (sine-squared) zonal mean from the same trough / high knobs, plus a
  2-D red-noise eddy field (zonal wavenumbers 1-24 x meridional sine modes 1-12, amplitude
  ``~ (k^2 + j^2)^-0.75``) whose modes travel at random phase speeds (-6..14 m/s) and breathe;
* ``eddies``: a Gaussian-bump zonal mean plus coherent highs and lows that are born, drift and
  decay (:mod:`.eddies`); no waves.

Every field is a deterministic function of the time since ``start`` (drawn once from the
world's ``waves`` stream), evaluated step by step, so a longer run only adds steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from hurricane_ode.data.synthetic.climate import Climate
from hurricane_ode.data.synthetic.constants import EARTH_RADIUS_M, OMEGA, RHO_AIR
from hurricane_ode.data.synthetic.eddies import EddyField, eddies_zonal_mean_psl

_NODES = np.array([-90, -75, -64, -52, -42, -30, -18, -8, 0, 8, 18, 30, 42, 52, 62, 75, 90.0])
_HPA = np.array(
    [1006, 994, 984, 996, 1012, 1019.5, 1013, 1009.5, 1008.5,
     1009.5, 1013.5, 1020.5, 1014, 1003, 996, 1005, 1012.0]
)  # fmt: skip
_HIGH0, _TROUGH0 = 1020.5, 1008.5


def zonal_mean_psl(lat: np.ndarray, climate: Climate) -> np.ndarray:
    """Zonal-mean PSL of the ``zonal`` generator, Pa, [nlat] (the defaults give the original)."""
    c = climate
    high = np.where(_NODES < 0, c.subtropical_high_hpa - 1.0, c.subtropical_high_hpa)
    high0 = np.where(_NODES < 0, _HIGH0 - 1.0, _HIGH0)
    a = np.abs(_NODES)
    frac = (_HPA - _TROUGH0) / (_HIGH0 - _TROUGH0)
    hpa = np.where(
        a < 30.0,
        c.trough_hpa + frac * (c.subtropical_high_hpa - c.trough_hpa),
        high - c.westerly_scale * (high0 - _HPA),
    )
    # stretch latitudes so the highs sit at +-subtropical_high_lat
    L = c.subtropical_high_lat
    a_new = np.where(a <= 30.0, a * L / 30.0, L + (a - 30.0) * (90.0 - L) / 60.0)
    return PchipInterpolator(np.sign(_NODES) * a_new, hpa * 100.0)(lat)


def spectral_zonal_mean_psl(lat: np.ndarray, climate: Climate) -> np.ndarray:
    """Zonal-mean PSL of the ``spectral`` generator (sine-squared pieces), Pa, [nlat]."""
    c = climate
    a = np.abs(lat)
    L = c.subtropical_high_lat
    high = np.where(lat < 0, c.subtropical_high_hpa - 1.0, c.subtropical_high_hpa)
    low = high - c.westerly_scale * 24.5
    span = 32.0
    tropics = c.trough_hpa + (high - c.trough_hpa) * np.sin(0.5 * np.pi * np.clip(a / L, 0, 1)) ** 2
    falling = high - (high - low) * np.sin(0.5 * np.pi * np.clip((a - L) / span, 0, 1)) ** 2
    polar = (
        low
        + (1010.0 - low)
        * np.sin(0.5 * np.pi * np.clip((a - L - span) / (90 - L - span), 0, 1)) ** 2
    )
    hpa = np.where(a <= L, tropics, np.where(a <= L + span, falling, polar))
    return hpa * 100.0


@dataclass
class _Waves:
    amp: np.ndarray  # [N] Pa
    k: np.ndarray  # [N] zonal wavenumber
    omega: np.ndarray  # [N] rad s-1 (positive: eastward)
    theta: np.ndarray  # [N] rad
    lat0: np.ndarray  # [N] deg
    width: np.ndarray  # [N] deg
    tilt: np.ndarray  # [N] rad per width
    mod_period: np.ndarray  # [N] s
    mod_phase: np.ndarray  # [N] rad


def _draw_waves(rng: np.random.Generator, c: Climate) -> _Waves:
    rows = []
    for hemi in (+1, -1):
        for _ in range(4):  # mid-latitude Rossby-like waves, eastward
            k = int(rng.integers(4, 9))
            lat0 = hemi * rng.uniform(40.0, 55.0)
            speed = c.rossby_speed_ms + 3.0 * (2.0 * rng.uniform() - 1.0)
            omega = k * speed / (EARTH_RADIUS_M * math.cos(math.radians(lat0)))
            amp = rng.uniform(350.0, 800.0) * (1.2 if hemi < 0 else 1.0) * c.rossby_amp_scale
            rows.append((amp, k, omega, lat0, rng.uniform(7.0, 11.0), rng.uniform(-1.0, 1.0)))
    for _ in range(2):  # tropical easterly waves (NH), westward
        k = int(rng.integers(12, 19))
        lat0 = rng.uniform(10.0, 16.0)
        speed = -(c.easterly_wave_speed_ms + 1.5 * (2.0 * rng.uniform() - 1.0))
        omega = k * speed / (EARTH_RADIUS_M * math.cos(math.radians(lat0)))
        amp = rng.uniform(80.0, 150.0) * c.easterly_wave_amp_scale
        rows.append((amp, k, omega, lat0, rng.uniform(4.0, 6.0), 0.0))
    n = len(rows)
    amps, ks, omegas, lat0s, widths, tilts = (np.array(col, dtype=float) for col in zip(*rows))
    return _Waves(
        amp=amps, k=ks, omega=omegas, theta=rng.uniform(0.0, 2 * math.pi, n), lat0=lat0s,
        width=widths, tilt=tilts, mod_period=rng.uniform(4.0, 10.0, n) * 86400.0,
        mod_phase=rng.uniform(0.0, 2 * math.pi, n),
    )  # fmt: skip


class Background:
    """PSL and 850 hPa wind of the background at any time, for one grid and climate.

    Parameters
    ----------
    lat, lon: grid, degrees (lat -90..90 inclusive, lon 0..360 exclusive).
    climate: the climate (its ``background`` selects the generator).
    rng: the world's ``waves`` stream (drawn once, here).
    """

    def __init__(
        self, lat: np.ndarray, lon: np.ndarray, climate: Climate, rng: np.random.Generator
    ):
        self.lat, self.lon, self.climate = lat, lon, climate
        self.kind = climate.background
        lam = np.deg2rad(lon)
        if self.kind == "zonal":
            self.zonal = zonal_mean_psl(lat, climate)
            self.waves = _draw_waves(rng, climate)
            env_st = np.exp(-(((np.abs(lat) - climate.subtropical_high_lat) / 10.0) ** 2))
            self.stationary = self.zonal[:, None] + climate.stationary_wave_pa * env_st[
                :, None
            ] * np.cos(2.0 * (lam - math.radians(200.0)))
            self._cos = {int(k): np.cos(k * lam) for k in np.unique(self.waves.k)}
            self._sin = {int(k): np.sin(k * lam) for k in np.unique(self.waves.k)}
        elif self.kind == "eddies":
            self.zonal = eddies_zonal_mean_psl(lat, climate)
            self.eddies = EddyField(lat, lon, climate, seed=int(rng.integers(2**31)))
        else:
            self._init_spectral(rng)

    # ------------------------------------------------------------------ spectral

    def _init_spectral(self, rng: np.random.Generator, n_k: int = 24, n_j: int = 12) -> None:
        c, lat = self.climate, self.lat
        self.zonal = spectral_zonal_mean_psl(lat, c)
        k = np.arange(1, n_k + 1)[:, None] * np.ones((1, n_j))
        j = np.ones((n_k, 1)) * np.arange(1, n_j + 1)[None, :]
        amp = (k**2 + j**2) ** -0.75 * rng.rayleigh(1.0, size=k.shape)
        theta = rng.uniform(0.0, 2 * math.pi, size=k.shape)
        speed = rng.uniform(-6.0, 14.0, size=k.shape)  # m/s at 45 deg
        self.sp_omega = k * speed / (EARTH_RADIUS_M * math.cos(math.radians(45.0)))
        self.sp_mod_period = rng.uniform(3.0, 10.0, size=k.shape) * 86400.0
        self.sp_mod_phase = rng.uniform(0.0, 2 * math.pi, size=k.shape)
        # RMS of the field ~ sqrt(sum amp^2 / 4); scale to ~450 Pa x rossby_amp_scale
        target = 450.0 * c.rossby_amp_scale
        amp *= target / math.sqrt(float((amp**2).sum()) / 4.0)
        self.sp_coef = amp * np.exp(1j * theta)  # [K, J]
        phi = np.deg2rad(lat + 90.0)  # 0..pi
        envelope = 0.25 + 0.75 * np.sin(np.deg2rad(lat)) ** 2
        self.sp_basis = (
            np.sin(np.arange(1, n_j + 1)[None, :] * phi[:, None]) * envelope[:, None]
        )  # [nlat, J]
        self.sp_nk = n_k

    def _spectral_psl(self, seconds: float) -> np.ndarray:
        mod = 1.0 + 0.5 * np.sin(2 * math.pi * seconds / self.sp_mod_period + self.sp_mod_phase)
        coef = self.sp_coef * mod * np.exp(-1j * self.sp_omega * seconds)  # [K, J]
        g = self.sp_basis @ coef.T  # [nlat, K]
        nlon = len(self.lon)
        spec = np.zeros((len(self.lat), nlon // 2 + 1), dtype=complex)
        kmax = min(self.sp_nk, (nlon - 1) // 2)  # wavenumbers a coarse grid resolves
        spec[:, 1 : kmax + 1] = g[:, :kmax] * (nlon / 2.0)
        return self.zonal[:, None] + np.fft.irfft(spec, n=nlon, axis=1)

    # ------------------------------------------------------------------ fields

    def psl(self, seconds: float) -> np.ndarray:
        """Background PSL, Pa, [nlat, nlon], ``seconds`` after the start."""
        if self.kind == "eddies":
            return self.zonal[:, None] + self.eddies.psl(seconds)
        if self.kind != "zonal":
            return self._spectral_psl(seconds)
        w, lat = self.waves, self.lat
        field = self.stationary.copy()
        for i in range(len(w.amp)):
            xi = (lat - w.lat0[i]) / w.width[i]
            env = np.exp(-(xi**2))
            amp_t = w.amp[i] * (
                1.0 + 0.4 * math.sin(2 * math.pi * seconds / w.mod_period[i] + w.mod_phase[i])
            )
            psi = -w.omega[i] * seconds + w.theta[i] + w.tilt[i] * xi  # [nlat]
            k = int(w.k[i])
            wave = np.cos(psi)[:, None] * self._cos[k] - np.sin(psi)[:, None] * self._sin[k]
            field += (amp_t * env)[:, None] * wave
        return field

    def wind(self, psl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Geostrophic 850 hPa wind from PSL [nlat, nlon] plus trades and Hadley inflow, m/s."""
        lat, lon, c = self.lat, self.lon, self.climate
        dlat = math.radians(lat[1] - lat[0])
        dlon = math.radians(lon[1] - lon[0])
        coslat = np.maximum(np.cos(np.deg2rad(lat)), 0.05)[:, None]
        f = coriolis_bounded(lat, 14.0)[:, None]
        dpdy = np.gradient(psl, axis=0) / (EARTH_RADIUS_M * dlat)
        dpdx = (np.roll(psl, -1, axis=1) - np.roll(psl, 1, axis=1)) / (
            2 * dlon * EARTH_RADIUS_M * coslat
        )
        u = -dpdy / (RHO_AIR * f)
        v = dpdx / (RHO_AIR * f)
        u += (-c.trade_easterly_ms * np.exp(-((lat / 8.0) ** 2)))[:, None]  # equatorial easterlies
        edge = c.subtropical_high_lat
        hadley = np.where(np.abs(lat) < edge, -c.hadley_inflow_ms * np.sin(np.pi * lat / edge), 0.0)
        v += hadley[:, None]  # trade-wind inflow towards the equator
        return u, v


def coriolis_bounded(lat: np.ndarray, min_lat: float) -> np.ndarray:
    """2*Omega*sin(lat) with |f| >= f(min_lat); the sign of lat (north for 0)."""
    sign = np.where(lat >= 0, 1.0, -1.0)
    return (
        sign
        * 2
        * OMEGA
        * np.maximum(np.abs(np.sin(np.deg2rad(lat))), math.sin(math.radians(min_lat)))
    )


def bilinear(
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
