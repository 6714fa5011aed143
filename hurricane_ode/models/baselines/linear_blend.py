"""Linear blending: the in-between frame as a cross-fade of its two observed neighbours.

Not in the Vid-ODE paper; the zero-skill reference for video *interpolation*, as
persistence (copy the last frame) is for extrapolation. A query at time ``s`` with
observed inputs ``t_a <= s <= t_b`` on either side gets

    ``X_hat(s) = (1 - w) X_a + w X_b``,  ``w = (s - t_a) / (t_b - t_a)``

(exactly ``X_a`` when ``s = t_a``). Queries before the first / after the last
observed input take that frame (no extrapolation), so on an extrapolation task
this baseline is persistence. Missing inputs (``input_mask`` False) are skipped.

No parameters: ``trainable = False`` (evaluation only). Times are only compared,
so ``time_scale`` is irrelevant.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hurricane_ode.config import ModelConfig
from hurricane_ode.models.base import ModelInputs, ModelOutput, ParameterFreeModel, register_model
from hurricane_ode.models.baselines.persistence import latest_observed_indices

__all__ = ["LinearBlend", "next_observed_indices"]


def next_observed_indices(input_times: Tensor, mask: Tensor, query_times: Tensor) -> Tensor:
    """Per query, the index of the first observed input at or after it (else the last observed).

    Parameters
    ----------
    input_times : Tensor
        ``[B, T]`` clip times.
    mask : Tensor
        ``[B, T]`` bool, True where observed.
    query_times : Tensor
        ``[B, K]`` clip times.

    Returns
    -------
    Tensor
        ``[B, K]`` long indices into the input axis.
    """
    b, t = input_times.shape
    after = mask[:, None, :] & (input_times[:, None, :] >= query_times[:, :, None] - 1e-6)  # [B, K, T]
    pos = torch.arange(t, device=input_times.device).expand_as(after)
    first = torch.where(after, pos, torch.full_like(pos, t)).min(dim=-1).values
    last = torch.where(mask, pos[:, 0], torch.full_like(pos[:, 0], -1)).max(dim=-1).values  # [B]
    return torch.where(first < t, first, last[:, None].expand_as(first))


@register_model("linear_blend")
class LinearBlend(ParameterFreeModel):
    """Cross-fade the observed frames on either side of each query time (no parameters).

    Parameters
    ----------
    in_channels
        Channels per frame (3 for RGB video); batches are checked against it.
    """

    model_name = "linear_blend"

    def predict(self, x: ModelInputs) -> ModelOutput:
        """inputs ``[B, T, C, H, W]``, times ``[B, T]`` / ``[B, K]`` -> frames ``[B, K, C, H, W]``."""
        inputs, input_times, query_times, mask = x.inputs, x.input_times, x.query_times, x.mask
        lo = latest_observed_indices(input_times, mask, query_times)
        hi = next_observed_indices(input_times, mask, query_times)
        rows = torch.arange(inputs.shape[0], device=inputs.device)[:, None]
        t_lo, t_hi = input_times[rows, lo], input_times[rows, hi]
        span = t_hi - t_lo
        w = torch.where(span > 0, (query_times - t_lo) / span.clamp_min(1e-12), torch.zeros_like(span))
        w = w.clamp(0.0, 1.0).to(inputs.dtype)[:, :, None, None, None]
        return ModelOutput(frames=(1 - w) * inputs[rows, lo] + w * inputs[rows, hi])


def build_linear_blend(config: ModelConfig) -> LinearBlend:
    """Factory for :class:`LinearBlend`."""
    return LinearBlend(in_channels=config.in_channels)
