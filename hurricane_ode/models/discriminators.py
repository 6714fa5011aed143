"""LS-GAN discriminators (Sec. 3.3): one on single frames, one on sequences.

Both return unbounded patch scores (no sigmoid): the least-squares loss pushes
real scores to 1 and generated ones to 0. Channel-agnostic.
"""

from __future__ import annotations

from torch import Tensor, nn

from hurricane_ode.config import ModelConfig

__all__ = ["ImageDiscriminator", "SequenceDiscriminator", "build_discriminators"]


def _groups(channels: int) -> int:
    for g in (8, 4, 2):
        if channels % g == 0:
            return g
    return 1


class ImageDiscriminator(nn.Module):
    """PatchGAN on frames: ``[N, C, H, W]`` -> scores ``[N, 1, H / 2**n_layers, W / 2**n_layers]``.

    Needs ``H, W >= 2**n_layers``.
    """

    def __init__(self, in_channels: int, base_channels: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        if in_channels < 1 or base_channels < 1 or n_layers < 1:
            raise ValueError(
                f"ImageDiscriminator: in_channels, base_channels, n_layers must be >= 1, "
                f"got {in_channels}, {base_channels}, {n_layers}"
            )
        self.in_channels = in_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, 4, 2, 1), nn.LeakyReLU(0.2)]
        ch = base_channels
        for _ in range(n_layers - 1):
            layers += [
                nn.Conv2d(ch, 2 * ch, 4, 2, 1),
                nn.GroupNorm(_groups(2 * ch), 2 * ch),
                nn.LeakyReLU(0.2),
            ]
            ch *= 2
        layers.append(nn.Conv2d(ch, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"ImageDiscriminator: expects [N, {self.in_channels}, H, W], got {tuple(x.shape)}"
            )
        return self.net(x)


class SequenceDiscriminator(nn.Module):
    """3-D conv PatchGAN on clips: ``[B, T, C, H, W]`` (any ``T >= 1``) -> scores ``[B, 1, T, h, w]``.

    Time keeps its length (kernel 3, padding 1, stride 1 in time); space is
    halved ``n_layers`` times. To condition on the inputs as the official code
    does, pass inputs and outputs concatenated along ``T``.
    """

    def __init__(self, in_channels: int, base_channels: int = 64, n_layers: int = 3) -> None:
        super().__init__()
        if in_channels < 1 or base_channels < 1 or n_layers < 1:
            raise ValueError(
                f"SequenceDiscriminator: in_channels, base_channels, n_layers must be >= 1, "
                f"got {in_channels}, {base_channels}, {n_layers}"
            )
        self.in_channels = in_channels
        k, s, p = (3, 4, 4), (1, 2, 2), (1, 1, 1)
        layers: list[nn.Module] = [nn.Conv3d(in_channels, base_channels, k, s, p), nn.LeakyReLU(0.2)]
        ch = base_channels
        for _ in range(n_layers - 1):
            layers += [
                nn.Conv3d(ch, 2 * ch, k, s, p),
                nn.GroupNorm(_groups(2 * ch), 2 * ch),
                nn.LeakyReLU(0.2),
            ]
            ch *= 2
        layers.append(nn.Conv3d(ch, 1, 3, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 5 or x.shape[2] != self.in_channels:
            raise ValueError(
                f"SequenceDiscriminator: expects [B, T, {self.in_channels}, H, W], got {tuple(x.shape)}"
            )
        return self.net(x.transpose(1, 2))


def build_discriminators(config: ModelConfig) -> nn.ModuleDict:
    """``{"img": ImageDiscriminator, "seq": SequenceDiscriminator}`` for ``config.in_channels``."""
    return nn.ModuleDict(
        {
            "img": ImageDiscriminator(config.in_channels, config.disc_base_channels),
            "seq": SequenceDiscriminator(config.in_channels, config.disc_base_channels),
        }
    )
