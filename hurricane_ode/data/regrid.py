"""First-order conservative, NaN-aware regridding of (…, lat, lon) blocks onto coarser cells.

Each target cell is the area-weighted mean of the *valid* source cells it overlaps (weights:
overlap in ``sin(lat)`` times overlap in longitude; separable, so two small dense matrices).
A target cell is missing (NaN) only when the valid share of its area is below
``min_valid_fraction`` (default :data:`MIN_VALID_FRACTION` = 0.5); a 5x5 patch of missing values
inside a storm therefore stays a patch, never a whole missing frame. Fill values (CAM's 1e36)
are NaN before this runs (:func:`hurricane_ode.data._standardise.clean_values`).

Area means (and hence the area-integrated pressure deficit of a cyclone) are preserved. The *depth* of a point minimum is not: a
coarse cell averages the vortex core with its surroundings. For a Gaussian pressure dip of
e-folding radius ``sigma`` and square cells ``a`` degrees wide, the retained fraction of the
central deficit is ``F(a/2)**2`` when the centre sits mid-cell and ``F(a)**2`` in the worst case
(centre on a cell corner), with ``F(x) = sqrt(pi/2) (sigma/x) erf(x / (sqrt(2) sigma))``:
for sigma = 2 deg and a = 2.5 deg that is 88 % and 63 %. The minimum never deepens and stays
in a cell touching the true centre. tests/data/test_basins.py checks these numbers on a
synthetic vortex. Choose ``shape`` so that cells stay well below the vortex radius if the
central pressure matters (CAM5 at 0.25 deg -> 128 x 128 tiles gives 0.47 x 1.25 deg cells).
We keep PSL conservative (no min-preserving special case) so that wind and
pressure remain consistent averages of the same area, which is what the model learns from.

One implementation serves the lazy :func:`~hurricane_ode.data.basins.tile_basin` and the
streaming tiler (:mod:`hurricane_ode.data.tiling`), so both give bit-identical tiles.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "MIN_VALID_FRACTION",
    "cell_edges",
    "conservative_weights",
    "basin_weights",
    "regrid_block",
]

MIN_VALID_FRACTION = 0.5
"""A coarse cell needs at least this share of its area valid, else it is NaN."""


def cell_edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges from monotonically increasing centres (midpoints; ends extrapolated).

    Parameters
    ----------
    centres
        1-D increasing cell centres.

    Returns
    -------
    numpy.ndarray
        ``len(centres) + 1`` edges.
    """
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    mid = 0.5 * (c[1:] + c[:-1])
    return np.concatenate([[c[0] - (mid[0] - c[0])], mid, [c[-1] + (c[-1] - mid[-1])]])


def conservative_weights(src_edges: np.ndarray, dst_edges: np.ndarray) -> np.ndarray:
    """Row-normalised overlap matrix ``[n_dst, n_src]`` between two 1-D sets of cell edges.

    ``W[i, j]`` is the fraction of target cell ``i`` covered by source cell ``j`` (rows sum to 1
    where the target is covered). Pass ``sin(lat)`` edges for latitude to weight by area.

    Parameters
    ----------
    src_edges, dst_edges
        Increasing edges of the source and target cells.

    Returns
    -------
    numpy.ndarray
        float64 ``[n_dst, n_src]``.
    """
    s_lo, s_hi = src_edges[:-1], src_edges[1:]
    d_lo, d_hi = dst_edges[:-1, None], dst_edges[1:, None]
    overlap = np.clip(np.minimum(d_hi, s_hi) - np.maximum(d_lo, s_lo), 0.0, None)
    total = overlap.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("conservative_weights: some target cells overlap no source cell")
    return overlap / total


def basin_weights(
    src_lat: np.ndarray,
    src_lon: np.ndarray,
    bounds: tuple[float, float, float, float],
    shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weights from a source sub-grid onto ``shape`` equal cells spanning ``bounds``.

    Parameters
    ----------
    src_lat, src_lon
        Increasing source centres (lon on the box's continuous axis).
    bounds
        ``(lat_min, lat_max, lon_min, lon_max)``.
    shape
        ``(H, W)``.

    Returns
    -------
    (w_lat [H, h], w_lon [W, w], lat [H], lon [W])
    """
    h, w = shape
    lat_min, lat_max, lon_min, lon_max = bounds
    src_lat_edges = np.clip(cell_edges(src_lat), -90.0, 90.0)
    dst_lat_edges = np.linspace(lat_min, lat_max, h + 1)
    dst_lon_edges = np.linspace(lon_min, lon_max, w + 1)
    w_lat = conservative_weights(
        np.sin(np.deg2rad(src_lat_edges)), np.sin(np.deg2rad(dst_lat_edges))
    )
    w_lon = conservative_weights(cell_edges(src_lon), dst_lon_edges)
    lat = 0.5 * (dst_lat_edges[1:] + dst_lat_edges[:-1])
    lon = 0.5 * (dst_lon_edges[1:] + dst_lon_edges[:-1])
    return w_lat, w_lon, lat, lon


def regrid_block(
    x: np.ndarray,
    w_lat: np.ndarray,
    w_lon: np.ndarray,
    min_valid_fraction: float = MIN_VALID_FRACTION,
) -> np.ndarray:
    """Regrid ``x[..., h, w]`` to ``[..., H, W]``, NaN-aware (see module docstring).

    Parameters
    ----------
    x
        Source values; NaN marks missing cells.
    w_lat, w_lon
        ``[H, h]`` and ``[W, w]`` row-normalised weights (:func:`basin_weights`).
    min_valid_fraction
        In (0, 1]: the valid area share a target cell needs.

    Returns
    -------
    numpy.ndarray
        ``x.dtype`` for floating input, else float64.
    """
    if not 0.0 < min_valid_fraction <= 1.0:
        raise ValueError(f"regrid: min_valid_fraction must be in (0, 1], got {min_valid_fraction}")
    x = np.asarray(x)
    lead = x.shape[:-2]
    flat = x.reshape((-1, *x.shape[-2:]))
    out = np.empty((flat.shape[0], w_lat.shape[0], w_lon.shape[0]), dtype=np.float64)
    for k in range(flat.shape[0]):
        a = flat[k].astype(np.float64)
        valid = np.isfinite(a)
        if valid.all():
            out[k] = w_lat @ (a @ w_lon.T)
            continue
        num = w_lat @ (np.where(valid, a, 0.0) @ w_lon.T)
        share = w_lat @ (valid.astype(np.float64) @ w_lon.T)
        ok = share >= min_valid_fraction - 1e-9
        out[k] = np.where(ok, num / np.where(ok, share, 1.0), np.nan)
    out = out.reshape((*lead, *out.shape[1:]))
    return out.astype(x.dtype) if np.issubdtype(x.dtype, np.floating) else out
