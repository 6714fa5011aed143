"""Local motion estimation for Vid-ODE's optional flow prior: pyramidal Lucas-Kanade.

Vid-ODE's decoder warps the previous frame with a flow that G predicts from the latent
state. With ``ModelConfig.flow_prior = "advection"`` (ours, not the paper's) G predicts a
*correction* to a classical motion estimate, so that an untrained decoder already performs
semi-Lagrangian advection and training can only add to it: advection is the floor, not
the ceiling.

Everything here is local (windows of a fixed number of pixels, no global FFT), so the
prior seen on a 64x64 training crop and on a whole 120x320 basin is the same field where
they overlap: the model is trained on crops and run on basins.

Conventions: frames ``[B, C, H, W]``; a motion ``u`` ``[B, 2, H, W]`` (x, y) in pixels
with ``b(x + u) ~ a(x)`` (features move by ``+u`` from ``a`` to ``b``); ``warp(img, f)``
samples ``img`` at ``x + f``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["WARP_INTERPOLATIONS", "warp", "gaussian_blur", "pyramid_motion", "advection_velocity", "advection_offset", "advection_offsets"]


WARP_INTERPOLATIONS = ("bilinear", "bicubic")


def warp(image: Tensor, flow: Tensor, interpolation: str = "bilinear") -> Tensor:
    """Backward warp: ``out[y, x] = image[y + flow_y, x + flow_x]`` with border padding.

    ``image`` ``[B, C, H, W]``, ``flow`` ``[B, 2, H, W]`` in pixels (channel 0 = x,
    1 = y). ``bilinear`` is ``grid_sample(..., align_corners=True, padding_mode="border")``;
    ``bicubic`` is Keys' cubic convolution (a = -0.5, 4 x 4 taps, the clamped border), which
    interpolates the same samples but keeps more of a one-to-two-pixel peak at a sub-pixel
    shift (bilinear's half-pixel shift averages the peak with its neighbour). Both are
    computed in pixel coordinates, so zero flow returns ``image`` bit for bit, and both are
    differentiable in ``image`` and ``flow``.
    """
    b, c, h, w = image.shape
    if flow.shape != (b, 2, h, w):
        raise ValueError(f"warp: flow must be {(b, 2, h, w)}, got {tuple(flow.shape)}")
    if interpolation not in WARP_INTERPOLATIONS:
        raise ValueError(f"warp: interpolation must be one of {WARP_INTERPOLATIONS}, got {interpolation!r}")
    coords = torch.float64 if flow.dtype == torch.float64 else torch.float32  # bf16 can't index pixels
    flow = flow.to(coords)
    ys = torch.arange(h, device=image.device, dtype=coords).view(1, h, 1)
    xs = torch.arange(w, device=image.device, dtype=coords).view(1, 1, w)
    px = (xs + flow[:, 0]).clamp(0, w - 1)
    py = (ys + flow[:, 1]).clamp(0, h - 1)
    x0 = px.detach().floor()
    y0 = py.detach().floor()
    tx = (px - x0).unsqueeze(1).to(image.dtype)
    ty = (py - y0).unsqueeze(1).to(image.dtype)
    x0 = x0.long()
    y0 = y0.long()
    flat = image.reshape(b, c, h * w)

    def gather(yy: Tensor, xx: Tensor) -> Tensor:
        idx = (yy * w + xx).view(b, 1, h * w).expand(b, c, h * w)
        return flat.gather(2, idx).view(b, c, h, w)

    if interpolation == "bilinear":
        x1 = (x0 + 1).clamp(max=w - 1)
        y1 = (y0 + 1).clamp(max=h - 1)
        top = gather(y0, x0) * (1 - tx) + gather(y0, x1) * tx
        bottom = gather(y1, x0) * (1 - tx) + gather(y1, x1) * tx
        return top * (1 - ty) + bottom * ty
    wx, wy = _keys_weights(tx), _keys_weights(ty)
    cols = [(x0 + d).clamp(0, w - 1) for d in (-1, 0, 1, 2)]
    out = torch.zeros_like(image)
    for j, dy in enumerate((-1, 0, 1, 2)):
        yy = (y0 + dy).clamp(0, h - 1)
        row = sum(gather(yy, xx) * wx[i] for i, xx in enumerate(cols))
        out = out + row * wy[j]
    return out


def _keys_weights(t: Tensor, a: float = -0.5) -> list[Tensor]:
    """Keys' cubic-convolution weights of the taps at -1, 0, 1, 2 for fractions ``t`` in [0, 1)."""
    s = 1 - t
    w1 = ((a + 2) * t - (a + 3)) * t * t + 1
    w2 = ((a + 2) * s - (a + 3)) * s * s + 1
    w0 = ((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a
    return [w0, w1, w2, 1 - w0 - w1 - w2]


def _warp(image: Tensor, flow: Tensor) -> Tensor:
    return warp(image, flow)


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of ``[B, C, H, W]`` (replicate padding); ``sigma`` in pixels."""
    radius = max(1, int(math.ceil(3 * sigma)))
    k = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device) / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="replicate"), k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="replicate"), k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def _lk_step(a: Tensor, b: Tensor, sigma: float, max_disp: float) -> Tensor:
    """One Lucas-Kanade solve: small motion ``[B, 2, H, W]`` with ``b(x + u) ~ a(x)``."""
    mean = 0.5 * (a + b)
    ix = 0.5 * (F.pad(mean, (0, 1, 0, 0), mode="replicate")[..., 1:] - F.pad(mean, (1, 0, 0, 0), mode="replicate")[..., :-1])
    iy = 0.5 * (F.pad(mean, (0, 0, 0, 1), mode="replicate")[..., 1:, :] - F.pad(mean, (0, 0, 1, 0), mode="replicate")[..., :-1, :])
    it = b - a
    terms = torch.stack([ix * ix, ix * iy, iy * iy, ix * it, iy * it], dim=1).sum(dim=2)
    sxx, sxy, syy, sxt, syt = gaussian_blur(terms, sigma).unbind(dim=1)
    # Tikhonov term: a fixed fraction of a locally smoothed gradient energy (no global mean,
    # so the result does not depend on the image size)
    reg = 1e-2 * gaussian_blur((sxx + syy).unsqueeze(1), 4 * sigma).squeeze(1) + 1e-6
    sxx, syy = sxx + reg, syy + reg
    det = sxx * syy - sxy * sxy
    ux = -(syy * sxt - sxy * syt) / det
    uy = -(sxx * syt - sxy * sxt) / det
    return torch.stack([ux, uy], dim=1).clamp(-max_disp, max_disp)


def pyramid_motion(
    a: Tensor, b: Tensor, levels: int = 3, sigma: float = 3.0, iterations: int = 2, max_disp: float = 1.5
) -> Tensor:
    """Motion from ``a`` to ``b`` (both ``[B, C, H, W]``) by coarse-to-fine Lucas-Kanade.

    Parameters
    ----------
    a, b
        Frames at two times; all channels are used together.
    levels
        Pyramid levels (each halves the resolution); reach ~ ``max_disp * 2**levels`` pixels.
    sigma
        Gaussian window of the local least-squares fit, in pixels of each level.
    iterations
        Warp-and-refine passes per level.
    max_disp
        Largest update per pass, in pixels of that level (the linearisation's range).

    Returns
    -------
    Tensor
        ``[B, 2, H, W]`` (x, y) pixels, ``b(x + u) ~ a(x)``; no gradient.
    """
    with torch.no_grad():
        a, b = a.float(), b.float()
        pa, pb = [a], [b]
        for _ in range(levels - 1):
            if min(pa[-1].shape[-2:]) < 8:
                break
            pa.append(F.avg_pool2d(pa[-1], 2, ceil_mode=True))
            pb.append(F.avg_pool2d(pb[-1], 2, ceil_mode=True))
        flow = a.new_zeros(a.shape[0], 2, *pa[-1].shape[-2:])
        for la, lb in zip(reversed(pa), reversed(pb), strict=True):
            h, w = la.shape[-2:]
            if flow.shape[-2:] != (h, w):
                sy, sx = h / flow.shape[-2], w / flow.shape[-1]
                flow = F.interpolate(flow, size=(h, w), mode="bilinear", align_corners=False)
                flow = flow * torch.tensor([sx, sy], dtype=flow.dtype, device=flow.device).view(1, 2, 1, 1)
            for _ in range(iterations):
                flow = flow + _lk_step(_warp(la, -flow), lb, sigma, max_disp)
        return gaussian_blur(flow, sigma)


def _last_two_observed(mask: Tensor) -> tuple[Tensor, Tensor]:
    """Indices ``[B]`` of the last and second-to-last observed inputs (-1 where absent)."""
    t = mask.shape[1]
    pos = torch.arange(t, device=mask.device).expand_as(mask)
    last = torch.where(mask, pos, torch.full_like(pos, -1)).max(dim=1).values
    prev = torch.where(mask & (pos < last[:, None]), pos, torch.full_like(pos, -1)).max(dim=1).values
    return last, prev


def advection_velocity(
    inputs: Tensor, input_times: Tensor, mask: Tensor, max_speed: float | None = None, **motion_kwargs: Any
) -> Tensor:
    """Velocity ``[B, 2, H, W]`` in pixels per clip-time unit from the last two observed inputs.

    inputs ``[B, T, C, H, W]``, input_times ``[B, T]``, mask ``[B, T]`` bool. A sample with one
    observed input (or a zero gap) gets zero velocity (persistence). ``max_speed`` caps the
    speed (pixels per clip-time unit): a noisy estimate over a short gap must not carry a
    frame across the basin.
    """
    last, prev = _last_two_observed(mask)
    rows = torch.arange(inputs.shape[0], device=inputs.device)
    ok = prev >= 0
    prev = torch.where(ok, prev, last)
    gap = (input_times[rows, last] - input_times[rows, prev]).to(torch.float32)
    ok = ok & (gap != 0)
    motion = pyramid_motion(inputs[rows, prev], inputs[rows, last], **motion_kwargs)
    gap = torch.where(ok, gap, torch.ones_like(gap)).view(-1, 1, 1, 1)
    velocity = torch.where(ok.view(-1, 1, 1, 1), motion / gap, torch.zeros_like(motion))
    if max_speed is not None:
        speed = velocity.norm(dim=1, keepdim=True)
        velocity = velocity * (max_speed / speed.clamp(min=max_speed))
    return velocity


def advection_offset(velocity: Tensor, lead: Tensor, max_substep: float = 1.0) -> Tensor:
    """Semi-Lagrangian departure offset ``[B, 2, H, W]`` for ``lead`` ``[B]`` (clip-time units).

    ``warp(frame, offset)`` is ``frame`` carried along ``velocity`` for ``lead``: backward
    trajectories in sub-steps of at most ``max_substep`` pixels, the velocity sampled along
    the way. No gradient (the prior is a fixed input to the learned correction).
    """
    return advection_offsets(velocity, lead[:, None], max_substep)[:, 0]


def advection_offsets(velocity: Tensor, leads: Tensor, max_substep: float = 1.0) -> Tensor:
    """Departure offsets ``[B, K, 2, H, W]`` for ascending ``leads`` ``[B, K]`` along one trajectory.

    The backward trajectory from each pixel is one path: the offset for lead ``L_k`` continues
    the path of ``L_{k-1}``, so K leads cost about as many velocity samples as the longest
    one. Leads may be negative (backward in time) as long as each sample's are monotone.
    """
    with torch.no_grad():
        b, k = leads.shape
        speed = velocity.abs().flatten(1).max(dim=1).values  # [B] pixels per time unit
        offset = torch.zeros_like(velocity)
        done = torch.zeros(b, dtype=velocity.dtype, device=velocity.device)
        out = []
        for j in range(k):
            step = leads[:, j].to(velocity.dtype) - done
            n_sub = torch.ceil((speed * step.abs()) / max_substep).clamp(min=1)
            frac = (step / n_sub).view(-1, 1, 1, 1)
            for i in range(int(n_sub.max().item())):
                active = (i < n_sub).view(-1, 1, 1, 1)
                offset = torch.where(active, offset - _warp(velocity, offset) * frac, offset)
            done = leads[:, j].to(velocity.dtype)
            out.append(offset)
        return torch.stack(out, dim=1)
