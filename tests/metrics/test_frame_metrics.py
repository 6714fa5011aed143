"""Per-frame MSE / PSNR / SSIM: analytic values and basic properties."""

import math

import pytest
import torch

from hurricane_ode.metrics import (
    ZSCORE_DATA_RANGE,
    mse_per_frame,
    mse_to_physical,
    psnr_from_mse,
    psnr_per_frame,
    ssim_per_frame,
)


def _frames(seed=0, shape=(2, 3, 3, 24, 24)):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g)


def test_identical_frames_are_perfect():
    x = _frames()
    assert torch.all(mse_per_frame(x, x) == 0)
    assert torch.all(torch.isinf(psnr_per_frame(x, x, 1.0)))
    assert torch.allclose(ssim_per_frame(x, x, 1.0), torch.ones(2, 3, 3))


def test_constant_offset_gives_analytic_mse_and_psnr():
    x = _frames()
    d = 0.1
    mse = mse_per_frame(x + d, x)
    assert mse.shape == (2, 3, 3)
    assert torch.allclose(mse, torch.full_like(mse, d**2), atol=1e-6)
    psnr = psnr_per_frame(x + d, x, data_range=1.0)
    assert psnr.shape == (2, 3)
    assert torch.allclose(psnr, torch.full_like(psnr, 20.0), atol=1e-3)  # 10 log10(1 / 0.01)
    # the stated data range enters as L^2
    assert psnr_from_mse(torch.tensor(0.01), ZSCORE_DATA_RANGE).item() == pytest.approx(
        10 * math.log10(36 / 0.01)
    )


def test_known_shift_mse():
    # a ramp shifted by one pixel along x differs by exactly the ramp step everywhere but the edge
    w = 16
    ramp = torch.arange(w, dtype=torch.float64).expand(1, 1, 1, 16, w) * 0.5
    shifted = torch.roll(ramp, shifts=1, dims=-1)
    # columns 1..w-1 differ by 0.5, column 0 differs by (w-1)*0.5
    expected = ((w - 1) * 0.25 + ((w - 1) * 0.5) ** 2) / w
    assert mse_per_frame(shifted, ramp).item() == pytest.approx(expected)


def test_ssim_decreases_with_noise():
    x = _frames(shape=(1, 1, 1, 32, 32))
    g = torch.Generator().manual_seed(1)
    noise = torch.randn(x.shape, generator=g)
    values = [ssim_per_frame(x + s * noise, x, 1.0).item() for s in (0.0, 0.05, 0.2, 0.5)]
    assert values[0] == pytest.approx(1.0)
    assert all(a > b for a, b in zip(values, values[1:]))
    assert values[-1] < 0.5


def test_ssim_of_constant_offset_is_luminance_term():
    # with identical structure, SSIM = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) on flat images
    x = torch.full((1, 1, 1, 16, 16), 0.4, dtype=torch.float64)
    y = x + 0.2
    c1 = (0.01 * 1.0) ** 2
    expected = (2 * 0.4 * 0.6 + c1) / (0.4**2 + 0.6**2 + c1)
    assert ssim_per_frame(y, x, 1.0).item() == pytest.approx(expected, rel=1e-9)
    # float32 stays close (variances are computed from centred data)
    assert ssim_per_frame(y.float(), x.float(), 1.0).item() == pytest.approx(expected, rel=1e-4)


def test_physical_mse_scales_by_std_squared():
    x = _frames().double()
    y = _frames(seed=3).double()
    std = [3.0, 4.0, 250.0]  # m/s, m/s, Pa
    norm = mse_per_frame(x, y)
    phys = mse_to_physical(norm, std)
    for c, s in enumerate(std):
        assert torch.allclose(phys[..., c], norm[..., c] * s**2)
    # and it equals the MSE of the de-normalised fields
    std_t = torch.tensor(std).view(1, 1, 3, 1, 1)
    mean_t = torch.tensor([1.0, -2.0, 101000.0]).view(1, 1, 3, 1, 1)
    direct = mse_per_frame(x * std_t + mean_t, y * std_t + mean_t)
    assert torch.allclose(phys, direct, rtol=1e-9)


def test_bad_inputs_raise_clear_errors():
    x = _frames()
    with pytest.raises(ValueError, match="differs from target shape"):
        mse_per_frame(x, x[:, :2])
    with pytest.raises(ValueError, match="B, K, C, H, W"):
        mse_per_frame(x[0, 0, 0], x[0, 0, 0])
    with pytest.raises(ValueError, match="at least 11x11"):
        ssim_per_frame(x[..., :8, :8], x[..., :8, :8], 1.0)
    with pytest.raises(ValueError, match="data_range"):
        psnr_per_frame(x, x, 0.0)
    with pytest.raises(ValueError, match="one value per channel"):
        mse_to_physical(torch.zeros(2, 3), [1.0, 2.0])


def test_four_dim_input_is_one_lead_time():
    x = _frames()[:, 0]
    assert mse_per_frame(x, x + 1).shape == (2, 1, 3)
