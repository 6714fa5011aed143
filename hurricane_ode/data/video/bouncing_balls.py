"""Bouncing balls: the paper's synthetic non-linear-motion video (3 balls, 32 x 32).

Balls move at constant speed between collisions, bounce elastically off the
walls and (optionally) off each other (equal masses: the velocity components
along the line of centres are exchanged). Frames are rendered as soft
(anti-aliased) discs with values in [0, 1] on a black background:

- ``channels=1`` (default, as in the paper): grey, overlapping balls take the maximum;
- ``channels=3``: each ball has its own colour (red, green, blue, then a fixed palette).

Positions are in pixels ``(y, x)``; one frame = one time unit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from hurricane_ode.errors import InputError

__all__ = ["simulate_bouncing_balls", "render_balls", "bouncing_balls_video", "BALL_COLORS"]

BALL_COLORS = np.array(
    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1], [1, 0.5, 0]],
    dtype=np.float32,
)
"""RGB colour of ball k (cycled) when rendering with three channels."""


def simulate_bouncing_balls(
    n_frames: int,
    rng: np.random.Generator,
    n_balls: int = 3,
    size: int = 32,
    radius: float | None = None,
    speed: float | None = None,
    collide: bool = True,
    substeps: int = 8,
) -> tuple[np.ndarray, float]:
    """Ball centres ``[n_frames, n_balls, 2]`` (pixels, ``(y, x)``) and the radius used.

    ``radius`` defaults to ``size / 10``; ``speed`` (pixels per frame) to
    ``size / 16``, so a ball crosses the frame in about 16 frames and bounces
    within a 20-frame clip. Centres stay in ``[radius, size - radius]``.
    """
    if n_frames < 1 or n_balls < 1 or size < 4 or substeps < 1:
        raise InputError(
            f"simulate_bouncing_balls: need n_frames >= 1, n_balls >= 1, size >= 4, substeps >= 1; "
            f"got n_frames={n_frames}, n_balls={n_balls}, size={size}, substeps={substeps}"
        )
    r = float(size / 10.0 if radius is None else radius)
    v0 = float(size / 16.0 if speed is None else speed)
    lo, hi = r, size - r
    if hi <= lo:
        raise InputError(f"simulate_bouncing_balls: radius {r} too large for a {size}-pixel frame")
    # Non-overlapping start (with a one-pixel gap) by rejection sampling.
    pos = np.zeros((n_balls, 2))
    for k in range(n_balls):
        for _ in range(10_000):
            p = rng.uniform(lo, hi, size=2)
            if k == 0 or np.min(np.linalg.norm(pos[:k] - p, axis=1)) > 2 * r + 1:
                pos[k] = p
                break
        else:
            raise InputError(f"simulate_bouncing_balls: cannot place {n_balls} balls of radius {r} in {size}x{size}")
    angle = rng.uniform(0, 2 * np.pi, size=n_balls)
    vel = v0 * np.stack([np.sin(angle), np.cos(angle)], axis=1)
    out = np.empty((n_frames, n_balls, 2))
    out[0] = pos
    dt = 1.0 / substeps
    for t in range(1, n_frames):
        for _ in range(substeps):
            pos = pos + vel * dt
            if collide and n_balls > 1:
                pos, vel = _collide(pos, vel, r)
            # Elastic walls: mirror the overshoot and flip the velocity component.
            below, above = pos < lo, pos > hi
            pos = np.where(below, 2 * lo - pos, np.where(above, 2 * hi - pos, pos))
            vel = np.where(below | above, -vel, vel)
            pos = np.clip(pos, lo, hi)
        out[t] = pos
    return out, r


def _collide(pos: np.ndarray, vel: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    """Resolve ball-ball contacts: exchange normal velocity components, separate overlaps."""
    n = pos.shape[0]
    for i in range(n):
        for j in range(i + 1, n):
            d = pos[j] - pos[i]
            dist = float(np.hypot(*d))
            if dist >= 2 * r or dist == 0.0:
                continue
            normal = d / dist
            approach = float(np.dot(vel[j] - vel[i], normal))
            if approach < 0:
                vel[i] = vel[i] + approach * normal
                vel[j] = vel[j] - approach * normal
            shift = 0.5 * (2 * r - dist) * normal
            pos[i] = pos[i] - shift
            pos[j] = pos[j] + shift
    return pos, vel


def render_balls(positions: np.ndarray, radius: float, size: int = 32, channels: int = 1) -> Tensor:
    """Render centres ``[T, N, 2]`` as soft discs -> ``float32 [T, channels, size, size]`` in [0, 1].

    A pixel's intensity is ``clip(radius + 0.5 - distance, 0, 1)`` (a one-pixel anti-aliased rim).
    """
    if channels not in (1, 3):
        raise InputError(f"render_balls: channels must be 1 (grey) or 3 (RGB), got {channels}")
    pos = np.asarray(positions, dtype=np.float64)
    if pos.ndim != 3 or pos.shape[-1] != 2:
        raise InputError(f"render_balls: positions must be [T, N, 2], got {pos.shape}")
    centres = np.arange(size) + 0.5  # pixel centres
    dy = centres[None, None, :, None] - pos[:, :, 0, None, None]
    dx = centres[None, None, None, :] - pos[:, :, 1, None, None]
    disc = np.clip(radius + 0.5 - np.sqrt(dy**2 + dx**2), 0.0, 1.0).astype(np.float32)  # [T, N, H, W]
    if channels == 1:
        img = disc.max(axis=1, keepdims=True)
    else:
        colors = BALL_COLORS[np.arange(pos.shape[1]) % len(BALL_COLORS)]  # [N, 3]
        img = (disc[:, :, None] * colors[None, :, :, None, None]).max(axis=1)
    return torch.from_numpy(np.ascontiguousarray(img))


def bouncing_balls_video(
    seed: int | np.random.SeedSequence,
    n_frames: int = 20,
    n_balls: int = 3,
    size: int = 32,
    channels: int = 1,
    collide: bool = True,
) -> tuple[Tensor, np.ndarray]:
    """One seeded video ``[n_frames, channels, size, size]`` and its ball centres ``[n_frames, n_balls, 2]``."""
    rng = np.random.default_rng(seed)
    positions, r = simulate_bouncing_balls(n_frames, rng, n_balls=n_balls, size=size, collide=collide)
    return render_balls(positions, r, size=size, channels=channels), positions
