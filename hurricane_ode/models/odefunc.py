"""Convolutional derivative networks ``f_theta`` (encoder) and ``f_phi`` (decoder).

The latent dynamics are autonomous, ``dh/dt = f(h)``: a small stack of 3x3
convolutions with ``tanh`` between them, mapping ``[B, C, H, W]`` to a tensor of
the same shape.
"""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["ConvODEFunc"]


class ConvODEFunc(nn.Module):
    """``dh/dt = f(h)``; ``forward(t, h)`` ignores ``t`` (torchdiffeq calling convention).

    Args:
        channels: channels of the state ``h`` (input and output).
        hidden_channels: width of the intermediate layers (default: ``channels``).
        n_layers: number of conv layers (>= 1); ``tanh`` between them, none after the last.
    """

    def __init__(self, channels: int, hidden_channels: int | None = None, n_layers: int = 2) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"ConvODEFunc: channels must be >= 1, got {channels}")
        if n_layers < 1:
            raise ValueError(f"ConvODEFunc: n_layers must be >= 1, got {n_layers}")
        width = channels if hidden_channels is None else hidden_channels
        layers: list[nn.Module] = []
        c_in = channels
        for i in range(n_layers):
            c_out = channels if i == n_layers - 1 else width
            layers.append(nn.Conv2d(c_in, c_out, 3, padding=1))
            if i < n_layers - 1:
                layers.append(nn.Tanh())
            c_in = c_out
        self.net = nn.Sequential(*layers)
        self.channels = channels
        self.nfe = 0
        """Number of function evaluations since the last reset (diagnostic)."""

    def forward(self, t: Tensor | float, h: Tensor) -> Tensor:
        """``h`` ``[B, channels, H, W]`` -> ``dh/dt`` of the same shape (per model time unit)."""
        self.nfe += 1
        return self.net(h)
