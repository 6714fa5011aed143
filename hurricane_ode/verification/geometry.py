"""Great-circle geometry on a sphere and index helpers for regular lat/lon grids."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["EARTH_RADIUS_KM", "great_circle_km", "destination", "Grid", "relative_vorticity"]

EARTH_RADIUS_KM = 6371.0


def great_circle_km(lat1: Any, lon1: Any, lat2: Any, lon2: Any) -> Any:
    """Haversine distance in km on a sphere of radius 6371.0 km (arrays broadcast; degrees in).

    Periodic in longitude, so any longitude convention (0..360, -180..180, continuous) works.
    """
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dphi = p2 - p1
    dlmb = np.radians(np.asarray(lon2, dtype=float) - np.asarray(lon1, dtype=float))
    a = np.sin(dphi / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2) ** 2
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def destination(lat: float, lon: float, bearing: np.ndarray, dist_km: np.ndarray) -> tuple:
    """Points at great-circle distance ``dist_km`` along ``bearing`` (radians) from (lat, lon)."""
    d = dist_km / EARTH_RADIUS_KM
    p1, l1 = math.radians(lat), math.radians(lon)
    p2 = np.arcsin(np.sin(p1) * np.cos(d) + np.cos(p1) * np.sin(d) * np.cos(bearing))
    l2 = l1 + np.arctan2(np.sin(bearing) * np.sin(d) * np.cos(p1), np.cos(d) - np.sin(p1) * np.sin(p2))
    return np.degrees(p2), np.degrees(l2)


class Grid:
    """Index-space helpers for one regular lat/lon grid (lat ascending)."""

    def __init__(self, lat: np.ndarray, lon: np.ndarray) -> None:
        self.lat, self.lon = np.asarray(lat, float), np.asarray(lon, float)
        self.dlat = float(self.lat[1] - self.lat[0])
        self.dlon = float(self.lon[1] - self.lon[0])
        self.periodic = abs(len(self.lon) * self.dlon - 360.0) < 1e-6 * 360.0
        self.km_per_cell_lat = math.radians(self.dlat) * EARTH_RADIUS_KM

    def index(self, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (row, col) of points; longitudes brought next to the grid by modulo."""
        lon = np.asarray(lon, dtype=float)
        lon = self.lon[0] + np.mod(lon - self.lon[0], 360.0)
        return (np.asarray(lat) - self.lat[0]) / self.dlat, (lon - self.lon[0]) / self.dlon

    def inside(self, row: np.ndarray, col: np.ndarray) -> np.ndarray:
        """True where fractional (row, col) lies on the grid (any column if periodic)."""
        ok = (row >= 0) & (row <= len(self.lat) - 1)
        if not self.periodic:
            ok &= (col >= 0) & (col <= len(self.lon) - 1)
        return ok

    def window(self, i: int, j: int, radius_km: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(rows, cols, distance km [rows, cols]) of grid points around cell (i, j)."""
        nr = int(math.ceil(radius_km / self.km_per_cell_lat)) + 1
        lat_c = float(self.lat[i])
        coslat = max(math.cos(math.radians(min(abs(lat_c) + nr * self.dlat, 89.0))), 0.05)
        nc = int(math.ceil(radius_km / (self.km_per_cell_lat * self.dlon / self.dlat * coslat))) + 1
        ii = np.arange(max(i - nr, 0), min(i + nr + 1, len(self.lat)))
        jj = np.arange(j - nc, j + nc + 1)
        jj = np.mod(jj, len(self.lon)) if self.periodic else jj[(jj >= 0) & (jj < len(self.lon))]
        dist = great_circle_km(self.lat[ii][:, None], self.lon[jj][None, :], lat_c, float(self.lon[j]))
        return ii, jj, dist


def relative_vorticity(u: np.ndarray, v: np.ndarray, grid: Grid) -> np.ndarray:
    """Relative vorticity (s-1) of winds (m s-1) on ``grid``: dv/dx - du/dy + u tan(lat)/a.

    Centred differences in spherical coordinates (one-sided at the edges, periodic in
    longitude on a global grid).
    """
    a = EARTH_RADIUS_KM * 1e3
    phi = np.radians(grid.lat)[:, None]
    dlmb, dphi = math.radians(grid.dlon), math.radians(grid.dlat)
    if grid.periodic:
        dv = (np.roll(v, -1, axis=1) - np.roll(v, 1, axis=1)) / (2 * dlmb)
    else:
        dv = np.gradient(v, dlmb, axis=1)
    du = np.gradient(u * np.cos(phi), dphi, axis=0)
    cos = np.maximum(np.cos(phi), 1e-6)
    return (dv - du) / (a * cos)
