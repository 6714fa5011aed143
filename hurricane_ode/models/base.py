"""The contract every forecasting model implements, its one validator, and the model registry.

A model maps a batch of input frames at (irregular) times to frames at query times::

    out = model(inputs, input_times, query_times, input_mask)
    out.frames          [B, K, C, H, W]

``inputs`` is ``[B, T, C, H, W]``; ``input_times`` ``[B, T]`` and ``query_times``
``[B, K]`` are in clip time units (hours for climate data) relative to the
clip origin; ``input_mask`` ``[B, T]`` is True where a frame is observed.

:class:`ForecastModel` (in the spirit of earth2studio's ``PrognosticModel``) owns
everything models used to repeat: batch validation (errors are
:class:`~hurricane_ode.errors.ModelInputError` naming the model and the argument) and
time scaling by ``ModelConfig.time_scale``. A model writes only its maths, in
:meth:`ForecastModel.predict`, which receives a checked :class:`ModelInputs`.

Validation and host syncs: shape checks are free and always run. Value checks (an
observed frame per sample, finite and ordered times, ``mode`` against the times) read
tensor values; on an accelerator that is a device -> host sync, so they run only when
the times are on the CPU (``validate=None``, the default), always (``True``) or never
(``False``). The trainer checks each batch once on the CPU, before it moves to the device.

New models register themselves with :func:`register_model` (a class with
``from_config`` or a factory ``ModelConfig -> nn.Module``); :func:`build_model`
looks them up by name. Third-party packages add models through the entry-point group
``hurricane_ode.models``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from hurricane_ode.config import ModelConfig
from hurricane_ode.models.dopri5 import StepMemory
from hurricane_ode.models.validation import _EPS, MODES, check_inputs, infer_mode
from hurricane_ode.registry import Registry

__all__ = [
    "model_options",
    "ModelOutput",
    "ModelInputs",
    "ModelProtocol",
    "ForecastModel",
    "ParameterFreeModel",
    "MODES",
    "check_inputs",
    "infer_mode",
    "register_model",
    "build_model",
    "available_models",
    "model_class",
    "MODEL_REGISTRY",
    "reference_frames",
    "stack_steps",
]



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


def stack_steps(steps: Sequence[tuple[Tensor, Tensor | None, Tensor | None, Tensor | None]]) -> ModelOutput:
    """Stack per-query ``(frame, difference, flow, mask)`` tuples along a new K axis (dim 1).

    Parameters
    ----------
    steps
        One tuple per query time; ``difference``/``flow``/``mask`` may be None (then for every step).

    Returns
    -------
    ModelOutput
        ``frames`` ``[B, K, ...]`` and the optional parts stacked likewise (None where absent).
    """

    def stack(i: int) -> Tensor | None:
        parts = [s[i] for s in steps]
        return None if parts[0] is None else torch.stack(parts, 1)  # type: ignore[arg-type]

    frames = stack(0)
    assert frames is not None
    return ModelOutput(frames=frames, difference=stack(1), flow=stack(2), mask=stack(3))


@dataclass
class ModelInputs:
    """A validated batch as :meth:`ForecastModel.predict` receives it.

    ``input_times``/``query_times`` are in clip units (the inputs' dtype); ``times``/``queries``
    are the same multiplied by ``ModelConfig.time_scale`` (model units); ``mask`` is bool.
    """

    inputs: Tensor
    input_times: Tensor
    query_times: Tensor
    mask: Tensor
    times: Tensor
    queries: Tensor
    mode: str | None = None


def instance_stats(inputs: Tensor, mask: Tensor, eps: float = 1e-3) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and std ``[B, 1, C, 1, 1]`` of the observed input frames.

    ``inputs`` ``[B, T, C, H, W]``, ``mask`` ``[B, T]`` bool; the std is at least ``eps``.
    """
    w = mask.to(inputs.dtype)[:, :, None, None, None]
    n = (w.sum(dim=1, keepdim=True) * inputs.shape[-2] * inputs.shape[-1]).clamp_min(1.0)
    mean = (inputs * w).sum(dim=(1, 3, 4), keepdim=True) / n
    var = (((inputs - mean) ** 2) * w).sum(dim=(1, 3, 4), keepdim=True) / n
    return mean, var.sqrt().clamp_min(eps)


@runtime_checkable
class ModelProtocol(Protocol):
    """Structural type of a model: frames + times + mask in, frames at query times out."""

    def __call__(
        self,
        inputs: Tensor,
        input_times: Tensor,
        query_times: Tensor,
        input_mask: Tensor | None = None,
        mode: str | None = None,
    ) -> ModelOutput: ...


def model_options(config: ModelConfig | None, options: dict[str, Any], name: str) -> ModelConfig:
    """The options of a learned model: ``config`` (default ``ModelConfig(name=name)``) with the
    keyword ``options`` (any :class:`ModelConfig` field, e.g. ``hidden_channels=64``) in place.

    Lets ``VidODE(hidden_channels=64, image_size=(64, 64))`` and ``VidODE(config)`` build the
    same model; an unknown option raises ConfigError listing the valid ones.
    """
    valid = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(options) - valid)
    if unknown:
        from hurricane_ode.errors import ConfigError

        raise ConfigError(f"{name}: unknown option(s) {unknown}; the options are the fields of "
                          f"ModelConfig: {sorted(valid)}")
    base = config if config is not None else ModelConfig(name=name)
    return replace(base, **options) if options else base


class ForecastModel(nn.Module, ABC):
    """Base of every model: validation and time scaling here, the maths in :meth:`predict`.

    Class attributes a subclass may set: ``model_name`` (for messages), ``trainable``
    (False: no parameters to fit), ``downsamples`` (frames must be divisible by
    ``2**n_downsample``), ``sorted_queries`` (query times must ascend per sample).

    Parameters
    ----------
    config
        The model's :class:`~hurricane_ode.config.ModelConfig`.
    """

    model_name: ClassVar[str] = "model"
    trainable: ClassVar[bool] = True
    downsamples: ClassVar[bool] = True
    sorted_queries: ClassVar[bool] = True

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.validate: bool | None = None
        """Value checks: None = when the times are on the CPU (no sync), True = always, False = never."""
        self.step_memories: dict[str, StepMemory] = {}
        """Training: the adaptive solvers' step sizes carried between calls, by solve (:meth:`step_memory`)."""

    @classmethod
    def from_config(cls, config: ModelConfig, **kwargs: Any) -> ForecastModel:
        """Build the model from a :class:`ModelConfig` (``kwargs`` go to the constructor).

        Models whose constructor takes explicit keyword arguments (the parameter-free
        baselines) override this to map the config's fields onto them; the learned models take
        the :class:`ModelConfig` itself, or any of its fields as keyword options
        (:func:`model_options`).
        """
        return cls(config, **kwargs)

    def fixed_inputs(self) -> int | None:
        """The number of input frames the model needs, or None for any (override if fixed)."""
        return None

    def step_memory(self, solve: str) -> StepMemory:
        """The :class:`~hurricane_ode.models.dopri5.StepMemory` the ``dopri5`` solve ``solve`` starts from.

        Training: one per solve, kept from call to call (and in checkpoints), so each step's solve
        starts from the step size the previous step's ended with, instead of estimating one (an
        evaluation of ``f``) and growing it (usually one more step). Eval: a fresh one per call,
        so a forecast never depends on earlier calls. The tolerance is enforced either way.
        """
        return self.step_memories.setdefault(solve, StepMemory()) if self.training else StepMemory()

    def check(
        self,
        inputs: Tensor,
        input_times: Tensor,
        query_times: Tensor,
        input_mask: Tensor | None = None,
        mode: str | None = None,
        values: bool = True,
    ) -> str | None:
        """Check a batch against this model (see :func:`check_inputs`); returns the mode."""
        return check_inputs(
            self.model_name, self.config, inputs, input_times, query_times, input_mask, mode,
            values=values, spatial_multiple=2**self.config.n_downsample if self.downsamples else 1,
            fixed_inputs=self.fixed_inputs(), sorted_queries=self.sorted_queries,
        )  # fmt: skip

    def forward(
        self,
        inputs: Tensor,
        input_times: Tensor,
        query_times: Tensor,
        input_mask: Tensor | None = None,
        mode: str | None = None,
    ) -> ModelOutput:
        """Frames at ``query_times``.

        Parameters
        ----------
        inputs
            ``[B, T, C, H, W]`` frames.
        input_times, query_times
            ``[B, T]`` and ``[B, K]`` (ascending per sample), clip units relative to the clip origin.
        input_mask
            ``[B, T]`` bool, True where observed (None = all observed).
        mode
            ``extrapolation`` / ``interpolation`` (checked against the times) or None.

        Returns
        -------
        ModelOutput
            ``frames`` ``[B, K, C, H, W]`` and whatever else the model provides.
        """
        values = self.validate if self.validate is not None else (
            input_times.device.type == "cpu" and query_times.device.type == "cpu"
            and (input_mask is None or input_mask.device.type == "cpu")
        )  # fmt: skip
        mode = self.check(inputs, input_times, query_times, input_mask, mode, values=bool(values))
        dtype = inputs.dtype if inputs.is_floating_point() else torch.float32
        if input_mask is None:
            mask = torch.ones(input_times.shape, dtype=torch.bool, device=inputs.device)
        else:
            mask = input_mask.to(inputs.device).bool()
        ti = input_times.to(device=inputs.device, dtype=dtype)
        tq = query_times.to(device=inputs.device, dtype=dtype)
        scale = self.config.time_scale
        if not self.config.instance_norm:
            return self.predict(ModelInputs(inputs, ti, tq, mask, ti * scale, tq * scale, mode))
        mean, std = instance_stats(inputs, mask)
        normed = torch.where(mask[:, :, None, None, None], (inputs - mean) / std, torch.zeros_like(inputs))
        out = self.predict(ModelInputs(normed, ti, tq, mask, ti * scale, tq * scale, mode))
        return replace(
            out,
            frames=out.frames * std + mean,
            difference=None if out.difference is None else out.difference * std,
        )

    @abstractmethod
    def predict(self, x: ModelInputs) -> ModelOutput:
        """The model's maths on a checked batch (see :class:`ModelInputs`)."""


class ParameterFreeModel(ForecastModel):
    """Base of the models with nothing to fit (persistence, linear blend, advection).

    Times are only compared (``time_scale`` plays no part) and frames of any size are taken.

    Parameters
    ----------
    in_channels
        Channels per frame; batches are checked against it.
    name
        The registry name recorded in ``self.config`` (default: ``model_name``).
    """

    trainable = False
    """No trainable parameters: the trainer must not build an optimiser for it."""
    downsamples = False

    def __init__(self, in_channels: int = 3, name: str | None = None) -> None:
        super().__init__(ModelConfig(name=name or self.model_name, in_channels=in_channels))

    @classmethod
    def from_config(cls, config: ModelConfig, **kwargs: Any) -> ForecastModel:
        """The model for ``config``: only ``in_channels`` matters; ``kwargs`` go to the constructor."""
        return cls(in_channels=config.in_channels, **kwargs)


def _builtin_modules() -> tuple[str, ...]:
    return ("hurricane_ode.models.vid_ode", "hurricane_ode.models.baselines")


#: name -> model class (with ``from_config``) or factory ``ModelConfig -> nn.Module``
MODEL_REGISTRY: Registry[Callable[..., nn.Module]] = Registry(
    "model", entry_point_group="hurricane_ode.models", builtin_modules=_builtin_modules()
)


def register_model(name: str) -> Callable:
    """Class/function decorator: make a model constructible by ``build_model(ModelConfig(name=...))``.

    Parameters
    ----------
    name
        The registry name; a name already taken raises :class:`~hurricane_ode.errors.RegistryError`.
    """
    return MODEL_REGISTRY.register(name)


def available_models() -> list[str]:
    """Sorted names of every registered model (built-ins and entry points).

    Returns
    -------
    list of str
    """
    return MODEL_REGISTRY.names()


def model_class(name: str) -> Callable[..., nn.Module]:
    """The class (or factory) registered as ``name``; unknown names raise ``RegistryError``."""
    return MODEL_REGISTRY.get(name)


def build_model(config: ModelConfig) -> nn.Module:
    """Instantiate the model named by ``config.name``.

    Parameters
    ----------
    config
        The model config; ``config.name`` picks the registered model.

    Returns
    -------
    torch.nn.Module
    """
    factory = MODEL_REGISTRY.get(config.name)
    from_config = getattr(factory, "from_config", None)
    return from_config(config) if from_config is not None else factory(config)


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
    return inputs[torch.arange(inputs.shape[0], device=inputs.device), reference_index(input_times, input_mask, query_times)]


def reference_index(input_times: Tensor, input_mask: Tensor | None, query_times: Tensor) -> Tensor:
    """``[B]`` index of the frame :func:`reference_frames` picks."""
    b, t = input_times.shape
    mask = torch.ones_like(input_times, dtype=torch.bool) if input_mask is None else input_mask.bool()
    before = mask & (input_times <= query_times[:, :1] + _EPS)
    pos = torch.arange(t, device=input_times.device).expand(b, t)
    last_before = torch.where(before, pos, torch.full_like(pos, -1)).max(dim=1).values
    first_obs = torch.where(mask, pos, torch.full_like(pos, t)).min(dim=1).values
    return torch.where(last_before >= 0, last_before, first_obs).clamp(0, t - 1)
