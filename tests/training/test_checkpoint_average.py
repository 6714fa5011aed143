"""average_checkpoints: stochastic weight averaging of one run's checkpoints."""

from __future__ import annotations

import pytest
import torch

from hurricane_ode.errors import InputError
from hurricane_ode.training.checkpoint import atomic_torch_save, average_checkpoints


def _ckpt(path, step, weight, model_config=None, shape=(2, 2)):
    state = {
        "format_version": 1,
        "config": {"model": model_config or {"name": "vid_ode"}},
        "step": step,
        "model": {"w": torch.full(shape, float(weight)), "n": torch.tensor(step)},
    }
    atomic_torch_save(state, path)
    return path


def test_average_of_weights_keeps_the_last_metadata(tmp_path):
    paths = [_ckpt(tmp_path / f"s{k}.pt", 100 * k, w) for k, w in ((1, 1.0), (2, 2.0), (3, 6.0))]
    out = average_checkpoints(paths)
    torch.testing.assert_close(out["model"]["w"], torch.full((2, 2), 3.0))
    assert out["model"]["n"].item() == 300 and out["step"] == 300  # integers from the last
    assert out["averaged_steps"] == [100, 200, 300]


def test_checkpoints_of_other_models_are_refused(tmp_path):
    a = _ckpt(tmp_path / "a.pt", 1, 1.0)
    b = _ckpt(tmp_path / "b.pt", 2, 1.0, model_config={"name": "vid_ode", "hidden_channels": 64})
    c = _ckpt(tmp_path / "c.pt", 3, 1.0, shape=(3, 2))
    with pytest.raises(InputError, match="b.pt has another model config"):
        average_checkpoints([a, b])
    with pytest.raises(InputError, match="c.pt has other weights"):
        average_checkpoints([a, c])
    with pytest.raises(InputError, match="no checkpoint"):
        average_checkpoints([])
