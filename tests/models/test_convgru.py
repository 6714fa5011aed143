"""ODE-ConvGRU building blocks: the ConvGRU cell, the derivative network and the solver layer."""

from __future__ import annotations

import math

import pytest
import torch

from hurricane_ode.config import SolverConfig
from hurricane_ode.models.convgru import ConvGRUCell
from hurricane_ode.models.odefunc import ConvODEFunc
from hurricane_ode.models.solver import integrate_intervals, odesolve


def test_convgru_shapes_zero_state_and_gradients():
    torch.manual_seed(0)
    cell = ConvGRUCell(3, 5)
    x = torch.randn(2, 3, 6, 7, requires_grad=True)
    h = cell(x, None)
    assert h.shape == (2, 5, 6, 7)
    assert torch.equal(h, cell(x, torch.zeros(2, 5, 6, 7)))
    h2 = cell(x, h)
    assert not torch.allclose(h2, h)
    h2.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in cell.parameters())


def test_convgru_rejects_bad_shapes():
    cell = ConvGRUCell(3, 5)
    with pytest.raises(ValueError, match="x must be"):
        cell(torch.zeros(2, 4, 6, 6), None)
    with pytest.raises(ValueError, match="h must be"):
        cell(torch.zeros(2, 3, 6, 6), torch.zeros(2, 4, 6, 6))
    with pytest.raises(ValueError, match="kernel_size"):
        ConvGRUCell(3, 5, kernel_size=2)


def test_conv_odefunc_shape_and_layers():
    f = ConvODEFunc(4, hidden_channels=6, n_layers=3)
    h = torch.randn(2, 4, 5, 5)
    assert f(torch.tensor(0.0), h).shape == h.shape
    assert sum(isinstance(m, torch.nn.Conv2d) for m in f.modules()) == 3
    with pytest.raises(ValueError, match="n_layers"):
        ConvODEFunc(4, n_layers=0)


class Decay(torch.nn.Module):
    """dh/dt = -k h, exact solution h0 * exp(-k t)."""

    def __init__(self) -> None:
        super().__init__()
        self.k = torch.nn.Parameter(torch.tensor(0.7))

    def forward(self, t, h):
        return -self.k * h


@pytest.mark.parametrize(
    "solver",
    [
        SolverConfig(method="rk4", step_size=0.05),
        SolverConfig(method="dopri5", rtol=1e-6, atol=1e-8),
        SolverConfig(method="rk4", step_size=0.05, adjoint=True),
    ],
)
def test_odesolve_matches_exact_solution(solver):
    h0 = torch.ones(2, 1, 2, 2)
    t = torch.tensor([0.0, 0.5, 2.0])
    out = odesolve(Decay(), h0, t, solver)
    assert out.shape == (3, 2, 1, 2, 2)
    expect = torch.exp(-0.7 * t).view(3, 1, 1, 1, 1)
    assert torch.allclose(out, expect.expand_as(out), atol=1e-5)


@pytest.mark.parametrize("method", ["euler", "midpoint", "rk4"])
def test_integrate_intervals_per_sample_equals_alone(method):
    torch.manual_seed(0)
    f = ConvODEFunc(3)
    solver = SolverConfig(method=method, step_size=0.3)
    h0 = torch.randn(3, 3, 4, 4)
    dt = torch.tensor([1.0, -0.45, 0.0])
    batched = integrate_intervals(f, h0, dt, solver)
    for b in range(3):
        alone = integrate_intervals(f, h0[b : b + 1], dt[b : b + 1], solver)
        assert torch.allclose(batched[b : b + 1], alone, atol=1e-6)
    assert torch.equal(batched[2], h0[2])  # dt = 0: untouched


def test_integrate_intervals_matches_torchdiffeq_grid():
    # the vectorised fixed-step path takes torchdiffeq's grid (full steps + a partial last step)
    torch.manual_seed(1)
    f = ConvODEFunc(2)
    h0 = torch.randn(1, 2, 3, 3)
    solver = SolverConfig(method="rk4", step_size=0.3)
    ours = integrate_intervals(f, h0, torch.tensor([1.0]), solver)
    ref = odesolve(f, h0, torch.tensor([0.0, 1.0]), solver)[-1]
    assert torch.allclose(ours, ref, atol=1e-6)


@pytest.mark.parametrize(
    "solver",
    [
        SolverConfig(method="rk4", step_size=0.1),
        SolverConfig(method="dopri5", rtol=1e-7, atol=1e-9),
        SolverConfig(method="dopri5", rtol=1e-7, atol=1e-9, adjoint=True),
        SolverConfig(method="euler", step_size=0.001, adjoint=True),
    ],
)
def test_integrate_intervals_forward_and_backward_in_time(solver):
    h0 = torch.ones(2, 1, 2, 2)
    dt = torch.tensor([1.5, -0.5])
    func = Decay()
    out = integrate_intervals(func, h0, dt, solver)
    expect = torch.exp(-0.7 * dt).view(2, 1, 1, 1)
    assert torch.allclose(out, expect.expand_as(out), rtol=2e-3)
    out.sum().backward()
    # d/dk sum(exp(-k dt)) * 4 pixels
    grad = (-dt * torch.exp(-0.7 * dt)).sum() * 4
    assert math.isclose(func.k.grad.item(), grad.item(), rel_tol=5e-3)


def test_solver_config_errors():
    with pytest.raises(ValueError, match="unknown ODE method 'rk5'"):
        integrate_intervals(Decay(), torch.ones(1, 1), torch.ones(1), SolverConfig(method="rk5"))
    with pytest.raises(ValueError, match="dt must be"):
        integrate_intervals(Decay(), torch.ones(2, 1), torch.ones(3), SolverConfig())
    with pytest.raises(TypeError, match="nn.Module"):
        odesolve(lambda t, h: -h, torch.ones(1, 1), torch.tensor([0.0, 1.0]), SolverConfig(adjoint=True))


def test_adaptive_error_norm_is_per_sample():
    # a short interval beside a long one must not dilute the long sample's error control
    torch.manual_seed(0)
    f = ConvODEFunc(4)
    h0 = torch.randn(2, 4, 6, 6) * 3
    dt = torch.tensor([3.0, 0.01])
    loose = SolverConfig(method="dopri5", rtol=1e-2, atol=1e-3)
    exact = integrate_intervals(f, h0[:1], dt[:1], SolverConfig(method="dopri5", rtol=1e-9, atol=1e-10))
    alone = integrate_intervals(f, h0[:1], dt[:1], loose)
    batched = integrate_intervals(f, h0, dt, loose)[:1]
    err_alone = (alone - exact).abs().max().item()
    err_batched = (batched - exact).abs().max().item()
    assert err_batched <= 1.5 * err_alone + 1e-6, (err_batched, err_alone)


def test_integrate_sequence_one_call_matches_interval_by_interval():
    from hurricane_ode.models.solver import integrate_sequence

    torch.manual_seed(0)
    f = ConvODEFunc(3)
    h0 = torch.randn(2, 3, 4, 4)
    tight = SolverConfig(method="dopri5", rtol=1e-7, atol=1e-9)
    for dts in (torch.tensor([[0.0, 0.5, 0.25, 0.25]] * 2), torch.tensor([[-0.3, 0.5, 0.0, 0.2], [0.0, 0.1, 0.4, 0.7]])):
        f.nfe = 0
        seq = integrate_sequence(f, h0, dts, tight)
        assert seq.shape == (2, 4, 3, 4, 4)
        h = h0
        for i in range(dts.shape[1]):
            h = integrate_intervals(f, h, dts[:, i], tight)
            assert torch.allclose(seq[:, i], h, atol=1e-5)
    # Euler: the vectorised per-interval path, bit-compatible with integrate_intervals
    euler = SolverConfig(method="euler", step_size=0.2)
    dts = torch.tensor([[0.0, 0.5, 0.25], [0.3, 0.1, 0.0]])
    seq = integrate_sequence(f, h0, dts, euler)
    h = h0
    for i in range(3):
        h = integrate_intervals(f, h, dts[:, i], euler)
        assert torch.equal(seq[:, i], h)
