"""Persistence: the last observed frame, repeated. The zero-skill reference forecast.

Not in the Vid-ODE paper; the standard reference for any nowcast/forecast (a model
that cannot beat persistence has learned nothing about the dynamics).

For each query time the prediction is the last *observed* input frame at or before
that time (the first observed frame for queries before every observation). For
extrapolation this is the last observed input frame for every query.

The model has no parameters: ``trainable = False`` tells the trainer to skip the
optimiser (evaluation only). Times are only compared, so ``time_scale`` is irrelevant.
"""

from __future__ import annotations

import torch
from torch import Tensor

from hurricane_ode.config import ModelConfig
from hurricane_ode.models.base import ModelInputs, ModelOutput, ParameterFreeModel, register_model

__all__ = ["Persistence", "latest_observed_indices"]


def latest_observed_indices(input_times: Tensor, mask: Tensor, query_times: Tensor) -> Tensor:
    """Per query, the index of the last observed input at or before it (else the first observed).

    input_times ``[B, T]``, mask ``[B, T]`` bool, query_times ``[B, K]`` -> ``[B, K]`` long.
    """
    b, t = input_times.shape
    before = mask[:, None, :] & (input_times[:, None, :] <= query_times[:, :, None] + 1e-6)  # [B, K, T]
    pos = torch.arange(t, device=input_times.device).expand_as(before)
    last = torch.where(before, pos, torch.full_like(pos, -1)).max(dim=-1).values
    first = torch.where(mask, pos[:, 0], torch.full_like(pos[:, 0], t)).min(dim=-1).values  # [B]
    return torch.where(last >= 0, last, first[:, None].expand_as(last))


@register_model("persistence")
class Persistence(ParameterFreeModel):
    """Repeat the latest observed input frame at every query time (no parameters).

    Parameters
    ----------
    in_channels
        Channels per frame (3 for U850/V850/PSL); batches are checked against it.
    """

    model_name = "persistence"

    def predict(self, x: ModelInputs) -> ModelOutput:
        """inputs ``[B, T, C, H, W]``, times ``[B, T]`` / ``[B, K]`` -> frames ``[B, K, C, H, W]``."""
        idx = latest_observed_indices(x.input_times, x.mask, x.query_times)
        rows = torch.arange(x.inputs.shape[0], device=x.inputs.device)[:, None]
        return ModelOutput(frames=x.inputs[rows, idx])


def build_persistence(config: ModelConfig) -> Persistence:
    """Factory for :class:`Persistence`."""
    return Persistence(in_channels=config.in_channels)
