"""Loss terms near storms (ours; the paper has none), read from the clips' storm maps.

* :func:`storm_loss` (``loss.lambda_storm``): L1 averaged with the clips' ``target_weights``
  (storm proximity, 1 at a track point), so the few pixels of a vortex weigh as much as the
  whole frame does in ``recon``.
* :func:`storm_mask_loss` (``loss.lambda_storm_mask``): ``1 - M`` (Eq. 2's mask) near storms,
  a pull towards moving the vortex with the warp rather than rebuilding it from increments.
* :func:`storm_flow_loss` (``loss.lambda_storm_flow``): the warp's flow near each storm against
  the storm's best-track displacement from the reference frame (``target_motion``), so the
  warp learns to carry vortices along their tracks.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hurricane_ode.data.clips import Clip
from hurricane_ode.models.base import ModelOutput

__all__ = ["storm_loss", "storm_mask_loss", "storm_flow_loss"]


def _storm_weights(batch: Clip, key: str) -> Tensor:
    """``[B, K, H, W]``: the clips' storm proximity on valid targets (0 on missing ones)."""
    if batch.target_weights is None:
        raise ValueError(
            f"loss.{key} > 0 needs clips that carry target_weights: a data source that maps "
            "the storms (data.storm_sigma_km > 0 with a tracks CSV for every store)"
        )
    return batch.target_weights.float() * batch.target_mask.to(torch.float32)[:, :, None, None]


def storm_loss(out: ModelOutput, batch: Clip) -> Tensor:
    """``sum(w |X_hat - X|) / (C sum(w))`` with ``w = target_weights`` on valid targets.

    Zero when no clip of the batch has a storm (still connected to the graph). Raises
    ``ValueError`` when the batch carries no ``target_weights``.
    """
    w = _storm_weights(batch, "lambda_storm")
    err = (out.frames.float() - batch.targets.float()).abs()  # [B, K, C, H, W]
    num = (err * w[:, :, None]).sum()
    return num / (w.sum() * err.shape[2]).clamp_min(1.0)


def _composition_mask(out: ModelOutput, key: str) -> Tensor:
    if out.mask is None:
        raise ValueError(f"loss.{key} > 0 needs a model with a composition mask (model.use_mask)")
    return out.mask.float()


def storm_mask_loss(out: ModelOutput, batch: Clip) -> Tensor:
    """``sum(w (1 - M)) / sum(w)``, ``w = target_weights`` on valid targets: :func:`mask_loss`
    near storms only (the vortex moved, not rebuilt from increments); 0 without storms."""
    w = _storm_weights(batch, "lambda_storm_mask")
    m = _composition_mask(out, "lambda_storm_mask").flatten(2, 3)  # [B, K, H, W]
    return ((1.0 - m) * w).sum() / w.sum().clamp_min(1.0)


def storm_flow_loss(out: ModelOutput, batch: Clip) -> Tensor:
    """``sum(w |F - F_storm|_1) / sum(w)`` (pixels): the warp's flow against each storm's
    best-track displacement from the reference frame (``target_motion``), near storms only."""
    if out.flow is None or batch.target_motion is None:
        raise ValueError("loss.lambda_storm_flow > 0 needs a warping model (model.use_warp) and clips that "
                         "carry target_motion (data.storm_sigma_km > 0 with a tracks CSV for every store)")
    mo = batch.target_motion.float()  # [B, K, 3, H, W]
    w = mo[:, :, 2] * batch.target_mask.to(torch.float32)[:, :, None, None]
    err = (out.flow.float() - mo[:, :, :2]).abs().sum(2)
    return (err * w).sum() / w.sum().clamp_min(1.0)
