"""The knobs of a synthetic world's climate, and the range worlds are trained on.

:class:`Climate` defaults reproduce the original single-climate world. The
training range (:data:`TRAINING_RANGES`) is what :meth:`Climate.sample` draws
from; held-out worlds set knobs outside it (:meth:`Climate.outside_training_range`
says which and by how much).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from hurricane_ode.errors import ConfigError

__all__ = ["Climate", "TRAINING_RANGES", "BACKGROUNDS", "TRAINING_BACKGROUNDS"]

#: Background generators: ``zonal`` (zonal mean + stationary and travelling waves),
#: ``spectral`` (an analytic zonal mean + a 2-D red-noise eddy field with random phase speeds) and
#: ``eddies`` (a Gaussian-bump zonal mean + coherent drifting highs and lows).
BACKGROUNDS = ("zonal", "spectral", "eddies")

#: Generators training worlds are made with; a world on another (``spectral``) is out of range.
TRAINING_BACKGROUNDS = ("zonal", "eddies")

#: Training range of each scalar knob drawn by :meth:`Climate.sample` (``spread=1``), as
#: ``(low, high)``. Knobs ending in ``_scale`` multiply ranges of the default climate.
TRAINING_RANGES: dict[str, tuple[float, float]] = {
    "subtropical_high_hpa": (1017.0, 1024.0),
    "subtropical_high_lat": (26.0, 34.0),
    "trough_hpa": (1006.0, 1011.0),
    "westerly_scale": (0.7, 1.3),
    "trade_easterly_ms": (1.5, 4.5),
    "rossby_amp_scale": (0.6, 1.4),
    "rossby_speed_ms": (6.0, 12.0),
    "easterly_wave_amp_scale": (0.5, 2.0),
    "easterly_wave_speed_ms": (5.0, 8.0),
    "stationary_wave_pa": (100.0, 400.0),
    "genesis_scale": (0.6, 1.5),
    "size_scale": (0.75, 1.3),
    "intensity_scale": (0.7, 1.3),
    "translation_scale": (0.75, 1.3),
    "recurve_lat_shift": (-4.0, 4.0),
    "track_noise_ms": (0.5, 1.5),
    "noise_psl_pa": (0.0, 20.0),
    "noise_wind_ms": (0.0, 0.5),
}


@dataclass(frozen=True)
class Climate:
    """A synthetic world's climate; the defaults are the original world.

    Background (sea-level pressure, hPa, and 850 hPa winds):

    * ``subtropical_high_hpa`` (1020.5): NH subtropical-high zonal-mean peak (SH 1 hPa lower).
    * ``subtropical_high_lat`` (30): its latitude, deg (both hemispheres; the tropics stretch).
    * ``trough_hpa`` (1008.5): equatorial-trough zonal-mean pressure.
    * ``westerly_scale`` (1): scales the pressure drop from the high to the subpolar low
      (hence the westerly jet).
    * ``trade_easterly_ms`` (3): added equatorial easterly jet, m/s; ``hadley_inflow_ms`` (2):
      trade-wind inflow towards the equator, m/s.
    * ``rossby_amp_scale`` (1): scales mid-latitude travelling-wave amplitudes (350-800 Pa);
      ``rossby_speed_ms`` (9): their mean eastward phase speed (each wave within +-3 m/s).
    * ``easterly_wave_amp_scale`` (1): scales tropical easterly waves (80-150 Pa);
      ``easterly_wave_speed_ms`` (6.5): their mean westward speed (each within +-1.5 m/s).
    * ``stationary_wave_pa`` (250): stationary wave-2 amplitude at the subtropical highs.
    * ``background``: ``"zonal"`` (the above), ``"spectral"`` (another generator: analytic
      zonal mean from the same high/trough knobs plus a 2-D red-noise eddy field whose
      amplitude follows ``rossby_amp_scale``) or ``"eddies"`` (a third: Gaussian-bump zonal
      mean plus drifting highs and lows whose amplitudes and speeds follow the wave knobs).

    Storms:

    * ``genesis_scale`` (1): multiplies every basin's genesis rate.
    * ``lifetime_days`` (4, 11): storm lifetime range.
    * ``rmax_peak_km`` (30, 50) / ``rmax_genesis_km`` (60, 80): radius of maximum wind at
      peak / at genesis; ``outer_radius_km`` (600, 900): outer size; ``broad_radius_km``
      (250, 400): e-folding radius of the broad outer low.
    * ``dp_peak_hpa`` (15, 75): peak central pressure deficit; ``dp_genesis_hpa`` (5, 8).
    * ``translation_scale`` (1): multiplies steering speeds (westward 3-6, poleward 1-2.5,
      recurvature 2-4, eastward 6-12 m/s).
    * ``recurve_lat_shift`` (0): added to every basin's recurvature latitude, deg.
    * ``track_noise_ms`` (1): standard deviation of the AR(1) track wobble, m/s.

    Noise: ``noise_psl_pa`` (0) and ``noise_wind_ms`` (0), white Gaussian noise added
    per grid point and step (seeded per step, so prefix-stable).
    """

    subtropical_high_hpa: float = 1020.5
    subtropical_high_lat: float = 30.0
    trough_hpa: float = 1008.5
    westerly_scale: float = 1.0
    trade_easterly_ms: float = 3.0
    hadley_inflow_ms: float = 2.0
    rossby_amp_scale: float = 1.0
    rossby_speed_ms: float = 9.0
    easterly_wave_amp_scale: float = 1.0
    easterly_wave_speed_ms: float = 6.5
    stationary_wave_pa: float = 250.0
    background: str = "zonal"
    genesis_scale: float = 1.0
    lifetime_days: tuple[float, float] = (4.0, 11.0)
    rmax_peak_km: tuple[float, float] = (30.0, 50.0)
    rmax_genesis_km: tuple[float, float] = (60.0, 80.0)
    outer_radius_km: tuple[float, float] = (600.0, 900.0)
    broad_radius_km: tuple[float, float] = (250.0, 400.0)
    dp_peak_hpa: tuple[float, float] = (15.0, 75.0)
    dp_genesis_hpa: tuple[float, float] = (5.0, 8.0)
    translation_scale: float = 1.0
    recurve_lat_shift: float = 0.0
    track_noise_ms: float = 1.0
    noise_psl_pa: float = 0.0
    noise_wind_ms: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "background":
                if value not in BACKGROUNDS:
                    raise ConfigError(
                        f"Climate.background must be one of {BACKGROUNDS}, got {value!r}"
                    )
                continue
            if isinstance(value, list):  # from YAML / JSON
                value = tuple(value)
                object.__setattr__(self, f.name, value)
            if isinstance(value, tuple):
                ok = len(value) == 2 and all(isinstance(v, int | float) for v in value)
                if not ok or not 0 < value[0] <= value[1]:
                    raise ConfigError(
                        f"Climate.{f.name} must be a range (low, high) with 0 < low <= high, got {value!r}"
                    )
                object.__setattr__(self, f.name, (float(value[0]), float(value[1])))
            elif not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"Climate.{f.name} must be a finite number, got {value!r}")
        positive = ("westerly_scale", "rossby_speed_ms", "easterly_wave_speed_ms", "genesis_scale",
                    "translation_scale")  # fmt: skip
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"Climate.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("rossby_amp_scale", "easterly_wave_amp_scale", "stationary_wave_pa",
                     "track_noise_ms", "noise_psl_pa", "noise_wind_ms"):  # fmt: skip
            if getattr(self, name) < 0:
                raise ConfigError(f"Climate.{name} must be >= 0, got {getattr(self, name)!r}")
        if not 10.0 <= self.subtropical_high_lat <= 45.0:
            raise ConfigError(
                f"Climate.subtropical_high_lat must be within 10..45 deg, got {self.subtropical_high_lat!r}"
            )
        if not self.trough_hpa < self.subtropical_high_hpa:
            raise ConfigError(
                f"Climate.trough_hpa ({self.trough_hpa}) must be below subtropical_high_hpa "
                f"({self.subtropical_high_hpa})"
            )

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Climate:
        """A climate from a mapping of field names (unknown keys are refused, naming them).

        Parameters
        ----------
        values: field name -> value (ranges as 2-lists); None or {} gives the defaults.

        Returns
        -------
        Climate
        """
        values = dict(values or {})
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown Climate key(s) {unknown}; known: {sorted(names)}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Field name -> value (ranges as lists), JSON/YAML friendly."""
        return {
            k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()
        }

    def replace(self, **changes: Any) -> Climate:
        """A copy with ``changes`` applied (validated)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def sample(cls, rng: np.random.Generator, spread: float = 1.0, **fixed: Any) -> Climate:
        """Draw a climate uniformly within :data:`TRAINING_RANGES`.

        Parameters
        ----------
        rng: the random generator (seed it for reproducible climates).
        spread: fraction of each training range to use, centred on its middle (0 gives the
            middle of every range; 1 the full range). Must be within 0..1.
        **fixed: knobs to set instead of drawing (e.g. ``background="zonal"``).

        Returns
        -------
        Climate. ``*_scale`` knobs for sizes and intensity scale the default ranges
        (``size_scale`` -> ``rmax_*_km``, ``outer_radius_km``, ``broad_radius_km``;
        ``intensity_scale`` -> ``dp_peak_hpa``).
        """
        if not 0.0 <= spread <= 1.0:
            raise ConfigError(f"spread must be within 0..1, got {spread!r}")
        drawn: dict[str, float] = {}
        for name, (lo, hi) in TRAINING_RANGES.items():  # fixed order: reproducible draws
            mid, half = 0.5 * (lo + hi), 0.5 * (hi - lo) * spread
            drawn[name] = float(mid + half * (2.0 * rng.uniform() - 1.0))
        values = cls.from_scalars(drawn).to_dict()
        values.update(fixed)
        return cls.from_dict(values)

    @classmethod
    def from_scalars(cls, knobs: Mapping[str, float]) -> Climate:
        """A climate from scalar knobs, including ``size_scale`` and ``intensity_scale``.

        Parameters
        ----------
        knobs: Climate field names and/or ``size_scale`` / ``intensity_scale``.

        Returns
        -------
        Climate
        """
        knobs = dict(knobs)
        base = cls()
        size = float(knobs.pop("size_scale", 1.0))
        intensity = float(knobs.pop("intensity_scale", 1.0))
        scaled = {
            name: tuple(size * v for v in getattr(base, name))
            for name in ("rmax_peak_km", "rmax_genesis_km", "outer_radius_km", "broad_radius_km")
        }
        scaled["dp_peak_hpa"] = tuple(intensity * v for v in base.dp_peak_hpa)
        return cls.from_dict({**scaled, **knobs})

    # ------------------------------------------------------------------ description

    def scalars(self) -> dict[str, float]:
        """The knobs of :data:`TRAINING_RANGES` (``size_scale``/``intensity_scale`` recovered
        from the range midpoints relative to the defaults)."""
        base = Climate()
        out = {name: float(getattr(self, name)) for name in TRAINING_RANGES if hasattr(self, name)}
        out["size_scale"] = sum(self.outer_radius_km) / sum(base.outer_radius_km)
        out["intensity_scale"] = sum(self.dp_peak_hpa) / sum(base.dp_peak_hpa)
        return {name: out[name] for name in TRAINING_RANGES}

    def outside_training_range(self) -> dict[str, dict[str, float | str]]:
        """Knobs outside :data:`TRAINING_RANGES`: ``{knob: {value, low, high, by}}`` where ``by``
        is the distance beyond the nearest bound (same units as the knob). A background not in
        :data:`TRAINING_BACKGROUNDS` (``spectral``) is reported as ``{"background": ...}`` with
        ``by`` = 1 (never trained on)."""
        out: dict[str, dict[str, float | str]] = {}
        for name, value in self.scalars().items():
            lo, hi = TRAINING_RANGES[name]
            if value < lo - 1e-9 or value > hi + 1e-9:
                by = lo - value if value < lo else value - hi
                out[name] = {"value": round(value, 4), "low": lo, "high": hi, "by": round(by, 4)}
        if self.background not in TRAINING_BACKGROUNDS:
            trained = "/".join(TRAINING_BACKGROUNDS)
            out["background"] = {"value": self.background, "low": trained, "high": trained, "by": 1}
        return out
