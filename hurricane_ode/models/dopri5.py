"""A lean Dormand-Prince 5(4) integrator: torchdiffeq's ``dopri5``, step for step, without its stage tensor.

torchdiffeq keeps the seven stages of a step in one ``[*state, 7]`` tensor (stage last) and
combines them with ``sum(k[..., :i] * coeffs, dim=-1)``: every stage write, combination and
their backward passes are strided passes over the whole state. On the latent states of
Vid-ODE (``[8, 128, 16, 16]``) that costs ~6 ms of CPU per function evaluation, a fifth of a
dopri5 training step. Here the stages are a list and each combination is a chain of
contiguous multiply-adds.

The algorithm is torchdiffeq 0.2.5's ``RKAdaptiveStepsizeODESolver`` with the Dormand-Prince
tableau and default options (safety 0.9, ifactor 10, dfactor 0.2, no ``min_step``/``max_step``,
no ``step_t``/``jump_t``): the same initial step (its ``_select_initial_step``, whose gradient
reaches the first step as in torchdiffeq), the same error ratio, step-size controller and
4th-order interpolation at the output times (its own helpers are reused). Results agree with
``torchdiffeq.odeint(..., method="dopri5")`` to float rounding, with the same number of
function evaluations (``tests/models/test_dopri5.py``). Used by
:mod:`hurricane_ode.models.solver` for increasing time grids without jumps; everything else
goes to torchdiffeq.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor
from torchdiffeq._impl.interp import _interp_evaluate, _interp_fit
from torchdiffeq._impl.misc import _compute_error_ratio, _optimal_step_size, _select_initial_step

__all__ = ["dopri5", "dopri5_steps", "StepMemory", "memory_state", "load_memory_state"]

_ALPHA = (1 / 5, 3 / 10, 4 / 5, 8 / 9, 1.0, 1.0)
_BETA = (
    (1 / 5,),
    (3 / 40, 9 / 40),
    (44 / 45, -56 / 15, 32 / 9),
    (19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729),
    (9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656),
    (35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84),
)
_C_ERROR = (
    35 / 384 - 1951 / 21600,
    0,
    500 / 1113 - 22642 / 50085,
    125 / 192 - 451 / 720,
    -2187 / 6784 - -12231 / 42400,
    11 / 84 - 649 / 6300,
    -1.0 / 60.0,
)
_MID = (
    6025192743 / 30085553152 / 2,
    0,
    51252292925 / 65400821598 / 2,
    -2691868925 / 45128329728 / 2,
    187940372067 / 1594534317056 / 2,
    -1776094331 / 19743644256 / 2,
    11237099 / 235043384 / 2,
)
_ORDER = 5

Func = Callable[[Tensor, Tensor], Tensor]


@dataclass
class StepMemory:
    """The adaptive step size one solve hands to the next (``dopri5`` only; other methods ignore it).

    ``dt``: the step the controller proposed after the last solve's last accepted step, in
    model time units (0-d tensor, detached), None before the first solve. A caller that solves
    one ODE over consecutive intervals with restarts between them (the ODE-ConvGRU encoder,
    whose GRU updates the state at each input) passes one ``StepMemory`` to every solve: each
    then starts from the step the previous one ended with, instead of estimating a first step
    (one evaluation of ``f``) and growing it from there (usually one more step). The tolerance
    is enforced as before: a first step too large is rejected and shortened. In training, a
    model keeps one per solve from call to call (``ForecastModel.step_memory``; checkpoints
    hold them); in eval mode every call starts afresh.
    """

    dt: Tensor | None = None


def memory_state(memories: Mapping[str, StepMemory]) -> dict[str, float]:
    """The remembered steps as plain floats, by solve (for a checkpoint); empty memories are left out."""
    return {name: float(m.dt) for name, m in memories.items() if m.dt is not None}


def load_memory_state(memories: dict[str, StepMemory], state: Mapping[str, float]) -> None:
    """Restore :func:`memory_state` into ``memories`` (a model's ``step_memories``)."""
    for name, dt in state.items():
        memories.setdefault(name, StepMemory()).dt = torch.tensor(float(dt), dtype=torch.float64)


def _combine(y0: Tensor, ks: list[Tensor], weights: tuple[float, ...], dt: Tensor) -> Tensor:
    """``y0 + sum_j k_j * (w_j * dt)`` with torchdiffeq's coefficients (tableau and ``dt`` in the state's dtype).

    ``dt`` carries a gradient on the first step only (through the initial step size); then the
    coefficients stay tensors, otherwise they are plain numbers (no autograd node per stage).
    """
    coeffs = torch.tensor(weights[: len(ks)], dtype=y0.dtype, device=y0.device) * dt
    terms: list[Tensor | float] = list(coeffs.unbind()) if coeffs.requires_grad else coeffs.tolist()
    acc: Tensor | None = None
    for k, c in zip(ks, terms, strict=True):
        if isinstance(c, float) and c == 0.0:
            continue  # a zero of the tableau (torchdiffeq adds 0 * k)
        acc = k * c if acc is None else acc + k * c
    assert acc is not None
    return y0 + acc


def _step(func: Func, y0: Tensor, f0: Tensor, t0: Tensor, dt: Tensor) -> tuple[Tensor, Tensor, Tensor, list[Tensor]]:
    """One Dormand-Prince step: ``(y1, f1, error estimate, stages)``."""
    dtype = y0.dtype
    t1 = t0 + dt
    dts = dt.to(dtype)
    ks = [f0]
    yi = y0
    for alpha, beta in zip(_ALPHA, _BETA, strict=True):
        ti = t1 if alpha == 1.0 else t0 + alpha * dt
        yi = _combine(y0, ks, beta, dts)
        ks.append(func(ti.to(dtype), yi))
    error = _combine(torch.zeros((), dtype=dtype, device=y0.device), ks, _C_ERROR, dts)
    return yi, ks[-1], error, ks  # first-same-as-last: y1 is the last stage's input


def dopri5(func: Func, y0: Tensor, t: Tensor, rtol: float, atol: float, norm: Callable[[Tensor], Tensor]) -> Tensor:
    """Solve ``dy/dt = func(t, y)`` from ``y(t[0]) = y0``; returns ``[len(t), *y0.shape]``.

    ``t`` must be strictly increasing (1-D). ``norm`` is the error norm (torchdiffeq's
    ``options["norm"]``).
    """
    return dopri5_steps(func, y0, t, rtol, atol, norm)[0]


def dopri5_steps(
    func: Func, y0: Tensor, t: Tensor, rtol: float, atol: float, norm: Callable[[Tensor], Tensor],
    first_step: Tensor | None = None,
) -> tuple[Tensor, Tensor]:  # fmt: skip
    """:func:`dopri5` that may start from a given step and also returns the next step it proposes.

    ``first_step`` (a 0-d tensor, units of ``t``; detached, capped at ``t[-1] - t[0]``; ignored
    unless positive) replaces torchdiffeq's initial-step estimate, which costs one evaluation of ``func``;
    a step too large for the tolerance is rejected and shortened as any other. Returns
    ``(ys, dt_next)``: the solution ``[len(t), *y0.shape]`` and the step size the controller
    proposed after the last accepted step (0-d, float64, detached), for the next solve of a
    similar problem to start from (the ODE-ConvGRU encoder's next interval).
    """
    if t.dim() != 1 or t.numel() < 1 or (t.numel() > 1 and not bool((t[1:] > t[:-1]).all())):
        raise ValueError("dopri5: t must be a strictly increasing 1-D tensor")
    t = t.to(torch.float64)
    dev = y0.device
    rtol_t = torch.as_tensor(rtol, dtype=torch.float64, device=dev)
    atol_t = torch.as_tensor(atol, dtype=torch.float64, device=dev)
    safety, ifactor, dfactor = (torch.as_tensor(v, dtype=torch.float64, device=dev) for v in (0.9, 10.0, 0.2))
    f0 = func(t[0].to(y0.dtype), y0)
    if first_step is None or not bool(first_step > 0):  # a zero step would never advance
        dt = _select_initial_step(
            lambda s, y: func(s.to(y.dtype), y), t[0], y0, _ORDER - 1, rtol_t, atol_t, norm, f0=f0
        )
    else:
        dt = torch.minimum(first_step.detach().to(dev, torch.float64), t[-1] - t[0])
    y, f, t_lo, t_hi = y0, f0, t[0], t[0]
    interp = [y0] * 5
    out = [y0]
    for t_out in t[1:]:
        while t_out > t_hi:
            if not bool(torch.isfinite(dt)):
                raise FloatingPointError("dopri5: non-finite step size (non-finite state?)")
            dt = dt.clamp(min=0)
            y1, f1, error, ks = _step(func, y, f, t_hi, dt)
            ratio = _compute_error_ratio(error, rtol_t, atol_t, y, y1, norm)
            if bool(ratio <= 1):
                y_mid = _combine(y, ks, _MID, dt.to(y.dtype))
                interp = _interp_fit(y, y1, y_mid, ks[0], ks[-1], dt.to(y.dtype))
                t_lo, t_hi = t_hi, t_hi + dt
                y, f = y1, f1
            dt = _optimal_step_size(dt, ratio, safety, ifactor, dfactor, _ORDER)
        out.append(_interp_evaluate(interp, t_lo, t_hi, t_out))
    return torch.stack(out), dt.detach()
