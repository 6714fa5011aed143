"""Latent ODE (Rubanova, Chen & Duvenaud 2019) for video.

Paper reference: Vid-ODE (Park et al., AAAI 2021), section 4.2 (Table 1) and
"Irregular Video Prediction" (Table 5), where Latent ODE is a baseline.

What the model does
-------------------
* Recognition network: an ODE-RNN that runs *backward in time* over the observed
  frames, from ``h = 0`` at the last observed time down to the clip origin
  ``t0 = 0``. Adapted for video: the RNN is an ODE-ConvGRU on the latent grid
  (Conv-Encoder ``E``; between observations ``dh/dt = f_theta(h)`` with a conv
  derivative network, advanced per sample over its own gap). The final state is
  flattened and mapped linearly to the mean and log-variance of ``q(z0)``, a
  latent *vector* of size ``ModelConfig.hidden_channels``.
* ``z0`` is sampled with the reparametrisation trick in training mode; in eval
  mode the mean is used (deterministic forecasts).
* Generative model: ``dz/dt = f(z)`` with an MLP (``ModelConfig.odefunc_layers``
  layers, tanh), solved from ``t0 = 0`` to every query time (one batched solve
  over the union of the batch's query times); a linear layer + Conv-Decoder maps
  ``z(s_k)`` to the frame.
* ``aux_losses["kl"]`` = ``kl_weight * KL(q(z0) || N(0, I))``, summed over latent
  dimensions, averaged over the batch and divided by the number of predicted values
  per sample (``K*C*H*W``). That division puts the KL on the same per-element scale
  as the mean-reduced reconstruction loss the trainer uses, i.e. the aux term plus
  the reconstruction loss is the negative ELBO per predicted value (with a
  Laplace/L1 likelihood of unit scale). ``kl_weight`` defaults to 1.0.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn

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
    VectorODEFunc,
    frame_encoder,
    last_observed_index,
    latent_grid,
    mlp,
    solve_at_times,
)
from hurricane_ode.models.convgru import ConvGRUCell
from hurricane_ode.models.odefunc import ConvODEFunc
from hurricane_ode.models.solver import integrate_intervals

__all__ = ["LatentODE", "VariationalLatentModel", "gaussian_kl"]


def gaussian_kl(mean: Tensor, logvar: Tensor) -> Tensor:
    """``KL(N(mean, exp(logvar)) || N(0, I))`` summed over the last dim -> ``[B]``."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


class VariationalLatentModel(ForecastModel):
    """What the VAE baselines share: options, the latent grid ``(h, w)``, width and KL weight.

    ``latent_dim = hidden_channels``; ``aux_losses["kl"]`` is scaled by ``kl_weight``.
    """

    def __init__(self, config: ModelConfig | None, kl_weight: float, options: dict[str, Any]) -> None:
        config = model_options(config, options, self.model_name)
        super().__init__(config)
        self.kl_weight = kl_weight
        self.grid = latent_grid(config)
        self.latent_dim = config.hidden_channels


@register_model("latent_ode")
class LatentODE(VariationalLatentModel):
    """Latent ODE with an ODE-ConvGRU recognition network (see module docstring)."""

    model_name = "latent_ode"

    def __init__(self, config: ModelConfig | None = None, kl_weight: float = 1.0, **options: Any) -> None:
        super().__init__(config, kl_weight, options)
        config = self.config
        (gh, gw), dim = self.grid, self.latent_dim
        c, hid = config.in_channels, config.hidden_channels
        self.encoder = frame_encoder(c, config)
        self.enc_func = ConvODEFunc(hid, n_layers=config.odefunc_layers)
        self.enc_cell = ConvGRUCell(hid, hid)
        self.to_posterior = nn.Linear(hid * gh * gw, 2 * dim)
        self.latent_func = VectorODEFunc(mlp(dim, 2 * dim, dim, config.odefunc_layers))
        self.from_latent = nn.Linear(dim, hid * gh * gw)
        self.decoder = ConvDecoder(hid, c, config.base_channels, config.n_downsample)

    def encode(self, inputs: Tensor, times: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Backward ODE-RNN -> ``(mean, logvar)`` of ``q(z0)``, each ``[B, latent_dim]``."""
        b, t = times.shape
        solver = self.config.solver
        emb = self.encoder(inputs.flatten(0, 1)).unflatten(0, (b, t))
        h = emb.new_zeros(b, self.config.hidden_channels, *self.grid)
        cur = times[torch.arange(b, device=times.device), last_observed_index(mask)]
        for i in reversed(range(t)):
            m = mask[:, i]
            dt = torch.where(m, times[:, i] - cur, torch.zeros_like(cur))
            h_ode = integrate_intervals(self.enc_func, h, dt, solver)
            h_new = self.enc_cell(emb[:, i], h_ode)
            h = torch.where(m.view(b, 1, 1, 1), h_new, h)
            cur = torch.where(m, times[:, i], cur)
        h = integrate_intervals(self.enc_func, h, -cur, solver)  # down to the origin t0 = 0
        mean, logvar = self.to_posterior(h.flatten(1)).chunk(2, dim=-1)
        return mean, logvar.clamp(-10.0, 10.0)

    def predict(self, x: ModelInputs) -> ModelOutput:
        """inputs ``[B, T, C, H, W]``, times ``[B, T]`` / ``[B, K]`` (clip units) -> frames ``[B, K, C, H, W]``."""
        qs = x.queries
        mean, logvar = self.encode(x.inputs, x.times, x.mask)
        z0 = mean + torch.randn_like(mean) * (0.5 * logvar).exp() if self.training else mean
        zs = solve_at_times(self.latent_func, z0, qs, self.config.solver)  # [B, K, D]
        b, k = qs.shape
        grid = self.from_latent(zs.flatten(0, 1)).view(b * k, self.config.hidden_channels, *self.grid)
        frames = self.decoder(grid).unflatten(0, (b, k))
        n_values = math.prod(frames.shape[1:])
        kl = self.kl_weight * gaussian_kl(mean, logvar).mean() / n_values
        return ModelOutput(frames=frames, aux_losses={"kl": kl})


def build_latent_ode(config: ModelConfig) -> LatentODE:
    """Factory for :class:`LatentODE` (``kl_weight`` 1.0, see module docstring)."""
    return LatentODE(config)
