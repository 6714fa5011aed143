"""The flow prior: pyramidal Lucas-Kanade motion, semi-Lagrangian offsets, and Vid-ODE started as advection."""

from __future__ import annotations

import pytest
import torch

from hurricane_ode.config import ModelConfig, SolverConfig
from hurricane_ode.errors import ConfigError
from hurricane_ode.models.base import build_model
from hurricane_ode.models.motion import (
    advection_offset,
    advection_offsets,
    advection_velocity,
    gaussian_blur,
    pyramid_motion,
)
from hurricane_ode.models.vid_ode import VidODE

H, W = 48, 64


def blob(t: float, vx: float = 0.8, vy: float = -0.3) -> torch.Tensor:
    """A 3-channel Gaussian vortex-like blob moving (vx, vy) pixels per time unit: ``[3, H, W]``."""
    yy, xx = torch.meshgrid(torch.arange(H).float(), torch.arange(W).float(), indexing="ij")
    g = torch.exp(-((xx - 20 - vx * t) ** 2 + (yy - 28 - vy * t) ** 2) / (2 * 5.0**2))
    return torch.stack([g, -g, 0.5 * g])


def clip(times_in, times_q):
    x = torch.stack([blob(t) for t in times_in])[None]
    y = torch.stack([blob(t) for t in times_q])[None]
    return x, torch.tensor([times_in]), torch.tensor([times_q]), y


def test_pyramid_motion_recovers_a_shift_beyond_one_level():
    a, b = blob(0.0)[None], blob(5.0)[None]  # moved (4, -1.5) pixels
    u = pyramid_motion(a, b)
    centre = u[0, :, 28, 20]
    assert torch.allclose(centre, torch.tensor([4.0, -1.5]), atol=0.35), centre


def test_velocity_uses_the_last_two_observed_inputs_and_is_capped():
    x, t_in, _, _ = clip([0.0, 6.0, 9.0], [12.0])
    mask = torch.tensor([[True, True, False]])  # last observed pair: t = 0 and 6
    v = advection_velocity(x, t_in, mask)
    assert torch.allclose(v[0, :, 28, 20], torch.tensor([0.8, -0.3]), atol=0.08)
    capped = advection_velocity(x, t_in, mask, max_speed=0.2)
    assert float(capped.norm(dim=1).max()) <= 0.2 + 1e-5
    single = advection_velocity(x, t_in, torch.tensor([[False, False, True]]))
    assert float(single.abs().max()) == 0.0  # one observed frame: persistence


def test_offsets_along_one_trajectory_equal_separate_solves():
    torch.manual_seed(0)
    v = gaussian_blur(torch.randn(2, 2, 32, 40), 4.0)
    v = 0.5 * v / v.abs().max()  # a smooth flow, up to 0.5 px per time unit
    leads = torch.tensor([[3.0, 6.0, 12.0], [-2.0, -4.0, -9.0]])
    joint = advection_offsets(v, leads)
    for k in range(3):
        alone = advection_offset(v, leads[:, k])
        assert (joint[:, k] - alone).abs().mean() < 0.02
        assert (joint[:, k] - alone).abs().max() < 0.15


def _prior_model(**kw) -> VidODE:
    cfg = ModelConfig(image_size=(H, W), hidden_channels=8, base_channels=4, composition="residual",
                      flow_prior="advection", warp_source="reference", head_init="identity",
                      mask_bias_init=8.0, solver=SolverConfig(method="euler", step_size=0.25), **kw)
    return VidODE(cfg).eval()


def test_untrained_vid_ode_with_the_prior_advects_and_keeps_the_peak():
    x, t_in, t_q, y = clip([0.0, 6.0, 9.0, 15.0, 18.0], [21.0, 24.0, 30.0, 42.0])
    with torch.no_grad():
        out = _prior_model()(x, t_in, t_q).frames
        persistence = build_model(ModelConfig(name="persistence", image_size=(H, W)))(x, t_in, t_q).frames
    err = ((out - y) ** 2).mean(dim=(0, 2, 3, 4))
    err_p = ((persistence - y) ** 2).mean(dim=(0, 2, 3, 4))
    assert (err < 0.05 * err_p).all(), (err, err_p)
    assert out[0, -1, 0].max() > 0.95  # one resampling per output: the vortex is not smoothed away


def test_paper_defaults_leave_the_prior_off():
    cfg = ModelConfig()
    assert (cfg.flow_prior, cfg.warp_source, cfg.head_init) == ("none", "previous", "default")
    with pytest.raises(ConfigError, match="flow_prior"):
        VidODE(ModelConfig(image_size=(16, 16), hidden_channels=8, base_channels=4, flow_prior="optical"))


def test_advection_lk_baseline_follows_the_blob():
    x, t_in, t_q, y = clip([0.0, 6.0, 9.0, 15.0, 18.0], [21.0, 30.0])
    m = build_model(ModelConfig(name="advection_lk", image_size=(H, W)))
    with torch.no_grad():
        out = m(x, t_in, t_q).frames
    assert ((out - y) ** 2).mean() < 1e-3
