"""Advection: semi-Lagrangian extrapolation of the last frame along an estimated motion field.

Not in the Vid-ODE paper; the classic nowcasting reference (as in radar nowcasting,
e.g. pySTEPS' ``extrapolation.semilagrangian``). No trainable parameters
(``trainable = False``).

Method
------
1. Motion from the last two observed frames ``X_a`` (time ``t_a``) and ``X_b``
   (``t_b``), all channels together:

   * global translation by **phase correlation**: per-channel mean removed, Hann
     window, normalised cross-power spectrum summed over channels, peak of its
     inverse FFT refined to sub-pixel accuracy with a parabola per axis;
   * local correction by **Lucas–Kanade** on the residual after removing the
     global shift: gradients of the mean of the two frames, structure tensor
     smoothed by a Gaussian window (sigma = max(H, W) / 8 pixels), Tikhonov
     regularised 2x2 solve; the correction is clipped to +-2 pixels, the range where
     the linearisation holds.

   The motion ``u`` (pixels per ``t_b - t_a``) is turned into a velocity
   ``v = u / (t_b - t_a)``. With a single observed frame, or a zero gap, ``v = 0``
   (the forecast is persistence).
2. Advection of ``X_b`` to each query time ``s`` (lead ``L = s - t_b``, any sign):
   backward trajectories ``x <- x - v(x) * L / n`` in ``n`` sub-steps of at most one
   pixel, ``v`` sampled bilinearly along the way; the forecast is ``X_b`` sampled
   bilinearly at the departure points (border values outside the domain).

``advection_lk`` replaces step 1 by :func:`hurricane_ode.models.motion.pyramid_motion`
(coarse-to-fine Lucas-Kanade in fixed-size windows): several storms moving their own ways
in one basin are followed separately, where one global shift cannot.

Everything is batched (per-sample time grids included); time units cancel, so
``time_scale`` is not needed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from hurricane_ode.config import ModelConfig
from hurricane_ode.errors import ConfigError
from hurricane_ode.models.base import ModelInputs, ModelOutput, ParameterFreeModel, register_model
from hurricane_ode.models.baselines._encoders import gather_frames, last_observed_index, warp
from hurricane_ode.models.motion import WARP_INTERPOLATIONS, gaussian_blur, pyramid_motion

__all__ = ["Advection", "phase_correlation", "estimate_motion", "semi_lagrangian"]


def _parabolic_offset(left: Tensor, centre: Tensor, right: Tensor) -> Tensor:
    """Sub-pixel peak offset in (-0.5, 0.5) from three samples around a maximum."""
    denom = left - 2 * centre + right
    off = 0.5 * (left - right) / torch.where(denom.abs() > 1e-12, denom, torch.ones_like(denom))
    return torch.where(denom.abs() > 1e-12, off, torch.zeros_like(off)).clamp(-0.5, 0.5)


def phase_correlation(a: Tensor, b: Tensor) -> Tensor:
    """Global shift ``s`` (pixels, ``[B, 2]`` as (x, y)) with ``b(x) ≈ a(x - s)``; a, b ``[B, C, H, W]``."""
    bsz, _, h, w = a.shape
    win = torch.outer(torch.hann_window(h, periodic=False, dtype=a.dtype, device=a.device),
                      torch.hann_window(w, periodic=False, dtype=a.dtype, device=a.device))
    fa = torch.fft.fft2((a - a.mean(dim=(-2, -1), keepdim=True)) * win)
    fb = torch.fft.fft2((b - b.mean(dim=(-2, -1), keepdim=True)) * win)
    cross = (fb * fa.conj()).sum(dim=1)
    corr = torch.fft.ifft2(cross / (cross.abs() + 1e-12)).real  # [B, H, W]
    peak = corr.flatten(1).argmax(dim=1)
    py, px = peak // w, peak % w
    rows = torch.arange(bsz, device=a.device)
    c0 = corr[rows, py, px]
    dy = _parabolic_offset(corr[rows, (py - 1) % h, px], c0, corr[rows, (py + 1) % h, px])
    dx = _parabolic_offset(corr[rows, py, (px - 1) % w], c0, corr[rows, py, (px + 1) % w])
    sy = torch.where(py > h // 2, py - h, py).to(a.dtype) + dy
    sx = torch.where(px > w // 2, px - w, px).to(a.dtype) + dx
    return torch.stack([sx, sy], dim=1)


def _lucas_kanade(a: Tensor, b: Tensor, sigma: float, max_disp: float = 2.0) -> Tensor:
    """Dense small motion ``u`` ``[B, 2, H, W]`` (pixels) with ``b(x + u) ≈ a(x)``."""
    mean = 0.5 * (a + b)
    ix = 0.5 * (F.pad(mean, (0, 1, 0, 0), mode="replicate")[..., 1:] - F.pad(mean, (1, 0, 0, 0), mode="replicate")[..., :-1])
    iy = 0.5 * (F.pad(mean, (0, 0, 0, 1), mode="replicate")[..., 1:, :] - F.pad(mean, (0, 0, 1, 0), mode="replicate")[..., :-1, :])
    it = b - a
    terms = torch.stack([ix * ix, ix * iy, iy * iy, ix * it, iy * it], dim=1).sum(dim=2)  # [B, 5, H, W]
    sxx, sxy, syy, sxt, syt = gaussian_blur(terms, sigma).unbind(dim=1)
    reg = 1e-2 * (sxx + syy).flatten(1).mean(dim=1).view(-1, 1, 1) + 1e-12
    sxx, syy = sxx + reg, syy + reg
    det = sxx * syy - sxy * sxy
    ux = -(syy * sxt - sxy * syt) / det
    uy = -(sxx * syt - sxy * sxt) / det
    return torch.stack([ux, uy], dim=1).clamp(-max_disp, max_disp)


def estimate_motion(a: Tensor, b: Tensor, local: bool = True) -> Tensor:
    """Motion field ``[B, 2, H, W]`` (pixels from ``a`` to ``b``, (x, y)): phase correlation + Lucas–Kanade."""
    shift = phase_correlation(a, b)  # [B, 2]
    flow = shift[:, :, None, None].expand(-1, -1, *a.shape[-2:])
    if local:
        a_moved = warp(a, -flow)  # a shifted by the global motion
        flow = flow + _lucas_kanade(a_moved, b, sigma=max(a.shape[-2:]) / 8.0)
    return flow


def semi_lagrangian(frame: Tensor, velocity: Tensor, lead: Tensor, interpolation: str = "bilinear") -> Tensor:
    """Advect ``frame`` ``[N, C, H, W]`` by ``velocity`` ``[N, 2, H, W]`` (pixels / time) for ``lead`` ``[N]``.

    The velocity is sampled bilinearly along the trajectories; ``interpolation`` is how the
    frame is sampled at the departure points (:func:`~hurricane_ode.models.motion.warp`).
    """
    disp = (velocity * lead.view(-1, 1, 1, 1)).detach().abs().flatten(1)
    # sub-steps per sample (so a sample's result does not depend on its batch)
    n_sub = torch.ceil(disp.max(dim=1).values).clamp(min=1) if disp.shape[1] else torch.ones_like(lead)
    frac = (lead / n_sub).view(-1, 1, 1, 1)
    offset = torch.zeros_like(velocity)  # departure point = x + offset
    for i in range(int(n_sub.max()) if n_sub.numel() else 0):
        active = (i < n_sub).view(-1, 1, 1, 1)
        offset = torch.where(active, offset - warp(velocity, offset) * frac, offset)
    return warp(frame, offset, interpolation)


@register_model("advection")
class Advection(ParameterFreeModel):
    """Semi-Lagrangian extrapolation of the last observed frame (see module docstring).

    Parameters
    ----------
    in_channels
        Channels per frame; batches are checked against it. All channels drive the motion
        estimate together.
    local
        ``global`` motion only: add local Lucas-Kanade corrections to the phase-correlation
        shift (False: one rigid shift per sample).
    motion
        ``global`` (phase correlation, then local windows) or ``pyramid`` (coarse-to-fine
        Lucas-Kanade, registered as ``advection_lk``).
    interpolation
        How the last frame is sampled at the departure points: ``bilinear`` or ``bicubic``
        (``ModelConfig.warp_interpolation``; registered as ``advection_lk_bicubic``).
    """

    model_name = "advection"

    def __init__(
        self, in_channels: int = 3, local: bool = True, motion: str = "global", interpolation: str = "bilinear"
    ) -> None:
        name = "advection_lk" if motion == "pyramid" else "advection"
        super().__init__(in_channels, name=name if interpolation == "bilinear" else f"{name}_{interpolation}")
        if motion not in ("global", "pyramid"):
            raise ConfigError(f"Advection: motion must be 'global' or 'pyramid', got {motion!r}")
        if interpolation not in WARP_INTERPOLATIONS:
            raise ConfigError(f"Advection: interpolation must be one of {WARP_INTERPOLATIONS}, got {interpolation!r}")
        self.interpolation = interpolation
        self.local = local
        self.motion = motion

    def predict(self, x: ModelInputs) -> ModelOutput:
        """inputs ``[B, T, C, H, W]``, times ``[B, T]`` / ``[B, K]`` -> frames ``[B, K, C, H, W]``."""
        inputs, input_times, query_times, mask = x.inputs, x.input_times, x.query_times, x.mask
        b, k = query_times.shape
        i_b = last_observed_index(mask)
        pos = torch.arange(mask.shape[1], device=mask.device)
        i_a = last_observed_index(mask, before=pos[None, :] < i_b[:, None])
        has_pair = i_a >= 0
        i_a = torch.where(has_pair, i_a, i_b)
        rows = torch.arange(b, device=inputs.device)
        x_a, x_b = gather_frames(inputs, i_a), gather_frames(inputs, i_b)
        t_b = input_times[rows, i_b].to(inputs.dtype)
        gap = t_b - input_times[rows, i_a].to(inputs.dtype)
        ok = has_pair & (gap != 0)
        with torch.no_grad():
            if self.motion == "pyramid":
                motion = pyramid_motion(x_a, x_b).to(inputs.dtype)
            else:
                motion = estimate_motion(x_a, x_b, local=self.local)
            velocity = motion / torch.where(ok, gap, torch.ones_like(gap)).view(b, 1, 1, 1)
            velocity = torch.where(ok.view(b, 1, 1, 1), velocity, torch.zeros_like(velocity))
            lead = query_times.to(inputs.dtype) - t_b[:, None]  # [B, K]
            frames = semi_lagrangian(
                x_b.repeat_interleave(k, dim=0), velocity.repeat_interleave(k, dim=0), lead.reshape(-1),
                self.interpolation,
            )
        return ModelOutput(frames=frames.unflatten(0, (b, k)))


def build_advection(config: ModelConfig) -> Advection:
    """Factory for :class:`Advection` (phase correlation + Lucas–Kanade motion)."""
    return Advection(in_channels=config.in_channels)


@register_model("advection_lk")
def build_advection_lk(config: ModelConfig) -> Advection:
    """Factory for :class:`Advection` with pyramidal Lucas-Kanade motion (local windows, no global
    phase correlation): the motion estimate Vid-ODE's ``flow_prior = "advection"`` starts from."""
    return Advection(in_channels=config.in_channels, motion="pyramid")


@register_model("advection_lk_bicubic")
def build_advection_lk_bicubic(config: ModelConfig) -> Advection:
    """``advection_lk`` sampling the last frame by cubic convolution instead of bilinearly (ours):
    the same motion, less smoothing of narrow vortices at sub-pixel departure points."""
    return Advection(in_channels=config.in_channels, motion="pyramid", interpolation="bicubic")
