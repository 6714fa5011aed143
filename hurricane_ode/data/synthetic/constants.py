"""Physical constants shared by the synthetic world's generators (SI units)."""

from __future__ import annotations

__all__ = ["EARTH_RADIUS_M", "OMEGA", "RHO_AIR"]

EARTH_RADIUS_M = 6.371e6
OMEGA = 7.292e-5  # s-1
RHO_AIR = 1.15  # kg m-3, boundary-layer air density used for geostrophic / gradient balance
