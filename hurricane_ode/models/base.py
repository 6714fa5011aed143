"""The interface every forecasting model implements, and the model registry.

A model maps a batch of input frames at (irregular) times to frames at query
times::

    out = model(inputs, input_times, query_times, input_mask)
    out.frames          [B, K, C, H, W]

``inputs`` is ``[B, T, C, H, W]``; ``input_times`` ``[B, T]`` and ``query_times``
``[B, K]`` are in clip time units (hours for climate data) relative to the
clip origin; ``input_mask`` ``[B, T]`` is True where a frame is observed.
Models scale times internally by ``ModelConfig.time_scale``.

New models (baselines) register themselves with :func:`register_model` in
their own module; :func:`build_model` looks them up by name, so every
experiment swaps models by name alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import Tensor, nn

from hurricane_ode.config import ModelConfig

__all__ = ["ModelOutput", "register_model", "build_model", "available_models", "MODEL_REGISTRY"]


@dataclass
class ModelOutput:
    """What a forward pass returns.

    frames:      predicted frames ``[B, K, C, H, W]``.
    difference:  predicted image differences D ``[B, K, C, H, W]`` for the difference loss (Eq. 6), or None.
    flow:        optical flow ``[B, K, 2, H, W]`` in pixels, or None.
    mask:        composition mask ``[B, K, 1, H, W]`` in [0, 1], or None.
    aux_losses:  extra scalar losses the trainer adds as they are (e.g. a VAE's KL term).
    """

    frames: Tensor
    difference: Tensor | None = None
    flow: Tensor | None = None
    mask: Tensor | None = None
    aux_losses: dict[str, Tensor] = field(default_factory=dict)


MODEL_REGISTRY: dict[str, Callable[[ModelConfig], nn.Module]] = {}


def register_model(name: str) -> Callable:
    """Class/function decorator: make a model constructible by ``build_model(ModelConfig(name=...))``."""

    def deco(factory: Callable[[ModelConfig], nn.Module]) -> Callable[[ModelConfig], nn.Module]:
        if name in MODEL_REGISTRY:
            raise ValueError(f"model name '{name}' is already registered")
        MODEL_REGISTRY[name] = factory
        return factory

    return deco


def available_models() -> list[str]:
    _import_builtin_models()
    return sorted(MODEL_REGISTRY)


def build_model(config: ModelConfig) -> nn.Module:
    """Instantiate the model named by ``config.name``."""
    _import_builtin_models()
    try:
        factory = MODEL_REGISTRY[config.name]
    except KeyError:
        raise ValueError(
            f"unknown model '{config.name}'; available: {', '.join(sorted(MODEL_REGISTRY))}"
        ) from None
    return factory(config)


def _import_builtin_models() -> None:
    # Importing the modules runs their @register_model decorators.
    import importlib

    for module in ("hurricane_ode.models.vid_ode", "hurricane_ode.models.baselines"):
        importlib.import_module(module)


def reference_frames(inputs: Tensor, input_times: Tensor, input_mask: Tensor | None, query_times: Tensor) -> Tensor:
    """The frame X_{s_0} that the decoder's first output warps (Eq. 2), per sample.

    It is the last *observed* input frame at or before the first query time
    ``query_times[:, 0]`` (for extrapolation: the last input frame X_T); when no
    observed frame precedes the first query, the first observed frame. Both the
    model (as the start of the autoregressive composition) and the difference
    loss (Eq. 6, as X_{s_0} in Delta X_{s_1} = X_{s_1} - X_{s_0}) use this rule.

    inputs ``[B, T, C, H, W]``, input_times ``[B, T]``, input_mask ``[B, T]`` (bool
    or None = all observed), query_times ``[B, K]`` -> ``[B, C, H, W]``.
    """
    import torch

    b, t = input_times.shape
    mask = torch.ones_like(input_times, dtype=torch.bool) if input_mask is None else input_mask.bool()
    before = mask & (input_times <= query_times[:, :1] + 1e-6)
    pos = torch.arange(t, device=inputs.device).expand(b, t)
    last_before = torch.where(before, pos, torch.full_like(pos, -1)).max(dim=1).values
    first_obs = torch.where(mask, pos, torch.full_like(pos, t)).min(dim=1).values
    idx = torch.where(last_before >= 0, last_before, first_obs).clamp(0, t - 1)
    return inputs[torch.arange(b, device=inputs.device), idx]
