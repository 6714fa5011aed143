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
    ``odeint_adjoint`` sees an ``nn.Module`` whose parameters are ``f``'s. The
    adaptive error norm is per sample (RMS per sample, max over samples), so each
    sample meets the tolerance on its own; fixed steps apply ``step_size`` (model
    units) to the longest interval, so a batched sample agrees with the lone sample
    to the solver's accuracy only.
* :func:`integrate_sequence` -- K consecutive per-sample intervals (a decoder solve
  through all query times) in ONE torchdiffeq call for adaptive methods
  (``s in [0, K]``, ``jump_t`` at the interval boundaries), never restarting the solver.

Host syncs: the only values read on the host are the per-interval step counts
(:func:`step_counts`, one copy of a ``[B, K]`` table); callers compute them once per
forward pass and pass them in.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from hurricane_ode.config import SolverConfig
from hurricane_ode.models.dopri5 import StepMemory, dopri5_steps

__all__ = [
    "odesolve",
    "integrate_intervals",
    "integrate_sequence",
    "step_counts",
    "per_sample_norm",
    "StepMemory",
    "FIXED_METHODS",
    "ADAPTIVE_METHODS",
]

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


def per_sample_norm(x: Tensor) -> Tensor:
    """Adaptive-step error norm: RMS over each sample (dim 0), then the max over samples.

    Passed to torchdiffeq as ``options={"norm": per_sample_norm}``, so a batched sample is
    solved to its own tolerance: short samples do not dilute the error of long ones.
    """
    if x.dim() < 2:
        return x.abs().max()
    return x.pow(2).flatten(1).mean(1).sqrt().max()


def _odeint(
    func: ODEFunc,
    h0: Tensor,
    t: Tensor,
    solver: SolverConfig,
    step_size: float | None,
    per_sample: bool = False,
    jump_t: Tensor | None = None,
    memory: StepMemory | None = None,
    scale: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    kwargs: dict = {"method": solver.method}
    options: dict = {}
    if solver.method in ADAPTIVE_METHODS:
        kwargs.update(rtol=solver.rtol, atol=solver.atol)
        if per_sample:
            options["norm"] = per_sample_norm
        if jump_t is not None and jump_t.numel():
            options["jump_t"] = jump_t
    elif step_size is not None:
        options["step_size"] = step_size
    if options:
        kwargs["options"] = options
    device = h0.device.type
    if torch.is_autocast_enabled(device):
        # torchdiffeq combines the stages with matmuls, which autocast would run in bf16 (state
        # increments with 3 significant digits): integrate in the state's dtype. Fixed-step
        # methods re-enter autocast inside f (its convs in bf16); adaptive ones keep f in
        # float32 too, because bf16 rounding in f is noise to the embedded error estimate
        # (measured: dopri5 took 92-104 encoder evaluations per pass instead of 56).
        inner = solver.method not in ADAPTIVE_METHODS
        f = _InnerAutocast(func, device, torch.get_autocast_dtype(device)) if inner else func
        with torch.autocast(device, enabled=False):
            return _odeint_raw(f, h0, t, solver, kwargs, memory, scale)
    return _odeint_raw(func, h0, t, solver, kwargs, memory, scale)


class _InnerAutocast(nn.Module):
    """``f`` evaluated under autocast (convs in bf16), its result cast back to the state's dtype."""

    def __init__(self, func: nn.Module | ODEFunc, device: str, dtype: torch.dtype) -> None:
        super().__init__()
        self.func = func
        self.device, self.dtype = device, dtype

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        with torch.autocast(self.device, dtype=self.dtype):
            return self.func(t, h).to(h.dtype)


def _odeint_raw(
    func: ODEFunc, h0: Tensor, t: Tensor, solver: SolverConfig, kwargs: dict,
    memory: StepMemory | None = None, scale: tuple[Tensor, Tensor] | None = None,
) -> Tensor:  # fmt: skip
    """torchdiffeq, or the lean dopri5 where it applies. ``memory`` (lean dopri5 only): start from
    ``memory.dt``, store the next proposed step there. ``scale = (at_start, at_end)``: model time
    per unit of ``t`` at the first and the last step (None: ``t`` is model time)."""
    import torchdiffeq

    options = kwargs.get("options", {})
    if (
        solver.method == "dopri5" and not solver.adjoint and "norm" in options and "jump_t" not in options
        and t.numel() > 1 and bool((t[1:] > t[:-1]).all())
    ):  # fmt: skip
        first = None  # torchdiffeq's steps, leaner
        if memory is not None and memory.dt is not None:
            first = memory.dt if scale is None else memory.dt / scale[0].clamp_min(1e-12)
        ys, dt_next = dopri5_steps(func, h0, t, solver.rtol, solver.atol, options["norm"], first)
        if memory is not None:
            memory.dt = dt_next if scale is None else dt_next * scale[1]
        return ys
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


class _PiecewiseScaled(nn.Module):
    """``dh/ds = dt[:, floor(s)] * f(h)`` for ``s in [0, K]``: K consecutive intervals, each of length 1.

    ``dt`` ``[B, K]`` (detached, per sample); ``f`` must be autonomous.
    """

    def __init__(self, func: nn.Module | ODEFunc, dt: Tensor, state_dim: int) -> None:
        super().__init__()
        self.func = func
        self.rates = dt.detach().T.reshape(dt.shape[1], dt.shape[0], *([1] * (state_dim - 1)))

    def forward(self, s: Tensor, h: Tensor) -> Tensor:
        k = self.rates.shape[0]
        i = torch.floor(s.detach()).long().clamp(0, k - 1)
        return self.rates[i].to(h.dtype) * self.func(s, h).to(h.dtype)


def step_counts(dt: Tensor, solver: SolverConfig) -> Tensor:
    """Steps each sample takes over each interval, on the CPU (one device -> host copy).

    Parameters
    ----------
    dt
        ``[B]`` or ``[B, K]`` interval lengths in model units (any sign).
    solver
        Fixed-step methods count ``ceil(|dt| / step_size)`` (one per interval when
        ``step_size`` is None); adaptive ones 1 where ``dt != 0``.

    Returns
    -------
    Tensor
        long, same shape as ``dt``, on the CPU (0 where ``dt == 0``).
    """
    step = solver.step_size if solver.method in _VECTORISED and not solver.adjoint else None
    return _per_sample_steps(dt.detach().cpu(), step)[0]


def _per_sample_steps(dt: Tensor, step_size: float | None) -> tuple[Tensor, int]:
    """Number of steps per sample (0 where ``dt == 0``) and their maximum."""
    mag = dt.abs()
    if step_size is None:
        n = (mag > 0).long()
    else:
        n = torch.ceil(mag / step_size).long()
        n = torch.where(mag > 0, n.clamp(min=1), torch.zeros_like(n))
    return n, int(n.max().item()) if n.numel() else 0


def _fixed_step(
    func: ODEFunc, h: Tensor, dt: Tensor, method: str, step_size: float | None, n: Tensor, n_max: int
) -> Tensor:
    """``n_max`` vectorised steps; step ``k`` evaluates ``func`` only on the samples still moving.

    ``n`` (CPU, ``[B]``) is each sample's step count, so the active set is known on the host
    without a sync; a sample whose interval is done costs nothing more.
    """
    shape = (-1,) + (1,) * (h.dim() - 1)
    n_dev = n.to(dt.device, non_blocking=True)
    sign = torch.sign(dt)
    full = sign * (step_size if step_size is not None else 0.0)
    last = dt - (n_dev - 1).clamp(min=0).to(dt.dtype) * full
    t = torch.zeros_like(dt)
    for k in range(n_max):
        hk = torch.where(n_dev - 1 > k, full, torch.where(n_dev - 1 == k, last, torch.zeros_like(dt)))
        active = n > k
        if bool(active.all()):  # a CPU tensor: no device sync
            h = _rk_update(func, h, t, hk, hk.view(shape).to(h.dtype), method)
        else:
            idx = active.nonzero().squeeze(1).to(h.device, non_blocking=True)
            sub = _rk_update(func, h[idx], t[idx], hk[idx], hk[idx].view(shape).to(h.dtype), method)
            h = h.index_copy(0, idx, sub)
        t = t + hk
    return h


def _rk_update(func: ODEFunc, h: Tensor, t: Tensor, hk: Tensor, hb: Tensor, method: str) -> Tensor:
    """One explicit step of ``method`` (torchdiffeq's formulas; ``rk4`` is its 3/8 rule)."""
    if method == "euler":
        return h + hb * func(t, h).to(h.dtype)
    if method == "midpoint":
        k1 = func(t, h).to(h.dtype)
        return h + hb * func(t + hk / 2, h + hb / 2 * k1).to(h.dtype)
    k1 = func(t, h).to(h.dtype)
    k2 = func(t + hk / 3, h + hb * k1 / 3).to(h.dtype)
    k3 = func(t + hk * 2 / 3, h + hb * (k2 - k1 / 3)).to(h.dtype)
    k4 = func(t + hk, h + hb * (k1 - k2 + k3)).to(h.dtype)
    return h + hb * (k1 + 3 * (k2 + k3) + k4) / 8


def _shared_grid(dts: Tensor) -> tuple[Tensor, Tensor] | None:
    """If all samples share one monotone sequence of intervals: its distinct knots and, per
    interval end, the knot index (both on the CPU); else None. One host copy of ``dts``."""
    host = dts.detach().cpu()
    row = host[0]
    if not (bool((host == row).all()) and (bool((row >= 0).all()) or bool((row <= 0).all()))):
        return None
    knots, inverse = torch.unique_consecutive(torch.cat([row.new_zeros(1), row.cumsum(0)]), return_inverse=True)
    return knots, inverse[1:]


def integrate_intervals(
    func: nn.Module | ODEFunc,
    h0: Tensor,
    dt: Tensor,
    solver: SolverConfig,
    steps: Tensor | None = None,
    memory: StepMemory | None = None,
) -> Tensor:
    """Advance each sample ``b`` of ``h0`` (``[B, ...]``) by its own time ``dt[b]`` (``[B]``, model units).

    ``func(t, h)`` must be autonomous in effect (``t`` is a ``[B]`` per-sample offset or the
    reparametrised scalar ``s``, so it must not drive the derivative). Samples with
    ``dt == 0`` are returned unchanged. Adaptive methods use a per-sample error norm
    (:func:`per_sample_norm`).

    Parameters
    ----------
    func, h0, dt, solver
        As above.
    steps
        ``step_counts(dt, solver)`` computed earlier (CPU), to avoid a host sync here.
    memory
        ``dopri5``: the step size carried from the previous solve (:class:`StepMemory`).

    Returns
    -------
    Tensor
        ``h(t0 + dt)`` with the shape of ``h0``.
    """
    _check(solver)
    if dt.dim() != 1 or dt.shape[0] != h0.shape[0]:
        raise ValueError(f"integrate_intervals: dt must be [B={h0.shape[0]}], got {tuple(dt.shape)}")
    n = step_counts(dt, solver) if steps is None else steps
    n_max = int(n.max()) if n.numel() else 0
    if n_max == 0:
        return h0
    if solver.method in _VECTORISED and not solver.adjoint:
        return _fixed_step(func, h0, dt, solver.method, solver.step_size, n, n_max)
    return integrate_sequence(func, h0, dt[:, None], solver, memory=memory)[:, 0]


def integrate_sequence(
    func: nn.Module | ODEFunc,
    h0: Tensor,
    dts: Tensor,
    solver: SolverConfig,
    steps: Tensor | None = None,
    memory: StepMemory | None = None,
) -> Tensor:
    """Advance each sample through K consecutive intervals of its own; the state after each.

    Parameters
    ----------
    func
        Autonomous derivative ``f(t, h)``.
    h0
        ``[B, ...]`` initial states.
    dts
        ``[B, K]`` interval lengths in model units (any sign, zeros allowed).
    solver
        Fixed-step ``euler``/``midpoint``/``rk4`` (no adjoint) take each sample's own
        torchdiffeq grid per interval (bit-compatible with solving the sample alone).
        Everything else is ONE torchdiffeq call with a per-sample error norm: on the
        common knots when every sample has the same intervals (extrapolation at fixed
        leads: the usual training batch), else on the reparametrised problem
        ``s in [0, K]``, ``dh/ds = dts[b, floor(s)] * f(h)`` (``jump_t`` at the interval
        boundaries). The solver is never restarted between query times.
    steps
        ``step_counts(dts, solver)`` computed earlier (CPU), to avoid a host sync.
    memory
        ``dopri5``: the step size carried from the previous solve (:class:`StepMemory`).

    Returns
    -------
    Tensor
        ``[B, K, ...]``: ``h`` after intervals 1..K.
    """
    _check(solver)
    if dts.dim() != 2 or dts.shape[0] != h0.shape[0]:
        raise ValueError(f"integrate_sequence: dts must be [B={h0.shape[0]}, K], got {tuple(dts.shape)}")
    k = dts.shape[1]
    if solver.method in _VECTORISED and not solver.adjoint:
        n = step_counts(dts, solver) if steps is None else steps
        states, h = [], h0
        for i in range(k):
            n_max = int(n[:, i].max()) if n.shape[0] else 0
            if n_max:
                h = _fixed_step(func, h, dts[:, i], solver.method, solver.step_size, n[:, i], n_max)
            states.append(h)
        return torch.stack(states, 1)
    shared = _shared_grid(dts)
    if shared is not None:  # every sample has the same knots: solve on them directly
        knots, where = shared
        if knots.numel() == 1:
            return h0.unsqueeze(1).expand(-1, k, *h0.shape[1:])
        grid = knots.to(device=h0.device, dtype=h0.dtype)
        ys = _odeint(func, h0, grid, solver, solver.step_size, per_sample=True, memory=memory)
        return ys[where.to(h0.device)].transpose(0, 1)
    # a fresh wrapper per call: the adjoint's backward pass calls it again later
    wrapper = _PiecewiseScaled(func, dts, h0.dim())
    step = None
    if solver.method in FIXED_METHODS:
        longest = float(dts.detach().abs().max())
        step = 1.0 if solver.step_size is None or longest == 0 else min(1.0, solver.step_size / longest)
    s = torch.arange(k + 1, dtype=h0.dtype, device=h0.device)
    jumps = s[1:-1] if solver.method in ADAPTIVE_METHODS else None
    rates = dts.detach().abs().amax(0)  # model time per unit of s, interval by interval
    ys = _odeint(wrapper, h0, s, solver, step, per_sample=True, jump_t=jumps, memory=memory, scale=(rates[0], rates[-1]))
    return ys[1:].transpose(0, 1)
