"""Compatibility names: the tracker moved to :mod:`hurricane_ode.verification`.

``hurricane_ode.evaluation`` and user code import ``find_centres``, ``link_tracks``,
``match_tracks``, ``track_errors`` and ``great_circle_km`` from here.
"""

from hurricane_ode.verification.geometry import EARTH_RADIUS_KM, great_circle_km
from hurricane_ode.verification.matching import match_tracks, track_errors
from hurricane_ode.verification.tracker import CENTRE_COLUMNS, find_centres, link_tracks

__all__ = [
    "EARTH_RADIUS_KM",
    "CENTRE_COLUMNS",
    "great_circle_km",
    "find_centres",
    "link_tracks",
    "match_tracks",
    "track_errors",
]
