"""ConvGRU-Decay: GRU-D-style hidden-state decay (Che et al. 2018) with a ConvGRU cell.

Paper reference: Vid-ODE (Park et al., AAAI 2021), section 4.3 "Irregular Video
Prediction" and Table 5 ("ConvGRU-Decay ... implemented by replacing the RNN cell
of RNN-Decay (Che et al. 2018) with ConvGRU").

What the model does
-------------------
Between observations the hidden state decays towards zero,
``h <- h * exp(-relu(w_c * |Δt| + b_c))``, with a learnable weight and bias per
hidden channel ``c`` (GRU-D's ``γ_h``; Δt in model units), then a ConvGRU consumes
the frame embedding ``E(X_ti)``. Adapted from GRU-D: its *input* decay towards the
empirical mean is not used, because an unobserved frame here is missing as a whole
and is skipped (``h`` unchanged), not imputed. Decoding follows the same
principle: for each query ``s_k`` the state decays over ``|s_k - s_{k-1}|``
(separate decay parameters from the encoder), a ConvGRU consumes the embedding of
the previous prediction (initially the last observed frame), and a Conv-Decoder
maps the state to the frame. The skeleton is shared with ConvGRU-Δt
(:class:`~hurricane_ode.models.baselines.convgru_delta_t.RecurrentFrameModel`).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from hurricane_ode.config import ModelConfig
from hurricane_ode.models.base import model_options, register_model
from hurricane_ode.models.baselines.convgru_delta_t import RecurrentFrameModel

__all__ = ["ConvGRUDecay"]


@register_model("convgru_decay")
class ConvGRUDecay(RecurrentFrameModel):
    """ConvGRU-Decay: per-channel exponential decay of ``h`` over each time gap."""

    extra_channels = 0
    model_name = "convgru_decay"

    def __init__(self, config: ModelConfig | None = None, **options: Any) -> None:
        config = model_options(config, options, "convgru_decay")
        super().__init__(config)
        hid = config.hidden_channels
        # gamma = exp(-relu(w * |dt| + b)); start at a decay rate of 1 per model time unit.
        self.decay_weight = nn.ParameterDict(
            {p: nn.Parameter(torch.ones(hid)) for p in ("encoder", "decoder")}
        )
        self.decay_bias = nn.ParameterDict({p: nn.Parameter(torch.zeros(hid)) for p in ("encoder", "decoder")})

    def decay(self, dt: Tensor, phase: str) -> Tensor:
        """Decay factors ``[B, hidden, 1, 1]`` in (0, 1] for gaps ``dt`` ``[B]`` (model units)."""
        rate = self.decay_weight[phase][None, :] * dt.abs()[:, None] + self.decay_bias[phase][None, :]
        return torch.exp(-torch.relu(rate))[..., None, None]

    def _cell_input(self, emb: Tensor, dt: Tensor) -> Tensor:
        return emb

    def _transition(self, h: Tensor, dt: Tensor, phase: str) -> Tensor:
        return h * self.decay(dt, phase).to(h.dtype)


def build_convgru_decay(config: ModelConfig) -> ConvGRUDecay:
    """Factory for :class:`ConvGRUDecay`."""
    return ConvGRUDecay(config)
