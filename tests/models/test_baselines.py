"""Baselines: every registered model honours the interface; each baseline does its job."""

from __future__ import annotations

import pytest
import torch

from hurricane_ode.config import ModelConfig, SolverConfig
from hurricane_ode.models.base import available_models, build_model
from hurricane_ode.models.baselines.advection import phase_correlation

NON_TRAINABLE = {"persistence", "advection"}
VAE = {"latent_ode", "ode2vae"}
BASELINES = ["convgru_delta_t", "convgru_decay", "latent_ode", "ode2vae", "vid_rnn", *sorted(NON_TRAINABLE)]


def tiny_config(name: str, channels: int = 3, size: int = 16) -> ModelConfig:
    return ModelConfig(
        name=name,
        in_channels=channels,
        image_size=(size, size),
        hidden_channels=8,
        base_channels=4,
        n_downsample=1,
        odefunc_layers=2,
        time_scale=1.0 / 24.0,
        adversarial=False,
        solver=SolverConfig(method="euler", step_size=0.25),
    )


def irregular_batch(channels: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Two samples with different input and query grids; sample 1 misses its third frame."""
    g = torch.Generator().manual_seed(seed)
    inputs = torch.randn(2, 4, channels, 16, 16, generator=g)
    input_times = torch.tensor([[0.0, 6.0, 15.0, 30.0], [0.0, 3.0, 9.0, 12.0]])
    mask = torch.tensor([[True, True, True, True], [True, True, False, True]])
    query_times = torch.tensor([[33.0, 36.0, 39.0], [15.0, 21.0, 24.0]])
    return inputs, input_times, query_times, mask


def test_all_baselines_registered() -> None:
    assert set(BASELINES) <= set(available_models())


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", available_models())
def test_every_registered_model_shapes_and_per_sample_grids(name: str, channels: int) -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config(name, channels)).eval()
    inputs, input_times, query_times, mask = irregular_batch(channels)
    with torch.no_grad():
        out = model(inputs, input_times, query_times, mask)
        assert out.frames.shape == (2, 3, channels, 16, 16)
        assert torch.isfinite(out.frames).all()
        if out.difference is not None:
            assert out.difference.shape == out.frames.shape
        # Each sample's forecast depends on its own grid only: same as running it alone.
        for b in range(2):
            alone = model(inputs[b : b + 1], input_times[b : b + 1], query_times[b : b + 1], mask[b : b + 1])
            torch.testing.assert_close(alone.frames[0], out.frames[b], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", BASELINES)
def test_time_grid_matters_and_mask_is_honoured(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config(name, 1)).eval()
    inputs, input_times, query_times, mask = irregular_batch(1)
    with torch.no_grad():
        ref = model(inputs, input_times, query_times, mask).frames
        # the content of a masked frame must not matter
        poked = inputs.clone()
        poked[1, 2] += 100.0
        torch.testing.assert_close(model(poked, input_times, query_times, mask).frames, ref)
        # later query times give different frames (for persistence: not within these extrapolations)
        if name != "persistence":
            later = model(inputs, input_times, query_times + 6.0, mask).frames
            assert not torch.allclose(later, ref)


@pytest.mark.parametrize("name", sorted(set(BASELINES) - NON_TRAINABLE))
def test_trainable_baselines_get_gradients_on_all_parameters(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config(name, 3)).train()
    assert getattr(model, "trainable", True)
    inputs, input_times, query_times, mask = irregular_batch(3)
    out = model(inputs, input_times, query_times, mask)
    loss = (out.frames - 1.0).abs().mean() + sum(out.aux_losses.values(), torch.tensor(0.0))
    if out.difference is not None:
        loss = loss + out.difference.abs().mean()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"{name}: no gradient for {missing}"
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    zero = [n for n, p in model.named_parameters() if not p.grad.abs().sum() > 0]
    assert not zero, f"{name}: all-zero gradient for {zero}"


@pytest.mark.parametrize("name", sorted(VAE))
def test_vae_kl_terms_present_finite_and_eval_deterministic(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(tiny_config(name, 3)).train()
    inputs, input_times, query_times, mask = irregular_batch(3)
    out = model(inputs, input_times, query_times, mask)
    kl = out.aux_losses["kl"]
    assert kl.dim() == 0 and torch.isfinite(kl) and kl.item() >= 0.0
    assert kl.requires_grad
    model.eval()
    with torch.no_grad():
        a = model(inputs, input_times, query_times, mask).frames
        b = model(inputs, input_times, query_times, mask).frames
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_persistence_returns_last_observed_frame_exactly() -> None:
    model = build_model(tiny_config("persistence", 3))
    assert model.trainable is False and not list(model.parameters())
    inputs, input_times, query_times, mask = irregular_batch(3)
    mask = mask.clone()
    mask[1, 3] = False  # sample 1's last observed frame is now index 1
    out = model(inputs, input_times, query_times, mask)
    for k in range(3):
        assert torch.equal(out.frames[0, k], inputs[0, 3])
        assert torch.equal(out.frames[1, k], inputs[1, 1])


def gaussian_blob(cx: float, cy: float, size: int = 32, sigma: float = 2.5) -> torch.Tensor:
    y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    return torch.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2))


def centroid(img: torch.Tensor) -> tuple[float, float]:
    size = img.shape[-1]
    y, x = torch.meshgrid(torch.arange(size, dtype=img.dtype), torch.arange(size, dtype=img.dtype), indexing="ij")
    w = img.clamp(min=0)
    return float((w * x).sum() / w.sum()), float((w * y).sum() / w.sum())


def test_phase_correlation_finds_subpixel_shift() -> None:
    a = gaussian_blob(12.0, 14.0)[None, None]
    b = gaussian_blob(14.5, 13.0)[None, None]
    sx, sy = phase_correlation(a, b)[0].tolist()
    assert abs(sx - 2.5) < 0.3 and abs(sy + 1.0) < 0.3


@pytest.mark.parametrize("channels", [1, 3])
def test_advection_moves_blob_by_the_right_displacement(channels: int) -> None:
    model = build_model(tiny_config("advection", channels, size=32))
    assert model.trainable is False and not list(model.parameters())
    # sample 0: moves (+2, +1) px per 3 h; sample 1: (-1.5, +2) px per 6 h, different grids
    starts = [(9.0, 10.0), (20.0, 9.0)]
    motion = [(2.0, 1.0), (-1.5, 2.0)]
    gaps = [3.0, 6.0]
    frames, times = [], []
    for (x0, y0), (dx, dy), gap in zip(starts, motion, gaps):
        seq = [gaussian_blob(x0 + i * dx, y0 + i * dy) for i in range(2)]
        frames.append(torch.stack(seq)[:, None].expand(-1, channels, -1, -1))
        times.append([10.0, 10.0 + gap])
    inputs = torch.stack(frames)
    input_times = torch.tensor(times)
    query_times = torch.tensor([[13.0 + 3.0, 13.0 + 6.0], [16.0 + 6.0, 16.0 + 12.0]])  # 1 and 2 gaps ahead
    out = model(inputs, input_times, query_times)
    assert out.frames.shape == (2, 2, channels, 32, 32)
    for b in range(2):
        for k, n_gaps in enumerate((1, 2)):
            ex = starts[b][0] + (1 + n_gaps) * motion[b][0]
            ey = starts[b][1] + (1 + n_gaps) * motion[b][1]
            for c in range(channels):
                cx, cy = centroid(out.frames[b, k, c])
                assert abs(cx - ex) < 1.0 and abs(cy - ey) < 1.0, (b, k, c, (cx, cy), (ex, ey))


def test_advection_single_frame_is_persistence() -> None:
    model = build_model(tiny_config("advection", 1))
    inputs, input_times, query_times, mask = irregular_batch(1)
    mask = torch.zeros_like(mask)
    mask[:, 0] = True
    out = model(inputs, input_times, query_times, mask)
    torch.testing.assert_close(out.frames, inputs[:, :1].expand_as(out.frames))


@pytest.mark.parametrize("name", BASELINES)
def test_bad_input_names_the_model_and_argument(name: str) -> None:
    model = build_model(tiny_config(name, 3))
    inputs, input_times, query_times, mask = irregular_batch(1)
    with pytest.raises(ValueError, match=f"{name}.*channels"):
        model(inputs, input_times, query_times, mask)
    inputs3 = irregular_batch(3)[0]
    with pytest.raises(ValueError, match="input_mask"):
        model(inputs3, input_times, query_times, torch.zeros_like(mask))


def test_vid_rnn_interpolates_hidden_states_between_regular_steps() -> None:
    torch.manual_seed(0)
    cfg = tiny_config("vid_rnn", 1)
    cfg.rnn_step = 3.0  # regular step: 3 h (default: each sample's median input gap)
    model = build_model(cfg).eval()
    inputs, input_times, _, mask = irregular_batch(1)
    seen: list[torch.Tensor] = []
    model.generator.register_forward_hook(lambda mod, args, out: seen.append(args[0].clone()))
    last = torch.tensor([[30.0], [12.0]])
    with torch.no_grad():
        model(inputs, input_times, torch.cat([last + 3.0, last + 6.0, last + 4.0], 1), mask)
    h3, h6, h4 = seen
    torch.testing.assert_close(h4, h3 + (h6 - h3) / 3.0)
    assert not torch.allclose(h3, h6)


def test_vid_rnn_step_defaults_to_median_input_gap_in_data_units() -> None:
    """Video (frame units) steps one frame, not three; a fixed rnn_step overrides the median."""
    model = build_model(tiny_config("vid_rnn", 1)).eval()
    times = torch.tensor([[0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 4.0, 6.0], [0.0, 6.0, 15.0, 30.0]])
    mask = torch.tensor([[True] * 4, [True] * 4, [True, False, False, False]])
    steps = model.steps(times, mask)
    # the lone-observation sample takes the batch median of the others' medians
    torch.testing.assert_close(steps, torch.tensor([1.0, 2.0, 1.0]))
    cfg = tiny_config("vid_rnn", 1)
    cfg.rnn_step = 3.0
    torch.testing.assert_close(build_model(cfg).steps(times, mask), torch.full((3,), 3.0))
    cfg.rnn_step = 0.0
    with pytest.raises(ValueError, match="rnn_step"):
        build_model(cfg)
