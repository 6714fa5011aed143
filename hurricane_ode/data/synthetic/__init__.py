"""A synthetic CAM5-like world with moving tropical cyclones, and its true tracks.

:func:`make_synthetic_world` writes 3-hourly CAM5-style history files
(``<case>.cam.h2.YYYY-MM-DD-SSSSS.nc``; ``U850``, ``V850`` in m/s and ``PSL``
in Pa, float32, dims ``(time, lat, lon)``, ``noleap`` calendar) plus
``tracks.csv`` with the analytic storm tracks. Nothing downstream should
special-case these files: they follow the layout of real CAM h-files.

The atmosphere is built from (see :mod:`.background`, :mod:`.storms`)

* a background: a zonal-mean sea-level pressure with an equatorial trough (~1008 hPa),
  subtropical highs (~1020 hPa near 30 deg) and subpolar lows, a weak stationary wave-2,
  travelling mid-latitude Rossby-like waves (eastward) and tropical easterly waves
  (westward); or (``Climate(background="spectral")``) another generator: an analytic zonal
  mean plus a 2-D red-noise eddy field; or (``"eddies"``) a third: a Gaussian-bump zonal mean
  plus coherent highs and lows that are born, drift and decay;
* 850 hPa winds in geostrophic balance with that pressure (Coriolis parameter bounded away
  from zero in the deep tropics), plus an equatorial easterly jet and a weak Hadley inflow;
* tropical cyclones as Holland (1980) vortices with a broad outer low,
  ``p(r) = p_env - dp * [(1-a) (1 - exp(-(Rmax/r)**B)) + a exp(-(r/R2)**2)] * exp(-(r/R_out)**4)``
  (``a`` 0.25-0.4 at peak, rising to 0.6 while the storm is weak: depressions are broad lows)
  with gradient-wind-balanced tangential winds (cyclonic in each hemisphere) and a 15 degree
  inflow angle, born in six basins (natl, epac, wpac, nio, sio, spac), drifting westward and
  poleward, recurving into the westerlies, intensifying then decaying over 4-11 days; or
  placed on given tracks (``storm_tracks=``).

:class:`Climate` holds every knob (defaults: the original world); :meth:`Climate.sample`
draws one within :data:`TRAINING_RANGES`. Worlds are seeded and prefix-stable: each purpose
(waves, each basin's genesis, each storm, each step's noise) has its own
:class:`numpy.random.SeedSequence` stream, so a longer run only adds.
"""

from __future__ import annotations

from hurricane_ode.data.synthetic.climate import (
    BACKGROUNDS,
    TRAINING_BACKGROUNDS,
    TRAINING_RANGES,
    Climate,
)
from hurricane_ode.data.synthetic.storms import BASINS, STEP_HOURS
from hurricane_ode.data.synthetic.tracks import IBTRACS_COLUMNS, TRACK_COLUMNS, read_given_tracks
from hurricane_ode.data.synthetic.world import TRACKS_FORMATS, SyntheticWorld, make_synthetic_world

__all__ = [
    "SyntheticWorld", "make_synthetic_world", "BASINS", "TRACK_COLUMNS", "Climate", "TRAINING_RANGES",
    "BACKGROUNDS", "TRAINING_BACKGROUNDS", "IBTRACS_COLUMNS", "TRACKS_FORMATS", "STEP_HOURS", "read_given_tracks",
]  # fmt: skip
