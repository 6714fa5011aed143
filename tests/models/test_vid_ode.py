"""VidODE: shapes, composition, per-sample time grids, continuity, masks, ablations, solvers."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

from hurricane_ode.config import ModelConfig, SolverConfig
from hurricane_ode.models.base import build_model, reference_frames
from hurricane_ode.models.vid_ode import VidODE, compose, infer_mode, reference_times, warp

H = W = 16


def tiny(c: int = 3, **kw) -> ModelConfig:
    base = dict(
        in_channels=c,
        image_size=(H, W),
        hidden_channels=8,
        base_channels=4,
        n_downsample=2,
        time_scale=1.0 / 6.0,
        solver=SolverConfig(method="euler", step_size=0.25),
    )
    base.update(kw)
    return ModelConfig(**base)


def make(cfg: ModelConfig, seed: int = 0) -> VidODE:
    torch.manual_seed(seed)
    return VidODE(cfg).eval()


def batch(b: int = 2, t: int = 4, c: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(b, t, c, H, W, generator=g)
    times = torch.tensor([[0.0, 6.0, 18.0, 30.0], [0.0, 3.0, 9.0, 12.0], [0.0, 12.0, 15.0, 24.0]])[:b, :t]
    last = times[:, -1:]
    queries = last + torch.tensor([3.0, 4.5, 9.0])
    return x, times, queries


@pytest.mark.parametrize("c", [1, 3, 4])
def test_output_shapes(c):
    model = make(tiny(c))
    x, t, q = batch(c=c)
    out = model(x, t, q)
    assert out.frames.shape == (2, 3, c, H, W)
    assert out.difference.shape == (2, 3, c, H, W)
    assert out.flow.shape == (2, 3, 2, H, W)
    assert out.mask.shape == (2, 3, 1, H, W)
    assert bool((out.mask >= 0).all() & (out.mask <= 1).all())
    assert torch.isfinite(out.frames).all()


def test_zero_flow_and_full_mask_return_previous_frame_exactly():
    x = torch.randn(2, 3, H, W)
    assert torch.equal(warp(x, torch.zeros(2, 2, H, W)), x)
    model = make(tiny())
    raw = torch.randn(2, model.n_out, H, W)
    raw[:, 3:5] = 0.0  # flow
    raw[:, 5:6] = 100.0  # mask logit -> sigmoid == 1.0 exactly in float32
    frame, d, flow, m = compose(raw, x, model.config)
    assert torch.equal(m, torch.ones_like(m))
    assert torch.equal(frame, x)
    assert torch.equal(d, raw[:, :3])


def test_warp_matches_grid_sample_and_moves_content():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 13)
    flow = 3 * torch.randn(2, 2, 9, 13)
    ys, xs = torch.meshgrid(torch.arange(9.0), torch.arange(13.0), indexing="ij")
    gx = (xs + flow[:, 0]) / 12 * 2 - 1
    gy = (ys + flow[:, 1]) / 8 * 2 - 1
    ref = F.grid_sample(x, torch.stack([gx, gy], -1), align_corners=True, padding_mode="border")
    assert torch.allclose(warp(x, flow), ref, atol=1e-5)
    # a uniform 1-pixel flow in x shifts the image left by one column (border repeats)
    shift = torch.zeros(2, 2, 9, 13)
    shift[:, 0] = 1.0
    assert torch.equal(warp(x, shift)[..., :-1], x[..., 1:])


def test_every_parameter_gets_a_gradient():
    model = make(tiny()).train()
    x, t, q = batch()
    out = model(x, t, q)
    (out.frames.sum() + out.difference.sum() + out.flow.sum() + out.mask.sum()).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing, missing


@pytest.mark.parametrize(
    "solver", [SolverConfig(method="euler", step_size=0.25), SolverConfig(method="rk4", step_size=0.4)]
)
def test_per_sample_time_grids_equal_each_sample_alone(solver):
    model = make(tiny(solver=solver))
    x, t, _ = batch(b=3)
    mask = torch.tensor([[True, True, False, True], [True, True, True, True], [False, True, True, True]])
    # extrapolation for sample 0/1, interpolation-style queries for sample 2
    q = torch.tensor([[33.0, 34.5, 40.0], [12.5, 15.0, 21.0], [13.0, 14.0, 20.0]])
    out = model(x, t, q, mask)
    for b in range(3):
        alone = model(x[b : b + 1], t[b : b + 1], q[b : b + 1], mask[b : b + 1])
        for name in ("frames", "difference", "flow", "mask"):
            assert torch.allclose(getattr(out, name)[b : b + 1], getattr(alone, name), atol=1e-5), name


def test_outputs_change_continuously_with_query_time():
    # step boundaries included: with time_scale 1/6 and step 0.25 model units, a step is 1.5 h
    model = make(tiny())
    x, t, _ = batch(b=1)
    base = torch.tensor([[33.0, 36.0, 37.5]])  # 37.5 - 36 = one full step
    ref = model(x, t, base).frames
    diffs = []
    for eps in (1e-1, 1e-2, 1e-3):
        moved = model(x, t, base + eps).frames
        diffs.append((moved - ref).abs().max().item())
    assert diffs[0] > 0
    assert diffs[2] < diffs[1] < diffs[0]
    assert diffs[2] < 1e-2
    # arbitrary real query times (1.5 h after the last input) are fine
    assert model(x, t, torch.tensor([[31.5, 32.25, 40.1]])).frames.shape == (1, 3, 3, H, W)


def test_masked_frames_do_not_affect_the_output():
    model = make(tiny())
    x, t, q = batch(b=2)
    mask = torch.tensor([[True, False, True, True], [True, True, True, False]])
    q = torch.tensor([[33.0, 36.0, 39.0], [12.0, 15.0, 16.5]])
    out = model(x, t, q, mask).frames
    x2, t2 = x.clone(), t.clone()
    x2[0, 1] = 1e3 * torch.randn(3, H, W)
    x2[1, 3] = float("nan")
    t2[0, 1] = 29.0  # a missing frame's time stamp is irrelevant too
    assert torch.equal(model(x2, t2, q, mask).frames, out)
    # ... whereas an observed frame does matter
    x3 = x.clone()
    x3[0, 2] += 1.0
    assert not torch.allclose(model(x3, t, q, mask).frames[0], out[0])


def test_time_shift_invariance():
    model = make(tiny())
    x, t, q = batch()
    out = model(x, t, q).frames
    assert torch.allclose(model(x, t + 5.0, q + 5.0).frames, out, atol=1e-5)


def test_interpolation_and_mode_inference_and_errors():
    model = make(tiny())
    x, t, _ = batch()
    qi = torch.tensor([[1.5, 7.0, 20.0], [1.0, 4.0, 10.0]])
    assert infer_mode(t, qi) == "interpolation"
    out = model(x, t, qi, mode="interpolation")
    assert out.frames.shape == (2, 3, 3, H, W)
    qe = t[:, -1:] + torch.tensor([3.0, 6.0, 9.0])
    assert infer_mode(t, qe) == "extrapolation"
    model(x, t, qe, mode="extrapolation")
    with pytest.raises(ValueError, match="extrapolation"):
        model(x, t, qi, mode="extrapolation")
    with pytest.raises(ValueError, match="interpolation"):
        model(x, t, qe, mode="interpolation")
    with pytest.raises(ValueError, match="mode must be one of"):
        model(x, t, qe, mode="forecast")
    with pytest.raises(ValueError, match="sorted ascending"):
        model(x, t, qe.flip(1))
    with pytest.raises(ValueError, match="strictly increasing"):
        model(x, t.flip(1), qe)
    with pytest.raises(ValueError, match="in_channels"):
        model(x[:, :, :2], t, qe)
    with pytest.raises(ValueError, match="at least one observed"):
        model(x, t, qe, torch.zeros(2, 4, dtype=torch.bool))


def test_reference_time_matches_reference_frame():
    x, t, _ = batch(b=3)
    mask = torch.tensor([[True, True, False, True], [False, True, True, True], [True, True, True, True]])
    q = torch.tensor([[20.0, 21.0, 22.0], [1.0, 2.0, 3.0], [24.0, 25.0, 26.0]])
    frames = reference_frames(x, t, mask, q)
    times = reference_times(t, mask, q)
    assert times.tolist() == [6.0, 3.0, 24.0]
    for b in range(3):
        idx = int((t[b] == times[b]).nonzero())
        assert torch.equal(frames[b], x[b, idx])


@pytest.mark.parametrize(
    "changes",
    [
        dict(use_ode_encoder=False, n_inputs=4),  # (A) ODE-Conv
        dict(use_warp=False, use_mask=False, adversarial=False),  # (B) / (C)
        dict(use_mask=False),  # (D)
        dict(use_warp=False),
        dict(composition="residual"),
    ],
)
def test_ablation_switches_build_and_run(changes):
    cfg = tiny(**changes)
    model = make(cfg)
    x, t, q = batch()
    mask = torch.tensor([[True, False, True, True], [True, True, True, True]])
    out = model(x, t, q, mask)
    assert out.frames.shape == (2, 3, 3, H, W)
    assert (out.flow is None) == (not cfg.use_warp)
    assert (out.mask is None) == (not cfg.use_mask)
    out.frames.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    if not cfg.use_warp and not cfg.use_mask:
        # (B): output = previous frame + D
        prev = reference_frames(x, t, mask, q)
        assert torch.allclose(out.frames[:, 0], prev + out.difference[:, 0], atol=1e-6)
    if not cfg.use_ode_encoder:
        with pytest.raises(ValueError, match="n_inputs"):
            model(x[:, :3], t[:, :3], q)


@pytest.mark.parametrize(
    "solver",
    [
        SolverConfig(method="euler", step_size=0.5),
        SolverConfig(method="rk4", step_size=None),
        SolverConfig(method="dopri5", rtol=1e-3, atol=1e-4),
        SolverConfig(method="rk4", step_size=1.0, adjoint=True),
        SolverConfig(method="dopri5", rtol=1e-2, atol=1e-3, adjoint=True),
    ],
)
def test_solvers_run_forward_and_backward(solver):
    model = make(tiny(solver=solver, hidden_channels=4)).train()
    x, t, q = batch(b=1)
    x, t, q = x[:, 2:], t[:, 2:], q[:, :2]  # two inputs, two queries: keeps the adjoint fast
    out = model(x, t, q)
    out.frames.sum().backward()
    assert torch.isfinite(out.frames).all()
    assert model.f_phi.net[0].weight.grad is not None
    assert model.f_theta.net[0].weight.grad is not None


def test_registry_builds_vid_ode():
    cfg = dataclasses.replace(tiny(), name="vid_ode")
    model = build_model(cfg)
    assert isinstance(model, VidODE)
    assert isinstance(build_model(ModelConfig(name="vid_ode")), VidODE)


def test_models_do_not_import_xarray():
    code = "import sys, hurricane_ode.models.vid_ode, hurricane_ode.models.discriminators; " \
        "print('xarray' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_instance_norm_makes_forecasts_follow_each_channels_scale_and_offset():
    """model.instance_norm: a climate shifted and rescaled per channel gives the same forecast,
    shifted and rescaled (the network sees the same z-scored inputs)."""
    x, t, q = batch()
    a = torch.tensor([0.3, 2.0, 5.0])[None, None, :, None, None]
    b = torch.tensor([-4.0, 0.5, 100.0])[None, None, :, None, None]
    normed = make(tiny(instance_norm=True, head_init="identity", flow_prior="advection"))
    out, moved = normed(x, t, q), normed(a * x + b, t, q)
    torch.testing.assert_close(moved.frames, a * out.frames + b, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(moved.difference, a * out.difference, rtol=1e-4, atol=1e-3)
    torch.testing.assert_close(moved.flow, out.flow, rtol=1e-4, atol=1e-4)
    plain = make(tiny(instance_norm=False))
    assert not torch.allclose(plain(a * x + b, t, q).frames, a * plain(x, t, q).frames + b, atol=1e-2)
    # a missing input frame takes no part in the statistics
    mask = torch.ones(x.shape[:2], dtype=torch.bool)
    mask[:, 1] = False
    spoiled = x.clone()
    spoiled[:, 1] = 1e3
    torch.testing.assert_close(normed(spoiled, t, q, mask).frames, normed(x, t, q, mask).frames)


def test_dopri5_carries_its_step_between_training_calls_only():
    """Training: each solve starts from the step the same solve ended with on the previous call
    (fewer evaluations, same answer within tolerance). Eval: every call starts afresh, so a
    forecast does not depend on what ran before it."""
    model = make(tiny(solver=SolverConfig(method="dopri5", rtol=1e-3, atol=1e-4)))
    x, t, q = batch()

    def run():
        model.f_theta.nfe = model.f_phi.nfe = 0
        with torch.no_grad():
            out = model(x, t, q).frames
        return out, model.f_theta.nfe + model.f_phi.nfe

    model.eval()
    fresh, nfe_fresh = run()
    model.train()
    first, nfe_first = run()
    assert nfe_first == nfe_fresh and torch.equal(first, fresh)  # nothing remembered yet
    assert set(model.step_memories) == {"encoder", "decoder"}
    second, nfe_second = run()
    assert nfe_second < nfe_first
    assert (second - fresh).abs().max() <= 1e-2 * fresh.abs().max()
    model.eval()
    again, nfe_again = run()
    assert nfe_again == nfe_fresh and torch.equal(again, fresh)
