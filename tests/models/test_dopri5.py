"""The lean dopri5 (hurricane_ode.models.dopri5) against torchdiffeq's: same steps, same results."""

import pytest
import torch
import torchdiffeq

from hurricane_ode.config import SolverConfig
from hurricane_ode.models.dopri5 import dopri5
from hurricane_ode.models.odefunc import ConvODEFunc
from hurricane_ode.models.solver import integrate_intervals, per_sample_norm


def _solve(f, h0, t, lean):
    f.nfe = 0
    f.zero_grad()
    h = h0.clone().requires_grad_()
    if lean:
        y = dopri5(f, h, t, 1e-3, 1e-4, per_sample_norm)
    else:
        y = torchdiffeq.odeint(f, h, t, method="dopri5", rtol=1e-3, atol=1e-4, options={"norm": per_sample_norm})
    nfe = f.nfe
    (y.square().sum() + y[-1].sum()).backward()
    return y.detach(), nfe, h.grad, [p.grad.clone() for p in f.parameters()]


def _lively(seed: int, gain: float = 3.0) -> ConvODEFunc:
    """A seeded f with its weights scaled by ``gain``: livelier dynamics, several steps, some rejected."""
    torch.manual_seed(seed)
    f = ConvODEFunc(8)
    with torch.no_grad():
        for p in f.parameters():
            p.mul_(gain)
    return f


@pytest.mark.parametrize("times", [[0.0, 1.0], [0.0, 0.3, 0.35, 2.0, 5.0]])
def test_lean_dopri5_matches_torchdiffeq(times):
    f = _lively(0)
    h0, t = torch.randn(3, 8, 6, 6), torch.tensor(times)
    ref, lean = _solve(f, h0, t, lean=False), _solve(f, h0, t, lean=True)
    assert lean[1] == ref[1]  # the same steps (function evaluations)
    scale = ref[0].abs().max()
    assert (lean[0] - ref[0]).abs().max() <= 1e-5 * scale * len(times)
    assert (lean[2] - ref[2]).abs().max() <= 1e-3 * ref[2].abs().max()
    for a, b in zip(lean[3], ref[3], strict=True):
        assert (a - b).abs().max() <= 1e-3 * b.abs().max()


def test_solver_uses_lean_dopri5_with_per_sample_norm():
    torch.manual_seed(1)
    f = ConvODEFunc(4)
    h0, dt = torch.randn(2, 4, 5, 5), torch.tensor([0.7, 1.3])
    out = integrate_intervals(f, h0, dt, SolverConfig(method="dopri5"))
    # the same problem through torchdiffeq: s in [0, 1], dh/ds = dt_b f(h)
    rates = dt.view(-1, 1, 1, 1)
    ref = torchdiffeq.odeint(lambda s, h: rates * f(s, h), h0, torch.tensor([0.0, 1.0]), method="dopri5",
                             rtol=1e-3, atol=1e-4, options={"norm": per_sample_norm})[-1]  # fmt: skip
    assert torch.allclose(out, ref, atol=1e-5)


def test_step_memory_starts_the_next_interval_from_the_last_step():
    """The encoder's restarts: carrying the step between intervals saves evaluations, not accuracy."""
    from hurricane_ode.models.solver import StepMemory

    f = _lively(2, gain=2.0)
    solver = SolverConfig(method="dopri5", rtol=1e-4, atol=1e-5)
    tight = SolverConfig(method="dopri5", rtol=1e-8, atol=1e-9)
    h0 = torch.randn(3, 8, 6, 6)
    gaps = torch.tensor([[0.5, 1.0, 0.25], [1.0, 0.5, 0.5], [0.75, 0.75, 1.0]])  # [B, intervals]

    def run(cfg, memory):
        f.nfe, h, evals = 0, h0, []
        for i in range(gaps.shape[1]):
            h = integrate_intervals(f, h, gaps[:, i], cfg, memory=memory)
            h = torch.tanh(h)  # a jump between intervals, as the GRU makes one
            evals.append(f.nfe)
        return h, evals

    with torch.no_grad():
        cold, cold_nfe = run(solver, None)
        memory = StepMemory()
        warm, warm_nfe = run(solver, memory)
        exact, _ = run(tight, None)
    assert memory.dt is not None and memory.dt > 0
    assert warm_nfe[0] == cold_nfe[0]  # nothing to start from on the first interval
    assert warm_nfe[-1] < cold_nfe[-1]  # then each restart skips the first-step estimate
    # both meet the tolerance: their errors against a tight solve are of the same size
    err_warm, err_cold = (warm - exact).abs().max(), (cold - exact).abs().max()
    assert err_warm <= 1e-3 * exact.abs().max() and err_warm <= 10 * err_cold + 1e-6


def test_first_step_too_large_is_rejected_and_shortened():
    from hurricane_ode.models.dopri5 import dopri5_steps

    f = _lively(3)
    h0, t = torch.randn(2, 8, 5, 5), torch.tensor([0.0, 4.0])
    with torch.no_grad():
        ref = torchdiffeq.odeint(f, h0, t, method="dopri5", rtol=1e-9, atol=1e-10)[-1]
        y, dt_next = dopri5_steps(f, h0, t, 1e-4, 1e-5, per_sample_norm, first_step=torch.tensor(100.0))
    assert 0 < float(dt_next) < 4.0
    assert (y[-1] - ref).abs().max() <= 1e-2 * ref.abs().max()


def test_a_zero_first_step_falls_back_to_the_estimate():
    """A remembered step of 0 (an interval of zero length) must not stall the solver."""
    from hurricane_ode.models.dopri5 import dopri5_steps

    f = _lively(4, gain=1.0)
    h0, t = torch.randn(2, 8, 5, 5), torch.tensor([0.0, 1.0])
    with torch.no_grad():
        ref = dopri5(f, h0, t, 1e-4, 1e-5, per_sample_norm)
        y, dt_next = dopri5_steps(f, h0, t, 1e-4, 1e-5, per_sample_norm, first_step=torch.tensor(0.0))
    assert torch.equal(y, ref) and float(dt_next) > 0
