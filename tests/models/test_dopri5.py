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


@pytest.mark.parametrize("times", [[0.0, 1.0], [0.0, 0.3, 0.35, 2.0, 5.0]])
def test_lean_dopri5_matches_torchdiffeq(times):
    torch.manual_seed(0)
    f = ConvODEFunc(8)
    with torch.no_grad():
        for p in f.parameters():
            p.mul_(3)  # livelier dynamics: several steps, some rejected
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
