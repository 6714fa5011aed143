"""The model contract's checks: shapes always, values (times, mask, mode) when asked.

Used by :class:`~hurricane_ode.models.base.ForecastModel` (and re-exported there).
"""

from __future__ import annotations

import torch
from torch import Tensor

from hurricane_ode.config import ModelConfig
from hurricane_ode.errors import ModelInputError

__all__ = ["MODES", "check_inputs", "infer_mode"]

MODES = ("extrapolation", "interpolation")
_EPS = 1e-6


def _last_observed_times(input_times: Tensor, mask: Tensor) -> Tensor:
    """``[B]``: time of the last observed input."""
    pos = torch.arange(input_times.shape[1], device=input_times.device).expand_as(input_times)
    idx = torch.where(mask, pos, torch.full_like(pos, -1)).max(dim=1).values
    return input_times.gather(1, idx.clamp(min=0).unsqueeze(1)).squeeze(1)


def _first_observed_times(input_times: Tensor, mask: Tensor) -> Tensor:
    t = input_times.shape[1]
    pos = torch.arange(t, device=input_times.device).expand_as(input_times)
    idx = torch.where(mask, pos, torch.full_like(pos, t)).min(dim=1).values
    return input_times.gather(1, idx.clamp(max=t - 1).unsqueeze(1)).squeeze(1)


def infer_mode(input_times: Tensor, query_times: Tensor, input_mask: Tensor | None = None) -> str | None:
    """``extrapolation`` if every query is at or after the last observed input,
    ``interpolation`` if every query lies within the observed input range, else None (mixed)."""
    mask = torch.ones_like(input_times, dtype=torch.bool) if input_mask is None else input_mask.bool()
    last = _last_observed_times(input_times, mask).unsqueeze(1)
    first = _first_observed_times(input_times, mask).unsqueeze(1)
    if bool((query_times >= last - _EPS).all()):
        return "extrapolation"
    if bool(((query_times >= first - _EPS) & (query_times <= last + _EPS)).all()):
        return "interpolation"
    return None


def check_inputs(
    name: str,
    config: ModelConfig,
    inputs: Tensor,
    input_times: Tensor,
    query_times: Tensor,
    input_mask: Tensor | None = None,
    mode: str | None = None,
    *,
    values: bool = True,
    spatial_multiple: int = 1,
    fixed_inputs: int | None = None,
    sorted_queries: bool = True,
) -> str | None:
    """Check a batch against the model contract; raise :class:`ModelInputError` naming ``name``.

    Parameters
    ----------
    name
        Model name used in messages.
    config
        The model's config (``in_channels``).
    inputs, input_times, query_times, input_mask, mode
        The forward arguments (see the module docstring).
    values
        Also check tensor values (reads them: a host sync on an accelerator).
    spatial_multiple
        Frame height and width must be multiples of this.
    fixed_inputs
        If not None, the number of input frames ``T`` the model needs.
    sorted_queries
        Require ``query_times`` ascending within each sample.

    Returns
    -------
    str or None
        ``mode`` (checked against the times when ``values``), or the inferred mode when
        ``mode`` is None and ``values`` (None when queries are mixed or values are not read).
    """
    if inputs.dim() != 5:
        raise ModelInputError(f"{name}: inputs must be [B, T, C, H, W], got shape {tuple(inputs.shape)}")
    b, t, c, h, w = inputs.shape
    if c != config.in_channels:
        raise ModelInputError(f"{name}: inputs have {c} channels, ModelConfig.in_channels is {config.in_channels}")
    if spatial_multiple > 1 and (h % spatial_multiple or w % spatial_multiple):
        raise ModelInputError(
            f"{name}: frame size {h}x{w} must be divisible by 2**n_downsample = {spatial_multiple}"
        )
    if input_times.shape != (b, t):
        raise ModelInputError(f"{name}: input_times must be [B, T] = {(b, t)}, got {tuple(input_times.shape)}")
    if query_times.dim() != 2 or query_times.shape[0] != b or query_times.shape[1] < 1:
        raise ModelInputError(f"{name}: query_times must be [B={b}, K>=1], got {tuple(query_times.shape)}")
    if input_mask is not None and input_mask.shape != (b, t):
        raise ModelInputError(f"{name}: input_mask must be [B, T] = {(b, t)}, got {tuple(input_mask.shape)}")
    if fixed_inputs is not None and t != fixed_inputs:
        raise ModelInputError(f"{name}: expects T = ModelConfig.n_inputs = {fixed_inputs} inputs, got {t}")
    if mode is not None and mode not in MODES:
        raise ModelInputError(f"{name}: mode must be one of {MODES} or None, got '{mode}'")
    if not values:
        return mode
    mask = torch.ones_like(input_times, dtype=torch.bool) if input_mask is None else input_mask.bool()
    if not bool(mask.any(dim=1).all()):
        raise ModelInputError(f"{name}: every sample needs at least one observed input frame (input_mask)")
    if not (torch.isfinite(query_times).all() and torch.isfinite(input_times[mask]).all()):
        raise ModelInputError(f"{name}: input_times (observed) and query_times must be finite")
    if sorted_queries and bool((query_times[:, 1:] < query_times[:, :-1]).any()):
        raise ModelInputError(f"{name}: query_times must be sorted ascending within each sample")
    t_obs = torch.where(mask, input_times, torch.full_like(input_times, float("-inf")))
    running = torch.cummax(t_obs, dim=1).values
    if bool((mask[:, 1:] & (input_times[:, 1:] <= running[:, :-1])).any()):
        raise ModelInputError(f"{name}: observed input_times must be strictly increasing within each sample")
    if mode is None:
        return infer_mode(input_times, query_times, mask)
    last = _last_observed_times(input_times, mask).unsqueeze(1)
    first = _first_observed_times(input_times, mask).unsqueeze(1)
    if mode == "extrapolation" and not bool((query_times >= last - _EPS).all()):
        raise ModelInputError(
            f"{name}: mode 'extrapolation' needs every query time at or after the sample's last "
            "observed input time"
        )
    if mode == "interpolation" and not bool(((query_times >= first - _EPS) & (query_times <= last + _EPS)).all()):
        raise ModelInputError(
            f"{name}: mode 'interpolation' needs every query time within the sample's observed "
            "input time range [first, last]"
        )
    return mode
