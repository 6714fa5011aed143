"""ConvGRU-Δt: the RNN-Δt baseline of Che et al. (2018) with a ConvGRU cell.

Paper reference: Vid-ODE (Park et al., AAAI 2021), section 4.3 "Irregular Video
Prediction" and Table 5, where ConvGRU-Δt is built "by replacing the RNN cell of
RNN-Δt (Che et al. 2018) with ConvGRU (Ballas et al. 2015)".

What the model does
-------------------
* Encoder: each input frame is embedded by a Conv-Encoder ``E`` to the latent grid;
  the time since the previous *observed* frame, ``Δt`` (model units; the first
  observed frame's gap is measured from the clip origin ``t0 = 0``), is appended
  as one constant plane. A ConvGRU consumes ``[E(X_ti), Δt]`` in time order from
  ``h = 0``. Unobserved frames (``input_mask`` False) leave ``h`` unchanged.
* Decoder (adapted: Che et al. only classify/regress, they have no frame decoder):
  an autoregressive ConvGRU rollout from the encoder state. At each query time
  ``s_k`` it consumes ``[E(X̂_prev), s_k - s_{k-1}]`` (``s_0`` = last observed input
  time, ``X̂_prev`` = the previous prediction, initially the last observed frame)
  and a Conv-Decoder maps the state to the frame. Gaps may be negative (queries
  before the last input); the network simply sees the signed gap.

Per-sample time grids are handled by tensor ops over the batch; the only Python
loops run over time steps.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

import torch
from torch import Tensor

from hurricane_ode.config import ModelConfig
from hurricane_ode.models.base import (
    ForecastModel,
    ModelInputs,
    ModelOutput,
    model_options,
    register_model,
)
from hurricane_ode.models.baselines._encoders import (
    ConvDecoder,
    frame_encoder,
    gather_frames,
    last_observed_index,
    latent_grid,
)
from hurricane_ode.models.convgru import ConvGRUCell

__all__ = ["ConvGRUDeltaT", "RecurrentFrameModel"]


class RecurrentFrameModel(ForecastModel):
    """Shared skeleton of the ConvGRU-Δt / ConvGRU-Decay baselines.

    Subclasses define how the time gap enters: :meth:`_cell_input` (extra input
    channels, ``extra_channels`` of them) and :meth:`_transition` (what happens to
    ``h`` during a gap).
    """

    extra_channels = 0
    model_name = "recurrent"

    def __init__(self, config: ModelConfig | None = None, **options: Any) -> None:
        config = model_options(config, options, self.model_name)
        super().__init__(config)
        latent_grid(config)  # validates image_size vs n_downsample
        c, hid = config.in_channels, config.hidden_channels
        self.encoder = frame_encoder(c, config)
        self.enc_cell = ConvGRUCell(hid + self.extra_channels, hid)
        self.dec_cell = ConvGRUCell(hid + self.extra_channels, hid)
        self.decoder = ConvDecoder(hid, c, config.base_channels, config.n_downsample)

    @abstractmethod
    def _cell_input(self, emb: Tensor, dt: Tensor) -> Tensor:
        """The ConvGRU input for an embedding ``[B, hid, h, w]`` after a gap ``dt`` ``[B]``."""

    @abstractmethod
    def _transition(self, h: Tensor, dt: Tensor, phase: str) -> Tensor:
        """The hidden state carried across a gap ``dt`` (``phase``: ``encode`` or ``decode``)."""

    def predict(self, x: ModelInputs) -> ModelOutput:
        """inputs ``[B, T, C, H, W]``, times ``[B, T]`` / ``[B, K]`` (clip units) -> frames ``[B, K, C, H, W]``."""
        inputs, mask, ts, qs = x.inputs, x.mask, x.times, x.queries
        b, t = ts.shape
        emb = self.encoder(inputs.flatten(0, 1)).unflatten(0, (b, t))
        h = emb.new_zeros(b, self.config.hidden_channels, *emb.shape[-2:])
        prev_t = ts.new_zeros(b)
        for i in range(t):
            m = mask[:, i]
            dt = torch.where(m, ts[:, i] - prev_t, torch.zeros_like(prev_t))
            h_new = self.enc_cell(self._cell_input(emb[:, i], dt), self._transition(h, dt, "encoder"))
            h = torch.where(m.view(b, 1, 1, 1), h_new, h)
            prev_t = torch.where(m, ts[:, i], prev_t)

        x_prev = gather_frames(inputs, last_observed_index(mask))
        frames = []
        for k in range(qs.shape[1]):
            dt = qs[:, k] - prev_t
            h = self.dec_cell(self._cell_input(self.encoder(x_prev), dt), self._transition(h, dt, "decoder"))
            x_prev = self.decoder(h)
            frames.append(x_prev)
            prev_t = qs[:, k]
        return ModelOutput(frames=torch.stack(frames, dim=1))


@register_model("convgru_delta_t")
class ConvGRUDeltaT(RecurrentFrameModel):
    """ConvGRU-Δt: the gap since the previous observation is an extra input plane."""

    extra_channels = 1
    model_name = "convgru_delta_t"

    def _cell_input(self, emb: Tensor, dt: Tensor) -> Tensor:
        plane = dt.view(-1, 1, 1, 1).expand(-1, 1, *emb.shape[-2:]).to(emb.dtype)
        return torch.cat([emb, plane], dim=1)

    def _transition(self, h: Tensor, dt: Tensor, phase: str) -> Tensor:
        return h


def build_convgru_delta_t(config: ModelConfig) -> ConvGRUDeltaT:
    """Factory for :class:`ConvGRUDeltaT`."""
    return ConvGRUDeltaT(config)
