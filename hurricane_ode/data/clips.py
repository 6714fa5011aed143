"""The clip: the one data currency between every source and every model.

A clip is a short video of any channels (U850/V850/PSL, RGB, ...) split into
input frames at (possibly irregular) times and target frames at the query
times. Nothing here knows what the channels mean.

Shapes (unbatched / batched)::

    inputs        [T_in, C, H, W]   / [B, T_in, C, H, W]   float32
    input_times   [T_in]            / [B, T_in]            float32, hours (or frame units) since clip origin
    input_mask    [T_in]            / [B, T_in]            bool, True = frame observed
    targets       [T_out, C, H, W]  / [B, T_out, C, H, W]
    target_times  [T_out]           / [B, T_out]
    target_mask   [T_out]           / [B, T_out]
    target_weights [T_out, H, W]    / [B, T_out, H, W]     float32 in [0, 1] or None: how near each
                                                           pixel is to a storm (optional; storm loss)

Times are relative to the clip origin ``t0`` (the paper's ``t_0 = 0``), which
is the first input time; ``input_times`` are strictly increasing among the
observed frames.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

import torch
from torch import Tensor

from hurricane_ode.errors import ModelInputError

__all__ = ["Clip", "collate_clips"]


@dataclass
class Clip:
    """Input and target frames with their times and masks; checked on construction.

    Parameters
    ----------
    inputs : Tensor
        ``[T_in, C, H, W]`` (or batched ``[B, T_in, C, H, W]``) float32 frames.
    input_times : Tensor
        ``[T_in]`` / ``[B, T_in]`` hours (or frame units) since the clip origin.
    input_mask : Tensor
        ``[T_in]`` / ``[B, T_in]`` bool, True where the frame is observed.
    targets : Tensor
        ``[T_out, C, H, W]`` / ``[B, T_out, C, H, W]`` frames at the query times.
    target_times : Tensor
        ``[T_out]`` / ``[B, T_out]`` query times, same units and origin as ``input_times``.
    target_mask : Tensor
        ``[T_out]`` / ``[B, T_out]`` bool, True where a target is scored.
    target_weights : Tensor or None
        ``[T_out, H, W]`` / ``[B, T_out, H, W]`` storm proximity of each target pixel (1 at a
        storm centre, falling off as a Gaussian; 0 far from storms), or None when the source
        knows no storms. Only the storm loss (``loss.lambda_storm``) reads it.
    target_motion : Tensor or None
        ``[T_out, 3, H, W]`` / ``[B, T_out, 3, H, W]``: the flow (x, y, pixels) that warps the
        reference frame onto each target near a storm (the storm's best-track displacement,
        negated) and its weight; None without storms. Only ``loss.lambda_storm_flow`` reads it.
    """

    inputs: Tensor
    input_times: Tensor
    input_mask: Tensor
    targets: Tensor
    target_times: Tensor
    target_mask: Tensor
    target_weights: Tensor | None = None
    target_motion: Tensor | None = None

    def __post_init__(self) -> None:
        self.validate()

    @property
    def batched(self) -> bool:
        return self.inputs.dim() == 5

    def validate(self) -> None:
        """Check the declared schema; raise ``ValueError`` naming the offending field."""
        frame_dim = 5 if self.inputs.dim() == 5 else 4
        if self.inputs.dim() not in (4, 5):
            raise ModelInputError(
                f"Clip.inputs must be [T, C, H, W] or [B, T, C, H, W], got shape {tuple(self.inputs.shape)}"
            )
        for name in ("targets",):
            x = getattr(self, name)
            if x.dim() != frame_dim or x.shape[frame_dim - 3 :] != self.inputs.shape[frame_dim - 3 :]:
                raise ModelInputError(
                    f"Clip.{name} must have shape [..., T_out, {', '.join(map(str, self.inputs.shape[-3:]))}] "
                    f"matching inputs {tuple(self.inputs.shape)}, got {tuple(x.shape)}"
                )
            if x.shape[: frame_dim - 4] != self.inputs.shape[: frame_dim - 4]:
                raise ModelInputError(f"Clip.{name} batch size differs from inputs")
        for frames, times, mask in (
            ("inputs", "input_times", "input_mask"),
            ("targets", "target_times", "target_mask"),
        ):
            expect = tuple(getattr(self, frames).shape[: frame_dim - 3])
            for name in (times, mask):
                got = tuple(getattr(self, name).shape)
                if got != expect:
                    raise ModelInputError(f"Clip.{name} must have shape {expect} (from {frames}), got {got}")
        w = self.target_weights
        if w is not None:
            expect = (*self.targets.shape[: frame_dim - 3], *self.targets.shape[-2:])
            if tuple(w.shape) != expect or not torch.is_floating_point(w):
                raise ModelInputError(
                    f"Clip.target_weights must be a float tensor of shape {expect} (targets without "
                    f"the channel axis), got {tuple(w.shape)} {w.dtype}"
                )
        mo = self.target_motion
        if mo is not None:
            expect = (*self.targets.shape[: frame_dim - 3], 3, *self.targets.shape[-2:])
            if tuple(mo.shape) != expect or not torch.is_floating_point(mo):
                raise ModelInputError(f"Clip.target_motion must be a float tensor of shape {expect}, got "
                                      f"{tuple(mo.shape)} {mo.dtype}")
        if self.input_mask.dtype != torch.bool or self.target_mask.dtype != torch.bool:
            raise ModelInputError("Clip masks must be bool tensors (True = frame present)")
        if not (torch.is_floating_point(self.input_times) and torch.is_floating_point(self.target_times)):
            raise ModelInputError("Clip times must be floating point (hours or frame units)")

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Clip:
        """Move every tensor to ``device``."""
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> Clip:
        return self._map(lambda t: t.pin_memory())

    def _map(self, fn: Callable[[Tensor], Tensor]) -> Clip:
        """A copy with ``fn`` applied to every tensor field (None fields stay None)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return replace(self, **{k: None if v is None else fn(v) for k, v in values.items()})  # type: ignore[arg-type]

    @property
    def n_channels(self) -> int:
        return int(self.inputs.shape[-3])

    @property
    def image_size(self) -> tuple[int, int]:
        return int(self.inputs.shape[-2]), int(self.inputs.shape[-1])


def collate_clips(clips: Sequence[Clip]) -> Clip:
    """Stack unbatched clips into a batch (a ``DataLoader`` ``collate_fn``).

    All clips must share T_in, T_out, C, H, W; their *times* may differ
    (each sample keeps its own time grid).
    """
    if not clips:
        raise ModelInputError("collate_clips: got an empty list of clips")
    if any(c.batched for c in clips):
        raise ModelInputError("collate_clips: expects unbatched clips ([T, C, H, W])")
    out: dict[str, Tensor | None] = {}
    for f in fields(Clip):
        parts = [getattr(c, f.name) for c in clips]
        if all(p is None for p in parts):
            out[f.name] = None
        elif any(p is None for p in parts):
            raise ModelInputError(f"collate_clips: some clips have {f.name} and some do not")
        else:
            out[f.name] = torch.stack(parts)
    return Clip(**out)  # type: ignore[arg-type]
