"""linear_blend: the cross-fade reference for video interpolation."""

from __future__ import annotations

import pytest
import torch

from hurricane_ode.config import ModelConfig
from hurricane_ode.evaluation.zoo import is_trainable
from hurricane_ode.models.base import available_models, build_model


def model(channels: int = 2) -> torch.nn.Module:
    return build_model(ModelConfig(name="linear_blend", in_channels=channels, image_size=(4, 4)))


def test_registered_and_parameter_free():
    from hurricane_ode.config import Config

    assert "linear_blend" in available_models()
    cfg = Config()
    cfg.model.name = "linear_blend"
    assert not is_trainable(cfg) and not list(model().parameters())


def test_cross_fade_between_neighbours_and_hold_outside():
    x = torch.stack([torch.full((2, 4, 4), v) for v in (0.0, 1.0, 3.0)])[None]  # frames 0, 1, 3
    t_in = torch.tensor([[0.0, 2.0, 4.0]])
    q = torch.tensor([[-1.0, 0.0, 0.5, 2.0, 3.0, 3.5, 5.0]])
    out = model()(x, t_in, q).frames[0, :, 0, 0, 0]
    torch.testing.assert_close(out, torch.tensor([0.0, 0.0, 0.25, 1.0, 2.0, 2.5, 3.0]))


def test_missing_inputs_are_skipped_per_sample():
    x = torch.stack([torch.full((1, 4, 4), v) for v in (0.0, 10.0, 4.0)])[None].repeat(2, 1, 1, 1, 1)
    t_in = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    mask = torch.tensor([[True, False, True], [True, True, True]])
    out = model(1)(x, t_in, torch.tensor([[1.0], [1.5]]), mask).frames[:, 0, 0, 0, 0]
    torch.testing.assert_close(out, torch.tensor([2.0, 7.0]))  # frame 1 ignored; 10 -> 4 halfway


def test_bad_batch_names_the_model():
    with pytest.raises(ValueError, match="linear_blend"):
        model(3)(torch.zeros(1, 2, 2, 4, 4), torch.zeros(1, 2), torch.zeros(1, 1))
