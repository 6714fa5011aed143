"""The flow prior: pyramidal Lucas-Kanade motion, semi-Lagrangian offsets, and Vid-ODE started as advection."""

from __future__ import annotations

import dataclasses

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
    warp,
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


def _narrow_vortex(sigma: float = 1.0, size: int = 16) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size).float(), torch.arange(size).float(), indexing="ij")
    return torch.exp(-((xx - 8) ** 2 + (yy - 8) ** 2) / (2 * sigma**2))[None, None]


@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic"])
def test_warp_is_exact_for_zero_and_whole_pixel_flows(interpolation):
    img = torch.randn(2, 3, 12, 10)
    zero = torch.zeros(2, 2, 12, 10)
    assert torch.equal(warp(img, zero, interpolation), img)
    shift = zero.clone()
    shift[:, 0], shift[:, 1] = 2.0, -1.0  # out[y, x] = img[y - 1, x + 2]
    out = warp(img, shift, interpolation)
    torch.testing.assert_close(out[..., 1:, :-2], img[..., :-1, 2:])


def test_bicubic_warp_keeps_more_of_a_narrow_vortex_and_its_mass():
    g = _narrow_vortex()
    half = torch.full((1, 2, 16, 16), 0.5)
    bilinear, bicubic = warp(g, half, "bilinear"), warp(g, half, "bicubic")
    assert bicubic.max() > bilinear.max() + 0.05  # 0.73 against 0.65 at a half-pixel shift
    torch.testing.assert_close(bicubic.sum(), g.sum(), rtol=1e-4, atol=1e-4)  # the weights sum to one
    # a smooth field is reproduced to high order: a quadratic ramp sampled between pixels
    yy, xx = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    ramp = (0.1 * xx**2 + 0.3 * yy)[None, None]
    flow = torch.full((1, 2, 16, 16), 0.25)
    truth = 0.1 * (xx + 0.25) ** 2 + 0.3 * (yy + 0.25)
    inner = (slice(2, -2), slice(2, -2))
    assert (warp(ramp, flow, "bicubic")[0, 0][inner] - truth[inner]).abs().max() < 1e-3
    assert (warp(ramp, flow, "bilinear")[0, 0][inner] - truth[inner]).abs().max() > 5e-3


def test_bicubic_warp_has_gradients_in_image_and_flow():
    img = _narrow_vortex().requires_grad_(True)
    flow = torch.full((1, 2, 16, 16), 0.3, requires_grad=True)
    warp(img, flow, "bicubic").square().sum().backward()
    assert img.grad is not None and img.grad.abs().sum() > 0
    assert flow.grad is not None and flow.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="interpolation"):
        warp(img, flow, "nearest")


def test_warp_interpolation_reaches_vid_ode_and_advection_lk():
    x, t_in, t_q, y = clip([0.0, 6.0, 9.0, 15.0, 18.0], [21.0, 30.0])
    with torch.no_grad():
        lk = build_model(ModelConfig(name="advection_lk", image_size=(H, W)))(x, t_in, t_q).frames
        cubic = build_model(ModelConfig(name="advection_lk_bicubic", image_size=(H, W)))(x, t_in, t_q).frames
    assert ((cubic - y) ** 2).mean() < 1e-3 and not torch.equal(cubic, lk)
    cfg = _prior_model().config
    bilinear_model = VidODE(cfg).eval()
    bicubic_model = VidODE(dataclasses.replace(cfg, warp_interpolation="bicubic")).eval()
    bicubic_model.load_state_dict(bilinear_model.state_dict())  # no weights depend on it
    with torch.no_grad():
        a, b = bilinear_model(x, t_in, t_q).frames, bicubic_model(x, t_in, t_q).frames
    assert not torch.equal(a, b) and ((b - y) ** 2).mean() < 2 * ((a - y) ** 2).mean()
    with pytest.raises(ConfigError, match="warp_interpolation"):
        VidODE(dataclasses.replace(cfg, warp_interpolation="nearest"))
