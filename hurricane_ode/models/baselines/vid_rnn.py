"""Vid-RNN: Vid-ODE with every ODE component replaced by a ConvGRU.

Paper reference: Vid-ODE (Park et al., AAAI 2021), section 4.4 "Need for Learning
the Continuous Video Dynamics" and Figure 8.

What the model does
-------------------
* Encoder: Conv-Encoder ``E`` + a ConvGRU over the observed frames in time order
  (``h = 0`` at the start). Where Vid-ODE evolves ``h`` with ``f_theta`` between
  observations, Vid-RNN does nothing: it has no notion of elapsed time.
* Decoder: a ConvGRU rolled out on a *regular* grid of steps of length ``step``
  (clip time units) from the last observed time ``t_L``: ``h_0 = h_T``,
  ``h_n = ConvGRU(0, h_{n-1})`` (an autonomous recurrence, the discrete analogue of
  ``f_phi``; its input is a constant zero plane). The state at a query time
  ``s = t_L + (n + w) * step`` (``0 <= w < 1``) is the linear interpolation
  ``(1 - w) h_n + w h_{n+1}`` of the two adjacent regular steps, as the paper
  describes. Queries before ``t_L`` use ``h_T`` (the rollout only runs forward;
  Vid-RNN is an extrapolation baseline).
* Conv-Encoder ``E``, Conv-Decoder ``G(h_{s_i}, h_{s_{i-1}})`` and the warp are
  Vid-ODE's own modules (:mod:`hurricane_ode.models.vid_ode`). ``G`` gives the
  difference ``D`` (C channels), flow ``F`` (2 channels, pixels) and mask ``M``
  (sigmoid), composed exactly as Vid-ODE composes them (Eq. 2,
  ``ModelConfig.composition``, ``use_warp``, ``use_mask``), starting from
  :func:`~hurricane_ode.models.base.reference_frames`: ``paper``:
  ``X_i = M * W(F, X_{i-1}) + (1 - M) * D``; ``residual``: ``... + (1 - M) * (X_{i-1} + D)``;
  no warp: ``W = X_{i-1}``; no mask: ``W + D``. ``D``, ``F`` and ``M`` are returned
  for the difference loss and for plots.

``step`` is in the data's own clip time units: ``ModelConfig.rnn_step`` (1 frame for
video, 3 h for CAM5) or, when it is ``None``, each sample's median gap between its
observed inputs (1 frame for consecutive video frames, 2 for the paper's interpolation
inputs); a sample with a single observed input uses the batch's median gap, else 1.
A fixed 3-unit step would step every third frame on video.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from hurricane_ode.config import ModelConfig
from hurricane_ode.errors import ConfigError
from hurricane_ode.models.base import (
    ForecastModel,
    ModelInputs,
    ModelOutput,
    model_options,
    reference_frames,
    register_model,
)
from hurricane_ode.models.baselines._encoders import frame_encoder, last_observed_index, latent_grid
from hurricane_ode.models.convgru import ConvGRUCell
from hurricane_ode.models.vid_ode import ConvDecoder as VidODEDecoder
from hurricane_ode.models.vid_ode import compose_sequence

__all__ = ["VidRNN"]


@register_model("vid_rnn")
class VidRNN(ForecastModel):
    """Vid-ODE architecture with ConvGRUs in place of the ODEs (see module docstring)."""

    model_name = "vid_rnn"
    sorted_queries = False

    def __init__(self, config: ModelConfig | None = None, step: float | None = None, **options: Any) -> None:
        config = model_options(config, options, "vid_rnn")
        super().__init__(config)
        latent_grid(config)
        step = getattr(config, "rnn_step", None) if step is None else step
        if step is not None and not step > 0:
            raise ConfigError(f"VidRNN: step (ModelConfig.rnn_step) must be > 0 clip time units, got {step}")
        self.step = None if step is None else float(step)
        """Decoder step in clip time units; ``None`` = each sample's median input gap."""
        c, hid = config.in_channels, config.hidden_channels
        self.encoder = frame_encoder(c, config)
        self.enc_cell = ConvGRUCell(hid, hid)
        self.dec_cell = ConvGRUCell(1, hid)
        if config.composition not in ("paper", "residual"):
            raise ConfigError(
                f"ModelConfig.composition must be 'paper' or 'residual', got '{config.composition}'"
            )
        n_out = c + 2 * config.use_warp + config.use_mask
        # Vid-ODE's own decoder G(h, h_prev): same architecture, only the dynamics differ.
        self.generator = VidODEDecoder(hid, config.base_channels, config.n_downsample, n_out)

    def steps(self, input_times: Tensor, mask: Tensor) -> Tensor:
        """Decoder step per sample ``[B]`` in clip time units (see the module docstring).

        Parameters
        ----------
        input_times : Tensor
            ``[B, T]`` clip times of the inputs.
        mask : Tensor
            ``[B, T]`` bool, True where an input is observed.

        Returns
        -------
        Tensor
            ``[B]`` positive steps.
        """
        b = input_times.shape[0]
        if self.step is not None:
            return input_times.new_full((b,), self.step)
        nan = input_times.new_tensor(float("nan"))
        gaps = []
        for i in range(b):  # per sample: observed times only (T is small)
            t = input_times[i][mask[i]]
            d = t[1:] - t[:-1]
            gaps.append(d.median() if d.numel() else nan)
        med = torch.stack(gaps)
        known = med[~torch.isnan(med)]
        fill = known.median() if known.numel() else input_times.new_tensor(1.0)
        return torch.where(torch.isnan(med), fill, med).clamp_min(1e-6)

    def predict(self, x: ModelInputs) -> ModelOutput:
        """inputs ``[B, T, C, H, W]``, times ``[B, T]`` / ``[B, K]`` (clip units) -> frames ``[B, K, C, H, W]``."""
        inputs, input_times, query_times, mask = x.inputs, x.input_times, x.query_times, x.mask
        b, t, c = inputs.shape[:3]
        emb = self.encoder(inputs.flatten(0, 1)).unflatten(0, (b, t))
        h = emb.new_zeros(b, self.config.hidden_channels, *emb.shape[-2:])
        for i in range(t):
            h = torch.where(mask[:, i].view(b, 1, 1, 1), self.enc_cell(emb[:, i], h), h)

        # Regular decoder steps; clip time units are fine here (only ratios to `step` matter).
        t_last = input_times[torch.arange(b, device=inputs.device), last_observed_index(mask)]
        step = self.steps(input_times, mask)  # [B]
        pos = ((query_times - t_last[:, None]) / step[:, None]).clamp(min=0.0).to(inputs.dtype)  # [B, K]
        n_steps = max(1, math.ceil(float(pos.detach().max())) if pos.numel() else 1)
        states = [h]
        zero_in = h.new_zeros(b, 1, *h.shape[-2:])
        for _ in range(n_steps):
            states.append(self.dec_cell(zero_in, states[-1]))
        hs = torch.stack(states, dim=1)  # [B, N+1, hid, h', w']
        lo = pos.floor().long().clamp(max=n_steps - 1)
        w = (pos - lo.to(pos.dtype)).view(*pos.shape, 1, 1, 1)
        rows = torch.arange(b, device=inputs.device)[:, None]
        hq = (1 - w) * hs[rows, lo] + w * hs[rows, lo + 1]  # [B, K, hid, h', w']

        # G per query time (tests hook it per query); the composition is Vid-ODE's own
        h_prevs = torch.cat([h[:, None], hq[:, :-1]], dim=1)
        raw = torch.stack([self.generator(hq[:, k], h_prevs[:, k]) for k in range(hq.shape[1])], 1)
        x0 = reference_frames(inputs, input_times, mask, query_times)
        return compose_sequence(raw, x0, self.config)


def build_vid_rnn(config: ModelConfig) -> VidRNN:
    """Factory for :class:`VidRNN` (``step`` = ``ModelConfig.rnn_step``, default: median input gap)."""
    return VidRNN(config)
