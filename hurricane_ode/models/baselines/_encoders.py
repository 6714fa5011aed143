"""Building blocks shared by the baselines: conv encoder/decoder, MLPs, warping, time helpers.

The Conv-Encoder ``E`` and the warp are Vid-ODE's own
(:class:`hurricane_ode.models.vid_ode.ConvEncoder`, :func:`hurricane_ode.models.vid_ode.warp`,
re-exported here), so every baseline embeds frames exactly as Vid-ODE does and
comparisons isolate the dynamics model. :class:`ConvDecoder` is the single-input
counterpart of Vid-ODE's two-input decoder ``G``.

Everything here works on tensors only (``[B, C, H, W]`` frames, ``[B, T]`` times) and
knows nothing about what the channels mean.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from hurricane_ode.config import ModelConfig, SolverConfig
from hurricane_ode.models.base import check_inputs
from hurricane_ode.models.solver import odesolve
from hurricane_ode.models.vid_ode import ConvEncoder, warp

__all__ = [
    "ConvEncoder",
    "frame_encoder",
    "ConvDecoder",
    "mlp",
    "warp",
    "check_batch",
    "observed_mask",
    "last_observed_index",
    "gather_frames",
    "solve_at_times",
    "latent_grid",
    "VectorODEFunc",
]


def latent_grid(config: ModelConfig) -> tuple[int, int]:
    """Latent grid ``(H', W') = image_size / 2**n_downsample``; raises if not divisible."""
    h, w = config.image_size
    f = 2**config.n_downsample
    if h % f or w % f:
        raise ValueError(
            f"ModelConfig.image_size {tuple(config.image_size)} must be divisible by "
            f"2**n_downsample = {f}"
        )
    return h // f, w // f


def frame_encoder(in_channels: int, config: ModelConfig) -> nn.Module:
    """Vid-ODE's Conv-Encoder ``E``: ``[N, in_channels, H, W]`` -> ``[N, hidden, H', W']``."""
    return ConvEncoder(
        in_channels=in_channels,
        base_channels=config.base_channels,
        n_downsample=config.n_downsample,
        out_channels=config.hidden_channels,
    )


class ConvDecoder(nn.Module):
    """Latent ``[B, in, H', W']`` -> ``[B, out, H' * 2**n, W' * 2**n]`` (no output activation).

    Mirror of :class:`ConvEncoder` with nearest-neighbour upsampling + 3x3 conv
    stages (no transposed convs, hence no checkerboard artefacts).
    """

    def __init__(self, in_channels: int, out_channels: int, base_channels: int, n_upsample: int) -> None:
        super().__init__()
        c = base_channels * 2**n_upsample
        layers: list[nn.Module] = [nn.Conv2d(in_channels, c, 3, padding=1), nn.LeakyReLU(0.2)]
        for _ in range(n_upsample):
            layers += [
                nn.Upsample(scale_factor=2, mode="nearest"),
                nn.Conv2d(c, c // 2, 3, padding=1),
                nn.LeakyReLU(0.2),
            ]
            c //= 2
        layers.append(nn.Conv2d(c, out_channels, 3, padding=1))
        self.net = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)


def mlp(in_features: int, hidden: int, out_features: int, n_layers: int = 2) -> nn.Sequential:
    """``n_layers`` linear layers with ``tanh`` between them (none after the last)."""
    if n_layers < 1:
        raise ValueError(f"mlp: n_layers must be >= 1, got {n_layers}")
    layers: list[nn.Module] = []
    c = in_features
    for i in range(n_layers):
        out = out_features if i == n_layers - 1 else hidden
        layers.append(nn.Linear(c, out))
        if i < n_layers - 1:
            layers.append(nn.Tanh())
        c = out
    return nn.Sequential(*layers)


class VectorODEFunc(nn.Module):
    """``dz/dt = net(z)`` for latent vectors ``[B, D]`` (torchdiffeq calling convention)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, t: Tensor, z: Tensor) -> Tensor:
        return self.net(z)


def check_batch(
    name: str,
    config: ModelConfig,
    inputs: Tensor,
    input_times: Tensor,
    query_times: Tensor,
    input_mask: Tensor | None,
) -> Tensor:
    """Validate a forward call (:func:`~hurricane_ode.models.base.check_inputs`); returns the bool mask ``[B, T]``.

    For models that do not derive from :class:`~hurricane_ode.models.base.ForecastModel`
    (which validates by itself). Errors name the model and the argument.
    """
    check_inputs(name, config, inputs, input_times, query_times, input_mask)
    return observed_mask(input_times, input_mask)


def observed_mask(input_times: Tensor, input_mask: Tensor | None) -> Tensor:
    """``input_mask`` as bool, or all True when None."""
    if input_mask is None:
        return torch.ones_like(input_times, dtype=torch.bool)
    return input_mask.bool()


def last_observed_index(mask: Tensor, before: Tensor | None = None) -> Tensor:
    """Index of the last True of ``mask`` ``[B, T]`` (restricted to ``before`` if given); -1 if none."""
    b, t = mask.shape
    m = mask if before is None else mask & before
    pos = torch.arange(t, device=mask.device).expand(b, t)
    return torch.where(m, pos, torch.full_like(pos, -1)).max(dim=1).values


def gather_frames(frames: Tensor, index: Tensor) -> Tensor:
    """``frames[b, index[b]]`` for ``frames`` ``[B, T, ...]`` and ``index`` ``[B]`` -> ``[B, ...]``."""
    return frames[torch.arange(frames.shape[0], device=frames.device), index]


def solve_at_times(func: nn.Module, y0: Tensor, times: Tensor, solver: SolverConfig) -> Tensor:
    """Solve ``dy/dt = func(t, y)`` from ``y(0) = y0`` and read each sample at its own times.

    y0 ``[B, D]``; times ``[B, K]`` (model units, relative to the initial time, any sign)
    -> ``[B, K, D]``. The batch shares one solve over the union of all requested
    times (forward for t >= 0, backward for t < 0), so per-sample time grids cost no
    Python loop over samples and each sample's values are exact solver outputs.
    """
    b, k = times.shape
    out = y0.new_zeros(b, k, *y0.shape[1:])
    flat = times.reshape(-1).detach()
    for sign in (1.0, -1.0):
        sel = flat >= 0 if sign > 0 else flat < 0
        if not bool(sel.any()):
            continue
        grid = torch.unique(flat[sel].abs())  # sorted ascending
        grid = grid[grid > 0]
        grid = torch.cat([grid.new_zeros(1), grid])
        ys = odesolve(func, y0, sign * grid, solver)  # [N, B, D]
        idx = torch.searchsorted(grid, times.detach().abs()).clamp(max=grid.numel() - 1)  # [B, K]
        picked = ys[idx, torch.arange(b, device=y0.device)[:, None]]  # [B, K, D]
        sel_bk = sel.view(b, k).view(b, k, *([1] * (y0.dim() - 1)))
        out = torch.where(sel_bk, picked, out)
    return out
