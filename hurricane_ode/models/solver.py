"""ODE solving for the latent dynamics: a thin layer over :mod:`torchdiffeq`.

Two entry points:

* :func:`odesolve` -- ``torchdiffeq.odeint`` (or ``odeint_adjoint``) on one time
  grid shared by the whole batch, configured by :class:`SolverConfig`.
* :func:`integrate_intervals` -- advance every sample of a batch over its *own*
  interval ``dt_b`` (model time units; may be negative, i.e. backward in time, or
  zero). This is what lets one batch hold clips with different time grids
  without a Python loop over samples.

  - Fixed-step methods ``euler``, ``midpoint``, ``rk4`` (without adjoint) run a
    small vectorised integrator: each sample takes the grid torchdiffeq would
    take for it alone (full steps of ``step_size`` and a final partial step;
    one step per interval when ``step_size`` is None), so a batched sample gives
    the same result as the sample run alone. The formulas are torchdiffeq's
    (``rk4`` is its 3/8-rule variant).
  - Adaptive methods (``dopri5`` ...), other fixed-step methods and the adjoint
    use torchdiffeq on the reparametrised problem ``s in [0, 1]``,
    ``dh/ds = dt_b * f(h)``. ``dt_b`` lives on a small wrapper module, so
    ``odeint_adjoint`` sees an ``nn.Module`` whose parameters are ``f``'s. Here
    the step control is shared by the batch (fixed step: ``step_size`` in model
    units is applied to the longest interval; adaptive: one error norm), so a
    batched sample agrees with the lone sample to the solver's tolerance only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from hurricane_ode.config import SolverConfig

__all__ = ["odesolve", "integrate_intervals", "FIXED_METHODS", "ADAPTIVE_METHODS"]

FIXED_METHODS = ("euler", "midpoint", "rk4", "heun2", "heun3", "explicit_adams", "implicit_adams")
ADAPTIVE_METHODS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
_VECTORISED = ("euler", "midpoint", "rk4")

ODEFunc = Callable[[Tensor, Tensor], Tensor]


def _check(solver: SolverConfig) -> None:
    if solver.method not in FIXED_METHODS + ADAPTIVE_METHODS:
        raise ValueError(
            f"SolverConfig.method: unknown ODE method '{solver.method}'; "
            f"expected one of {', '.join(FIXED_METHODS + ADAPTIVE_METHODS)}"
        )
    if solver.step_size is not None and not solver.step_size > 0:
        raise ValueError(f"SolverConfig.step_size must be > 0 or None, got {solver.step_size}")
    if solver.rtol <= 0 or solver.atol <= 0:
        raise ValueError(f"SolverConfig.rtol/atol must be > 0, got {solver.rtol}, {solver.atol}")


def _odeint(func: ODEFunc, h0: Tensor, t: Tensor, solver: SolverConfig, step_size: float | None) -> Tensor:
    import torchdiffeq

    kwargs: dict = {"method": solver.method}
    if solver.method in ADAPTIVE_METHODS:
        kwargs.update(rtol=solver.rtol, atol=solver.atol)
    elif step_size is not None:
        kwargs["options"] = {"step_size": step_size}
    if solver.adjoint:
        if not isinstance(func, nn.Module):
            raise TypeError("odesolve: the adjoint method needs `func` to be an nn.Module")
        return torchdiffeq.odeint_adjoint(func, h0, t, **kwargs)
    return torchdiffeq.odeint(func, h0, t, **kwargs)


def odesolve(func: ODEFunc, h0: Tensor, t: Tensor, solver: SolverConfig) -> Tensor:
    """Solve ``dh/dt = func(t, h)`` from ``h(t[0]) = h0``; returns ``[len(t), *h0.shape]``.

    ``t`` is a strictly monotone 1-D tensor in model time units, shared by the batch.
    Fixed-step methods use ``solver.step_size`` (None: steps at the points of ``t``);
    adaptive ones ``rtol``/``atol``; ``solver.adjoint`` selects ``odeint_adjoint``.
    """
    _check(solver)
    if t.dim() != 1 or t.numel() < 1:
        raise ValueError(f"odesolve: t must be a non-empty 1-D tensor, got shape {tuple(t.shape)}")
    if t.numel() == 1:
        return h0.unsqueeze(0)
    return _odeint(func, h0, t.to(h0.dtype), solver, solver.step_size)


class _IntervalScaled(nn.Module):
    """``dh/ds = dt * f(h)`` for ``s in [0, 1]``; ``dt`` (``[B, 1, ..., 1]``) is set before each solve."""

    def __init__(self, func: nn.Module | ODEFunc) -> None:
        super().__init__()
        self.func = func
        self.dt: Tensor | None = None

    def forward(self, s: Tensor, h: Tensor) -> Tensor:
        assert self.dt is not None
        return self.dt * self.func(s, h)


def _per_sample_steps(dt: Tensor, step_size: float | None) -> tuple[Tensor, int]:
    """Number of steps per sample (0 where ``dt == 0``) and their maximum."""
    mag = dt.abs()
    if step_size is None:
        n = (mag > 0).long()
    else:
        n = torch.ceil(mag / step_size).long()
        n = torch.where(mag > 0, n.clamp(min=1), torch.zeros_like(n))
    return n, int(n.max().item()) if n.numel() else 0


def _fixed_step(func: ODEFunc, h: Tensor, dt: Tensor, method: str, step_size: float | None) -> Tensor:
    shape = (-1,) + (1,) * (h.dim() - 1)
    n, n_max = _per_sample_steps(dt.detach(), step_size)
    sign = torch.sign(dt)
    full = sign * (step_size if step_size is not None else 0.0)
    t = torch.zeros_like(dt)
    for k in range(n_max):
        last = dt - (n - 1).clamp(min=0).to(dt.dtype) * full
        hk = torch.where(k < n - 1, full, torch.where(k == n - 1, last, torch.zeros_like(dt)))
        hb = hk.view(shape).to(h.dtype)
        if method == "euler":
            h = h + hb * func(t, h)
        elif method == "midpoint":
            k1 = func(t, h)
            h = h + hb * func(t + hk / 2, h + hb / 2 * k1)
        else:  # torchdiffeq's rk4: the 3/8 rule
            k1 = func(t, h)
            k2 = func(t + hk / 3, h + hb * k1 / 3)
            k3 = func(t + hk * 2 / 3, h + hb * (k2 - k1 / 3))
            k4 = func(t + hk, h + hb * (k1 - k2 + k3))
            h = h + hb * (k1 + 3 * (k2 + k3) + k4) / 8
        t = t + hk
    return h


def integrate_intervals(func: nn.Module | ODEFunc, h0: Tensor, dt: Tensor, solver: SolverConfig) -> Tensor:
    """Advance each sample ``b`` of ``h0`` (``[B, ...]``) by its own time ``dt[b]`` (``[B]``, model units).

    ``func(t, h)`` must be autonomous in effect (``t`` is a ``[B]`` per-sample offset or the
    reparametrised scalar ``s``, so it must not drive the derivative). Samples with
    ``dt == 0`` are returned unchanged.
    Returns ``h(t0 + dt)`` with the shape of ``h0``.
    """
    _check(solver)
    if dt.dim() != 1 or dt.shape[0] != h0.shape[0]:
        raise ValueError(f"integrate_intervals: dt must be [B={h0.shape[0]}], got {tuple(dt.shape)}")
    if not bool((dt != 0).any()):
        return h0
    if solver.method in _VECTORISED and not solver.adjoint:
        return _fixed_step(func, h0, dt, solver.method, solver.step_size)
    # a fresh wrapper per call: the adjoint's backward pass calls it again later
    wrapper = _IntervalScaled(func)
    wrapper.dt = dt.detach().view((-1,) + (1,) * (h0.dim() - 1)).to(h0.dtype)
    step = None
    if solver.method in FIXED_METHODS:
        longest = float(dt.detach().abs().max())
        step = 1.0 if solver.step_size is None else min(1.0, solver.step_size / longest)
    s = torch.tensor([0.0, 1.0], dtype=h0.dtype, device=h0.device)
    return _odeint(wrapper, h0, s, solver, step)[-1]

