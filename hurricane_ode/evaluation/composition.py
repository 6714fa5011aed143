"""How Vid-ODE builds its forecasts: the composition mask of Eq. 2 by lead time.

Eq. 2 blends, at every output, the warped frame (mask ``M = 1``; with the flow prior, the
reference frame advected) and the decoder's own path (``M = 0``: ``X_{s_i-1} + D`` with
``composition: residual``, ``D`` in the paper). A mask that falls towards 0 at long leads means
the forecast there is built from the decoder's increments rather than by moving the last observed
field, which is where a trained model smooths vortices (``scripts/mask_by_lead.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import xarray as xr

from hurricane_ode.errors import InputError
from hurricane_ode.models.inference import Forecaster

__all__ = ["mask_by_lead"]


def mask_by_lead(
    forecaster: Forecaster,
    inputs: Any,
    basin: str,
    init_times: str | Sequence,
    lead_times: str | Sequence,
    input_offsets: str | Sequence | None = None,
    *,
    tracks: Any = None,
    radius_km: float = 300.0,
    batch_size: int = 8,
) -> xr.Dataset:
    """Hindcast with ``forecaster`` and summarise its composition mask by lead.

    Parameters
    ----------
    forecaster
        A loaded checkpoint (:func:`~hurricane_ode.models.inference.load_forecaster`) whose
        model outputs a mask (Vid-ODE with ``use_mask``).
    inputs, basin, init_times, lead_times, input_offsets, batch_size
        As :func:`hurricane_ode.forecasting.hindcast`.
    tracks, radius_km
        Best tracks (anything :func:`~hurricane_ode.verification.besttrack.read_tracks` reads):
        adds ``mask_near_storms``, the mean of M within ``radius_km`` of a fix at the valid time
        (NaN at leads with no fix in the basin).

    Returns
    -------
    Dataset on ``lead_time`` (hours): ``mask_mean`` (mean of M over initial times and pixels, in
    [0, 1]; 1 = every pixel is the warped frame) and ``decoder_share`` (share of pixels with
    M < 0.5). Raises :class:`~hurricane_ode.errors.InputError` for a model without a mask.
    """
    from hurricane_ode.forecasting.hindcasting import hindcast

    masks: list[torch.Tensor | None] = []
    hook = forecaster.model.register_forward_hook(lambda mod, args, out: masks.append(out.mask))
    try:
        hc = hindcast(forecaster, inputs, basin, init_times, lead_times, input_offsets, batch_size=batch_size)
    finally:
        hook.remove()
    if not masks or any(m is None for m in masks):
        raise InputError(
            f"mask_by_lead: checkpoint {forecaster.source} ({forecaster.config.model.name}) outputs no "
            "composition mask; only Vid-ODE with model.use_mask has one"
        )
    m = torch.cat([x.detach().float().cpu() for x in masks if x is not None])  # [N, K, 1, H, W]
    leads_h = np.asarray(hc["forecast_period"].values, dtype=float)
    if m.shape[1] != leads_h.size:
        raise RuntimeError(f"mask_by_lead: {m.shape[1]} masks per forecast for {leads_h.size} leads")
    out = {
        "mask_mean": ("lead_time", m.mean(dim=(0, 2, 3, 4)).numpy()),
        "decoder_share": ("lead_time", (m < 0.5).float().mean(dim=(0, 2, 3, 4)).numpy()),
    }
    if tracks is not None:
        out["mask_near_storms"] = ("lead_time", _near_storms(m[:, :, 0].numpy(), hc, tracks, radius_km))
    return xr.Dataset(
        out,
        coords={"lead_time": ("lead_time", leads_h, {"units": "hours"})},
        attrs={"checkpoint": forecaster.source, "basin": str(basin), "n_forecasts": int(m.shape[0])},
    )


def _near_storms(m: np.ndarray, hc: xr.Dataset, tracks: Any, radius_km: float) -> np.ndarray:
    """Mean of ``m`` ``[N, K, H, W]`` within ``radius_km`` of a best-track fix at each valid time, by lead."""
    from hurricane_ode.timeutil import time_key
    from hurricane_ode.verification.scores import near_storm_mask

    keys = np.vectorize(time_key, otypes=[object])(hc["valid_time"].values)  # [N, K]
    near = near_storm_mask(tracks, keys, hc["lat"].values, hc["lon"].values, radius_km)
    count = near.sum(axis=(0, 2, 3))
    total = np.where(near, m, 0.0).sum(axis=(0, 2, 3))
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)
