"""Batch augmentations applied by the trainer (ours; the paper has none of these)."""

from __future__ import annotations

import dataclasses
import math

import torch

from hurricane_ode.data.clips import Clip

__all__ = ["stretch_times"]


def stretch_times(batch: Clip, max_factor: float, seed: int, step: int) -> Clip:
    """``batch`` with its input and target times multiplied by one factor ``s``.

    ``s`` is drawn log-uniformly from ``[1 / max_factor, max_factor]`` by a generator seeded with
    ``(seed, step)``, so a run is reproducible and a resumed run draws the same factors. The frames
    are unchanged: the motion they show reads ``1 / s`` times as fast. One factor for the whole
    batch keeps samples that shared a time grid on a shared grid. ``max_factor`` 1: unchanged.
    """
    if max_factor < 1:
        raise ValueError(f"stretch_times: max_factor must be >= 1, got {max_factor}")
    if max_factor == 1:
        return batch
    g = torch.Generator().manual_seed(int(seed) * 1_000_003 + int(step))
    u = float(torch.rand((), generator=g))
    s = math.exp((2 * u - 1) * math.log(max_factor))
    return dataclasses.replace(batch, input_times=batch.input_times * s, target_times=batch.target_times * s)
