"""ODE²VAE (Yildiz, Heinonen & Lähdesmäki 2019): second-order latent ODE VAE.

Paper reference: Vid-ODE (Park et al., AAAI 2021), section 4.2 (Table 1) and
"Irregular Video Prediction" (Table 5), where ODE²VAE is a baseline.

What the model does
-------------------
* Latent state: a position ``s`` and a velocity ``v`` (vectors of size
  ``ModelConfig.hidden_channels`` each), with ``ds/dt = v``, ``dv/dt = f(s, v)``
  (MLP, ``ModelConfig.odefunc_layers`` layers, tanh).
* Encoders: ``q(s0)`` from the first observed frame (Conv-Encoder, flatten,
  linear); ``q(v0)`` from the first two observed frames stacked along channels
  together with their time gap as a constant plane (adapted to irregular
  sampling: the original stacks a fixed number of regularly spaced frames). With a
  single observed frame it is used twice with gap 0. The ODE starts at the first
  observed time and is solved to every query time in one batched solve over the
  union of the batch's (relative) query times.
* Decoder: linear + Conv-Decoder from ``s`` only (as in the original).
* Sampling: reparametrised ``s0, v0`` in training mode, the means in eval mode.
* Simplification (documented): ODE²VAE uses a Bayesian neural network for ``f``
  with a KL term on its weights; here ``f`` is a deterministic MLP, so only the
  KL terms of ``s0`` and ``v0`` remain. ``aux_losses["kl"]`` =
  ``kl_weight * (KL(q(s0)||N(0,I)) + KL(q(v0)||N(0,I)))`` summed over dimensions,
  averaged over the batch and divided by the number of predicted values per sample
  (``K*C*H*W``), the same per-element scaling as
  :mod:`~hurricane_ode.models.baselines.latent_ode`. ``kl_weight`` defaults to 1.0.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

from hurricane_ode.config import ModelConfig
from hurricane_ode.models.base import ModelInputs, ModelOutput, register_model
from hurricane_ode.models.baselines._encoders import (
    ConvDecoder,
    frame_encoder,
    gather_frames,
    mlp,
    solve_at_times,
)
from hurricane_ode.models.baselines.latent_ode import VariationalLatentModel, gaussian_kl

__all__ = ["ODE2VAE", "SecondOrderFunc"]


class SecondOrderFunc(nn.Module):
    """``d[s, v]/dt = [v, f(s, v)]`` on the concatenated state ``[B, 2D]``."""

    def __init__(self, dim: int, n_layers: int) -> None:
        super().__init__()
        self.dim = dim
        self.accel = mlp(2 * dim, 2 * dim, dim, n_layers)

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        v = y[:, self.dim :]
        return torch.cat([v, self.accel(y)], dim=-1)


def _first_two_observed(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Indices ``[B]`` of the first and second observed frames (second = first if only one)."""
    b, t = mask.shape
    pos = torch.arange(t, device=mask.device).expand(b, t)
    big = torch.full_like(pos, t)
    first = torch.where(mask, pos, big).min(dim=1).values
    second = torch.where(mask & (pos > first[:, None]), pos, big).min(dim=1).values
    return first, torch.where(second < t, second, first)


@register_model("ode2vae")
class ODE2VAE(VariationalLatentModel):
    """Second-order latent ODE VAE with conv encoders/decoder (see module docstring)."""

    model_name = "ode2vae"

    def __init__(self, config: ModelConfig | None = None, kl_weight: float = 1.0, **options: Any) -> None:
        super().__init__(config, kl_weight, options)
        config = self.config
        (gh, gw), dim = self.grid, self.latent_dim
        c, hid = config.in_channels, config.hidden_channels
        flat = hid * gh * gw
        self.pos_encoder = frame_encoder(c, config)
        self.pos_head = nn.Linear(flat, 2 * dim)
        self.vel_encoder = frame_encoder(2 * c + 1, config)
        self.vel_head = nn.Linear(flat, 2 * dim)
        self.func = SecondOrderFunc(dim, config.odefunc_layers)
        self.from_latent = nn.Linear(dim, flat)
        self.decoder = ConvDecoder(hid, c, config.base_channels, config.n_downsample)

    def predict(self, x: ModelInputs) -> ModelOutput:
        """inputs ``[B, T, C, H, W]``, times ``[B, T]`` / ``[B, K]`` (clip units) -> frames ``[B, K, C, H, W]``."""
        inputs, mask, ts, qs = x.inputs, x.mask, x.times, x.queries
        b = inputs.shape[0]
        i0, i1 = _first_two_observed(mask)
        x0, x1 = gather_frames(inputs, i0), gather_frames(inputs, i1)
        rows = torch.arange(b, device=inputs.device)
        t0, t1 = ts[rows, i0], ts[rows, i1]
        gap = (t1 - t0).view(b, 1, 1, 1).expand(b, 1, *x0.shape[-2:])

        s_mean, s_logvar = self.pos_head(self.pos_encoder(x0).flatten(1)).chunk(2, dim=-1)
        v_in = torch.cat([x0, x1, gap.to(x0.dtype)], dim=1)
        v_mean, v_logvar = self.vel_head(self.vel_encoder(v_in).flatten(1)).chunk(2, dim=-1)
        s_logvar, v_logvar = s_logvar.clamp(-10.0, 10.0), v_logvar.clamp(-10.0, 10.0)
        if self.training:
            s0 = s_mean + torch.randn_like(s_mean) * (0.5 * s_logvar).exp()
            v0 = v_mean + torch.randn_like(v_mean) * (0.5 * v_logvar).exp()
        else:
            s0, v0 = s_mean, v_mean

        ys = solve_at_times(self.func, torch.cat([s0, v0], dim=-1), qs - t0[:, None], self.config.solver)
        k = qs.shape[1]
        s = ys[..., : self.latent_dim].flatten(0, 1)
        grid = self.from_latent(s).view(b * k, self.config.hidden_channels, *self.grid)
        frames = self.decoder(grid).unflatten(0, (b, k))
        n_values = math.prod(frames.shape[1:])
        kl = (gaussian_kl(s_mean, s_logvar) + gaussian_kl(v_mean, v_logvar)).mean()
        return ModelOutput(frames=frames, aux_losses={"kl": self.kl_weight * kl / n_values})


def build_ode2vae(config: ModelConfig) -> ODE2VAE:
    """Factory for :class:`ODE2VAE` (``kl_weight`` 1.0, see module docstring)."""
    return ODE2VAE(config)
