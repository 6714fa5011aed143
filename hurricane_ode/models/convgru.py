"""Convolutional GRU cell (Ballas et al. 2015), the recurrent half of ODE-ConvGRU (Eq. 1).

Shapes are ``[B, C, H, W]``; nothing here knows what the channels mean.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["ConvGRUCell"]


class ConvGRUCell(nn.Module):
    """One ConvGRU update ``h_new = (1 - z) * h + z * tanh(W_x x + W_h (r * h))``.

    Args:
        input_channels: channels of the input ``x``.
        hidden_channels: channels of the hidden state ``h``.
        kernel_size: odd spatial kernel size of the gate convolutions.
    """

    def __init__(self, input_channels: int, hidden_channels: int, kernel_size: int = 3) -> None:
        super().__init__()
        if input_channels < 1 or hidden_channels < 1:
            raise ValueError(
                f"ConvGRUCell: input_channels and hidden_channels must be >= 1, "
                f"got {input_channels}, {hidden_channels}"
            )
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"ConvGRUCell: kernel_size must be a positive odd int, got {kernel_size}")
        self.input_channels = input_channels
        self.hidden_channels = hidden_channels
        pad = kernel_size // 2
        # reset (r) and update (z) gates from [x, h]
        self.gates = nn.Conv2d(input_channels + hidden_channels, 2 * hidden_channels, kernel_size, padding=pad)
        # candidate state from [x, r * h]
        self.candidate = nn.Conv2d(input_channels + hidden_channels, hidden_channels, kernel_size, padding=pad)

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        """``x`` ``[B, C_in, H, W]``, ``h`` ``[B, C_h, H, W]`` (None = zeros) -> new ``h`` ``[B, C_h, H, W]``."""
        if x.dim() != 4 or x.shape[1] != self.input_channels:
            raise ValueError(
                f"ConvGRUCell: x must be [B, {self.input_channels}, H, W], got {tuple(x.shape)}"
            )
        if h is None:  # h = 0: only the x columns of the gate convolutions contribute, and r is unused
            z = torch.sigmoid(self._conv_x(self.gates, x)).chunk(2, dim=1)[1]
            return z * torch.tanh(self._conv_x(self.candidate, x))
        if h.shape != (x.shape[0], self.hidden_channels, *x.shape[2:]):
            raise ValueError(
                f"ConvGRUCell: h must be {(x.shape[0], self.hidden_channels, *x.shape[2:])}, "
                f"got {tuple(h.shape)}"
            )
        r, z = torch.sigmoid(self.gates(torch.cat([x, h], dim=1))).chunk(2, dim=1)
        cand = torch.tanh(self.candidate(torch.cat([x, r * h], dim=1)))
        return (1.0 - z) * h + z * cand

    def _conv_x(self, conv: nn.Conv2d, x: Tensor) -> Tensor:
        """``conv`` applied to ``[x, 0]``: its weights' ``x`` columns only."""
        return F.conv2d(x, conv.weight[:, : self.input_channels], conv.bias, padding=conv.padding)
