"""Batch augmentations of the trainer."""

import pytest
import torch

from hurricane_ode.data.clips import Clip
from hurricane_ode.training.augment import stretch_times


def _batch() -> Clip:
    return Clip(
        inputs=torch.randn(2, 3, 1, 4, 4),
        input_times=torch.tensor([[0.0, 6.0, 9.0], [0.0, 3.0, 9.0]]),
        input_mask=torch.ones(2, 3, dtype=torch.bool),
        targets=torch.randn(2, 2, 1, 4, 4),
        target_times=torch.tensor([[12.0, 15.0], [12.0, 15.0]]),
        target_mask=torch.ones(2, 2, dtype=torch.bool),
    )


def test_stretch_scales_all_times_by_one_factor_in_range_and_keeps_frames():
    batch = _batch()
    factors = []
    for step in range(50):
        out = stretch_times(batch, 2.0, seed=0, step=step)
        s = out.input_times / batch.input_times.clamp_min(1e-9)
        f = float(out.target_times[0, 0] / batch.target_times[0, 0])
        assert torch.allclose(out.target_times, batch.target_times * f)
        assert torch.allclose(out.input_times[:, 1:], batch.input_times[:, 1:] * f) and s[0, 0] == 0
        assert out.inputs is batch.inputs and out.targets is batch.targets
        factors.append(f)
    assert 0.5 <= min(factors) < 0.8 and 1.25 < max(factors) <= 2.0  # both directions, bounded
    # reproducible per (seed, step), different across steps and seeds
    again = stretch_times(batch, 2.0, seed=0, step=7)
    assert torch.equal(again.target_times, stretch_times(batch, 2.0, seed=0, step=7).target_times)
    assert not torch.equal(again.target_times, stretch_times(batch, 2.0, seed=1, step=7).target_times)
    assert stretch_times(batch, 1.0, 0, 0) is batch
    with pytest.raises(ValueError, match="max_factor"):
        stretch_times(batch, 0.5, 0, 0)
