"""Frame preprocessing and augmentation on ``[T, C, H, W]`` tensors (no torchvision).

The same transform is applied to every frame of a clip, so motion is kept.
Paper (Park et al. 2021, Sec. 4.1): centre crop and resize to 128 x 128;
training augmentation = horizontal flip and a random rotation in [-10, 10]
degrees.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from hurricane_ode.errors import InputError

__all__ = ["center_crop", "resize", "center_crop_resize", "hflip", "rotate", "augment_frames"]


def _check(frames: Tensor, name: str = "frames") -> None:
    if frames.dim() != 4 or not torch.is_floating_point(frames):
        raise InputError(f"{name} must be a float tensor [T, C, H, W], got {tuple(frames.shape)} {frames.dtype}")


def center_crop(frames: Tensor, size: tuple[int, int]) -> Tensor:
    """Central ``size = (h, w)`` window of ``[T, C, H, W]`` frames (h <= H, w <= W)."""
    _check(frames)
    h, w = size
    H, W = frames.shape[-2:]
    if h > H or w > W or h < 1 or w < 1:
        raise InputError(f"center_crop: crop {size} does not fit frames of size {(H, W)}")
    top, left = (H - h) // 2, (W - w) // 2
    return frames[..., top : top + h, left : left + w]


def resize(frames: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinear resize of ``[T, C, H, W]`` to ``size = (h, w)``, anti-aliased when shrinking."""
    _check(frames)
    if tuple(frames.shape[-2:]) == tuple(size):
        return frames
    out = F.interpolate(frames, size=tuple(size), mode="bilinear", align_corners=False, antialias=True)
    return out.clamp_(0.0, 1.0) if frames.min() >= 0 and frames.max() <= 1 else out


def center_crop_resize(frames: Tensor, size: tuple[int, int]) -> Tensor:
    """Crop the largest central window with the aspect ratio of ``size``, then resize to ``size``.

    For a square ``size`` this is the paper's centre crop (e.g. 160x120 KTH -> 120x120 -> 128x128).
    """
    _check(frames)
    h, w = size
    if h < 1 or w < 1:
        raise InputError(f"center_crop_resize: size must be positive, got {size}")
    H, W = frames.shape[-2:]
    if H * w > W * h:  # too tall for the target aspect
        crop = (max(1, round(W * h / w)), W)
    else:
        crop = (H, max(1, round(H * w / h)))
    return resize(center_crop(frames, crop), size)


def hflip(frames: Tensor) -> Tensor:
    """Mirror left-right (last axis)."""
    return frames.flip(-1)


def rotate(frames: Tensor, degrees: float, padding_mode: str = "border") -> Tensor:
    """Rotate every frame by ``degrees`` about the frame centre.

    Bilinear ``grid_sample``; ``padding_mode`` fills the corners (``border``
    repeats the edge, ``zeros`` paints black). Shape is kept.
    """
    _check(frames)
    T, _, H, W = frames.shape
    a = math.radians(degrees)
    cos, sin = math.cos(a), math.sin(a)
    # affine_grid works in normalised [-1, 1] coordinates; correct for the aspect ratio.
    theta = torch.tensor(
        [[cos, -sin * H / W, 0.0], [sin * W / H, cos, 0.0]], dtype=frames.dtype, device=frames.device
    )
    grid = F.affine_grid(theta.expand(T, 2, 3), list(frames.shape), align_corners=False)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)


def augment_frames(
    frames: Tensor,
    generator: torch.Generator,
    flip_prob: float = 0.5,
    max_degrees: float = 10.0,
) -> Tensor:
    """Paper augmentation: random horizontal flip, then a rotation drawn from [-max_degrees, max_degrees].

    One draw per call, applied to all ``T`` frames alike. ``generator`` makes it reproducible.
    """
    _check(frames)
    flip = bool(torch.rand((), generator=generator) < flip_prob)
    angle = float((torch.rand((), generator=generator) * 2.0 - 1.0) * max_degrees)
    if flip:
        frames = hflip(frames)
    if max_degrees > 0 and angle != 0.0:
        frames = rotate(frames, angle)
    return frames
