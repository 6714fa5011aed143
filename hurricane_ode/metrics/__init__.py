"""Evaluation metrics on ``[B, K, C, H, W]`` frames: MSE (normalised and physical), PSNR, SSIM, LPIPS.

Torch only (no xarray). ``frame`` has the per-frame functions, ``accumulate`` the
mergeable :class:`MetricAccumulator`, ``lpips`` the LPIPS v0.1 / AlexNet metric
(needs local weight files: see :mod:`hurricane_ode.metrics.lpips`).
"""

from hurricane_ode.metrics.accumulate import MetricAccumulator
from hurricane_ode.metrics.frame import (
    ZSCORE_DATA_RANGE,
    mse_per_frame,
    mse_to_physical,
    psnr_from_mse,
    psnr_per_frame,
    ssim_per_frame,
)
from hurricane_ode.metrics.lpips import LPIPS, default_backbone_path

__all__ = [
    "LPIPS",
    "MetricAccumulator",
    "ZSCORE_DATA_RANGE",
    "default_backbone_path",
    "mse_per_frame",
    "mse_to_physical",
    "psnr_from_mse",
    "psnr_per_frame",
    "ssim_per_frame",
]
