"""LS-GAN image and sequence discriminators."""

from __future__ import annotations

import pytest
import torch

from hurricane_ode.config import ModelConfig
from hurricane_ode.models.discriminators import (
    ImageDiscriminator,
    SequenceDiscriminator,
    build_discriminators,
)


@pytest.mark.parametrize("c", [1, 3, 4])
def test_image_discriminator_patch_scores_and_gradients(c):
    torch.manual_seed(0)
    d = ImageDiscriminator(c, base_channels=8)
    x = torch.randn(5, c, 16, 16, requires_grad=True)
    s = d(x)
    assert s.shape == (5, 1, 2, 2)
    # LS-GAN: unbounded scores (no sigmoid), so a large input can leave [0, 1]
    assert not bool(((d(100 * x) >= 0) & (d(100 * x) <= 1)).all())
    ((s - 1) ** 2).mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())


@pytest.mark.parametrize("t", [1, 3, 7])
def test_sequence_discriminator_accepts_any_length(t):
    torch.manual_seed(0)
    d = SequenceDiscriminator(3, base_channels=8)
    x = torch.randn(2, t, 3, 16, 16)
    s = d(x)
    assert s.shape == (2, 1, t, 2, 2)
    (s**2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())


def test_sequence_discriminator_sees_temporal_order():
    torch.manual_seed(0)
    d = SequenceDiscriminator(2, base_channels=8)
    x = torch.randn(1, 4, 2, 16, 16)
    assert not torch.allclose(d(x), d(x.flip(1)).flip(2))


def test_build_discriminators_and_errors():
    ds = build_discriminators(ModelConfig(in_channels=4, disc_base_channels=8))
    assert set(ds.keys()) == {"img", "seq"}
    assert ds["img"](torch.randn(2, 4, 16, 16)).shape[1] == 1
    assert ds["seq"](torch.randn(2, 3, 4, 16, 16)).shape[:2] == (2, 1)
    with pytest.raises(ValueError, match=r"expects \[N, 4, H, W\]"):
        ds["img"](torch.randn(2, 3, 16, 16))
    with pytest.raises(ValueError, match=r"expects \[B, T, 4, H, W\]"):
        ds["seq"](torch.randn(2, 4, 16, 16))


def test_sequence_discriminator_is_a_2d_net_over_frame_windows():
    torch.manual_seed(0)
    d = SequenceDiscriminator(2, base_channels=8, window=3)
    assert not any(isinstance(m, torch.nn.Conv3d) for m in d.modules())
    assert d.net[0].in_channels == 3 * 2  # a window of 3 frames stacked as channels
    x = torch.randn(2, 5, 2, 16, 16)
    full = d(x)
    assert full.shape == (2, 1, 5, 2, 2)
    # last=k scores exactly the windows ending at the last k frames
    assert torch.allclose(d(x, last=2), full[:, :, 3:], atol=1e-6)
    # causal: the score at frame t does not depend on later frames, and sees only `window` frames
    y = x.clone()
    y[:, 4] += 1.0
    assert torch.allclose(d(y)[:, :, :4], full[:, :, :4]) and not torch.allclose(d(y)[:, :, 4], full[:, :, 4])
    z = x.clone()
    z[:, 0] += 1.0
    assert torch.allclose(d(z)[:, :, 3:], full[:, :, 3:])  # frame 0 is outside windows ending at 3, 4
    with pytest.raises(ValueError, match="last"):
        d(x, last=6)


def test_build_discriminators_window_follows_n_inputs():
    ds = build_discriminators(ModelConfig(in_channels=3, n_inputs=4, disc_base_channels=8))
    assert ds["seq"].window == 5
    ds = build_discriminators(ModelConfig(in_channels=3, disc_window=2, disc_base_channels=8))
    assert ds["seq"].window == 2
