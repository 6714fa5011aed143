"""Per-frame image metrics on ``[B, K, C, H, W]`` tensors: MSE, PSNR, SSIM.

``B`` is the batch, ``K`` the lead-time (target frame) index, ``C`` channels.
Every function returns one value per frame (and per channel where that makes
sense), so callers can average over lead times, channels or the batch as they
like; :class:`hurricane_ode.metrics.MetricAccumulator` does it for whole test
sets.

Data range. PSNR and SSIM need the range ``L`` the data can span:

* RGB video in ``[0, 1]``: ``data_range=1.0``.
* Climate fields normalised to z-scores: :data:`ZSCORE_DATA_RANGE` ``= 6.0``,
  i.e. the span of +-3 standard deviations (the same window that maps climate
  frames onto LPIPS' ``[-1, 1]`` input).

MSE on normalised data is what the paper reports (Table 5, x1e-3); the
physical-unit MSE of channel ``c`` with normalisation std ``s_c`` is
``s_c**2 * MSE_norm[c]`` (:func:`mse_to_physical`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "ZSCORE_DATA_RANGE",
    "check_frames",
    "mse_per_frame",
    "psnr_from_mse",
    "psnr_per_frame",
    "ssim_per_frame",
    "mse_to_physical",
    "gaussian_window",
]

ZSCORE_DATA_RANGE: float = 6.0
"""Data range used for PSNR/SSIM on z-score normalised climate fields (+-3 sigma)."""


def check_frames(pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Validate a prediction/target pair and return both as float ``[B, K, C, H, W]``.

    ``[B, C, H, W]`` (one frame per sample) is accepted and given ``K = 1``.
    Raises ``ValueError`` naming the argument when shapes are wrong or differ.
    """
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError(
            f"pred and target must be torch tensors, got {type(pred).__name__} and "
            f"{type(target).__name__}"
        )
    if pred.shape != target.shape:
        raise ValueError(
            f"pred shape {tuple(pred.shape)} differs from target shape {tuple(target.shape)}"
        )
    if pred.dim() == 4:
        pred, target = pred.unsqueeze(1), target.unsqueeze(1)
    if pred.dim() != 5:
        raise ValueError(
            f"pred/target must be [B, K, C, H, W] (or [B, C, H, W]), got shape {tuple(pred.shape)}"
        )
    dtype = torch.float64 if pred.dtype == torch.float64 else torch.float32
    return pred.to(dtype), target.to(dtype)


def mse_per_frame(pred: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over pixels: ``[B, K, C, H, W] -> [B, K, C]`` (units of the data squared)."""
    pred, target = check_frames(pred, target)
    return (pred - target).pow(2).mean(dim=(-2, -1))


def psnr_from_mse(mse: Tensor, data_range: float) -> Tensor:
    """PSNR in dB, ``10 log10(L**2 / MSE)``; ``+inf`` where ``MSE == 0`` (identical frames)."""
    _check_range(data_range)
    mse = torch.as_tensor(mse)
    return 10.0 * torch.log10(data_range**2 / mse)


def psnr_per_frame(pred: Tensor, target: Tensor, data_range: float) -> Tensor:
    """PSNR of each frame over all its channels and pixels: ``[B, K, C, H, W] -> [B, K]`` dB.

    This is the usual video-prediction convention (one PSNR per frame, then
    averaged over frames). Identical frames give ``+inf``.
    """
    return psnr_from_mse(mse_per_frame(pred, target).mean(dim=-1), data_range)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype: torch.dtype = torch.float32) -> Tensor:
    """Normalised 1-D Gaussian window of ``size`` taps (sums to 1)."""
    if size < 1 or size % 2 == 0:
        raise ValueError(f"window size must be a positive odd integer, got {size}")
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2.0
    g = torch.exp(-(x**2) / (2.0 * sigma**2))
    return (g / g.sum()).to(dtype)


def ssim_per_frame(
    pred: Tensor,
    target: Tensor,
    data_range: float,
    window_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    """Structural similarity (Wang et al. 2004) per frame and channel: ``-> [B, K, C]``.

    Local means, variances and covariance are taken with a Gaussian window
    (11 taps, sigma 1.5) applied as a separable 'valid' convolution, as in the
    reference implementation; the SSIM map is averaged over the valid area.
    ``C1 = (k1 L)^2``, ``C2 = (k2 L)^2`` with ``L = data_range``. Identical
    frames give exactly 1. Frames must be at least ``window_size`` pixels on
    each side.
    """
    _check_range(data_range)
    pred, target = check_frames(pred, target)
    b, k, c, h, w = pred.shape
    if h < window_size or w < window_size:
        raise ValueError(
            f"SSIM needs frames of at least {window_size}x{window_size} pixels, got {h}x{w}"
        )
    x = pred.reshape(b * k * c, 1, h, w)
    y = target.reshape(b * k * c, 1, h, w)
    g = gaussian_window(window_size, sigma, dtype=x.dtype).to(x.device)
    gh, gw = g.view(1, 1, 1, -1), g.view(1, 1, -1, 1)

    def filt(z: Tensor) -> Tensor:
        return F.conv2d(F.conv2d(z, gh), gw)

    # (co)variances are shift-invariant: take them from data centred on a common
    # per-image offset, which avoids float32 cancellation in E[x^2] - E[x]^2
    offset = 0.5 * (x.mean(dim=(-2, -1), keepdim=True) + y.mean(dim=(-2, -1), keepdim=True))
    xc, yc = x - offset, y - offset
    mxc, myc = filt(xc), filt(yc)
    mu_x, mu_y = mxc + offset, myc + offset
    sxx = filt(xc * xc) - mxc**2
    syy = filt(yc * yc) - myc**2
    sxy = filt(xc * yc) - mxc * myc
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (sxx + syy + c2)
    return (num / den).mean(dim=(-2, -1)).reshape(b, k, c)


def mse_to_physical(mse_norm: Tensor, channel_std: Sequence[float] | Tensor) -> Tensor:
    """Convert normalised MSE ``[..., C]`` to physical units: ``std_c**2 * mse_norm[..., c]``.

    With z-score normalisation ``x_n = (x - mean_c) / std_c`` the mean cancels
    in a difference, so e.g. PSL with ``std`` in Pa gives MSE in Pa^2.
    """
    std = torch.as_tensor(channel_std, dtype=torch.float64)
    mse_norm = torch.as_tensor(mse_norm)
    if std.dim() != 1 or std.shape[0] != mse_norm.shape[-1]:
        raise ValueError(
            f"channel_std must have one value per channel ({mse_norm.shape[-1]}), "
            f"got shape {tuple(std.shape)}"
        )
    if not torch.all(torch.isfinite(std)) or torch.any(std <= 0):
        raise ValueError(f"channel_std must be finite and positive, got {std.tolist()}")
    return mse_norm.to(torch.float64) * std.to(mse_norm.device) ** 2


def _check_range(data_range: float) -> None:
    if not (isinstance(data_range, int | float) and math.isfinite(data_range) and data_range > 0):
        raise ValueError(f"data_range must be a positive finite number, got {data_range!r}")
