"""The ``eddies`` background generator: a Gaussian-bump zonal mean plus coherent drifting eddies.

A third way to make a background atmosphere, unlike the other two in kind: no waves at all.
The zonal mean is a sum of Gaussian bumps (equatorial trough, subtropical highs, subpolar
lows) set by the same knobs as the other generators. On it sit isolated highs and lows, each
a Gaussian bump of sea-level pressure (e-folding radius 500-1,300 km) that is born, grows to
its amplitude and decays over 2-8 days (``sin^2`` envelope) while it drifts: eastward at about
``rossby_speed_ms`` in mid-latitudes (cut-off lows and blocking highs), westward at about
``easterly_wave_speed_ms`` in the tropics, with a random meridional drift. Mid-latitude
amplitudes follow ``rossby_amp_scale``, tropical ones ``easterly_wave_amp_scale``.

Eddies are drawn per 10-day window from a seed drawn once from the world's ``waves`` stream
and the window's index, so the field at a time never depends on how long the run is.
"""

from __future__ import annotations

import math

import numpy as np

from hurricane_ode.data.synthetic.climate import Climate
from hurricane_ode.data.synthetic.constants import EARTH_RADIUS_M

__all__ = ["EddyField", "eddies_zonal_mean_psl"]

_WINDOW_S = 10 * 86400.0
#: < _WINDOW_S: an eddy alive at t was born in t's window or the one before
_MAX_LIFE_S = 8 * 86400.0


def eddies_zonal_mean_psl(lat: np.ndarray, climate: Climate) -> np.ndarray:
    """Zonal-mean PSL of the ``eddies`` generator, Pa, [nlat]: Gaussian bumps on 1011 hPa."""
    c = climate
    a = np.abs(lat)
    high = np.where(lat < 0, c.subtropical_high_hpa - 1.0, c.subtropical_high_hpa)
    L = c.subtropical_high_lat
    hpa = (
        1011.0
        + (high - 1011.0) * np.exp(-(((a - L) / 12.0) ** 2))
        - (1011.0 - c.trough_hpa) * np.exp(-((a / 10.0) ** 2))
        - 14.0 * c.westerly_scale * np.exp(-(((a - L - 30.0) / 10.0) ** 2))
    )
    return hpa * 100.0


class EddyField:
    """PSL anomaly of drifting coherent eddies, Pa, on one grid.

    Parameters
    ----------
    lat, lon: grid, degrees.
    climate: the climate (amplitude and speed knobs).
    seed: the generator's seed (drawn once from the world's ``waves`` stream).
    """

    def __init__(self, lat: np.ndarray, lon: np.ndarray, climate: Climate, seed: int):
        self.lat, self.lon, self.climate, self.seed = lat, lon, climate, int(seed)
        self._phi = np.deg2rad(lat)[:, None]
        self._lam = np.deg2rad(lon)[None, :]
        self._cache: dict[int, np.ndarray] = {}

    def _window(self, n: int) -> np.ndarray:
        """Eddies born in window ``n``: rows of (birth s, life s, amp Pa, radius m, lat0, lon0,
        u m/s, v m/s)."""
        if n not in self._cache:
            c = self.climate
            rng = np.random.default_rng([self.seed, n + 1_000_000])
            rows = []
            for hemi in (+1.0, -1.0):
                for _ in range(int(rng.integers(36, 51))):  # mid-latitude highs and lows
                    sign = -1.0 if rng.uniform() < 0.6 else 1.0
                    amp = sign * rng.uniform(700.0, 2200.0) * c.rossby_amp_scale
                    u = c.rossby_speed_ms + 4.0 * (2.0 * rng.uniform() - 1.0)
                    rows.append((amp, rng.uniform(5e5, 1.3e6), hemi * rng.uniform(32.0, 68.0), u,
                                 hemi * rng.uniform(-2.0, 2.0)))  # fmt: skip
                for _ in range(int(rng.integers(6, 12))):  # weak tropical disturbances
                    amp = -rng.uniform(80.0, 220.0) * c.easterly_wave_amp_scale
                    u = -(c.easterly_wave_speed_ms + 1.5 * (2.0 * rng.uniform() - 1.0))
                    rows.append((amp, rng.uniform(4e5, 9e5), hemi * rng.uniform(6.0, 22.0), u,
                                 hemi * rng.uniform(0.0, 1.5)))  # fmt: skip
            m = len(rows)
            amps, radii, lat0s, us, vs = (np.array(col) for col in zip(*rows))
            birth = (n + rng.uniform(0.0, 1.0, m)) * _WINDOW_S
            life = rng.uniform(2 * 86400.0, _MAX_LIFE_S, m)
            lon0 = rng.uniform(0.0, 360.0, m)
            self._cache[n] = np.stack([birth, life, amps, radii, lat0s, lon0, us, vs], axis=1)
            self._cache.pop(n - 3, None)
        return self._cache[n]

    def psl(self, seconds: float) -> np.ndarray:
        """PSL anomaly, Pa, [nlat, nlon], ``seconds`` after the start."""
        n = math.floor(seconds / _WINDOW_S)
        eddies = np.concatenate([self._window(n - 1), self._window(n)])
        ages = seconds - eddies[:, 0]
        alive = eddies[(ages >= 0) & (ages <= eddies[:, 1])]
        field = np.zeros((len(self.lat), len(self.lon)))
        for birth, life, amp, radius, lat0, lon0, u, v in alive:
            age = seconds - birth
            lat_c = float(np.clip(lat0 + math.degrees(v * age / EARTH_RADIUS_M), -80.0, 80.0))
            coslat = max(math.cos(math.radians(lat_c)), 0.2)
            lon_c = math.radians(lon0) + u * age / (EARTH_RADIUS_M * coslat)
            dlam = (self._lam - lon_c + math.pi) % (2 * math.pi) - math.pi
            dx = EARTH_RADIUS_M * coslat * dlam
            dy = EARTH_RADIUS_M * (self._phi - math.radians(lat_c))
            rows = np.abs(dy[:, 0]) < 4.0 * radius  # only the band the bump reaches
            env = amp * math.sin(math.pi * age / life) ** 2
            field[rows] += env * np.exp(-(dx**2 + dy[rows] ** 2) / radius**2)
        return field
