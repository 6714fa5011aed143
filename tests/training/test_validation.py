"""Validation during training: scores of the generator on fixed held-out windows, beside a reference."""

from __future__ import annotations

import torch

from hurricane_ode.config import ModelConfig
from hurricane_ode.data.clips import Clip
from hurricane_ode.models.base import build_model
from hurricane_ode.training.validation import window_validator


class _Windows(torch.utils.data.Dataset):
    """Clips of a blob moving one pixel per hour (3 channels), inputs every 3 h."""

    def __init__(self, n: int = 6) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> Clip:
        yy, xx = torch.meshgrid(torch.arange(24.0), torch.arange(32.0), indexing="ij")

        def frame(t: float) -> torch.Tensor:
            g = torch.exp(-((xx - 6 - i - t) ** 2 + (yy - 12) ** 2) / 18.0)
            return torch.stack([g, g, -g])

        t_in, t_q = torch.tensor([0.0, 3.0, 6.0]), torch.tensor([9.0, 12.0])
        return Clip(torch.stack([frame(float(t)) for t in t_in]), t_in, torch.ones(3, dtype=torch.bool),
                    torch.stack([frame(float(t)) for t in t_q]), t_q, torch.ones(2, dtype=torch.bool))


def test_scores_leads_focus_and_reference():
    validate = window_validator(_Windows(), n_windows=4, batch_size=2, leads_h=(3.0, 6.0),
                                reference="persistence", focus_channel=2, focus_radius_px=3)
    persistence = build_model(ModelConfig(name="persistence", image_size=(24, 32)))
    scores = validate(persistence)
    assert {"nmse", "nmse_3h", "nmse_6h", "focus_nmse", "ref_nmse"} <= set(scores)
    assert abs(scores["nmse"] - scores["ref_nmse"]) < 1e-9  # the same model scores the same
    assert scores["nmse_6h"] > scores["nmse_3h"] > 0  # persistence falls behind the moving blob
    advection = build_model(ModelConfig(name="advection_lk", image_size=(24, 32)))
    better = validate(advection)
    assert better["nmse"] < 0.2 * better["ref_nmse"]
    assert better["focus_nmse"] < scores["focus_nmse"]


class _Still(torch.utils.data.Dataset):
    """A low that stays put (channel 2), one target at +24 h."""

    def __len__(self) -> int:
        return 2

    def __getitem__(self, i: int) -> Clip:
        yy, xx = torch.meshgrid(torch.arange(24.0), torch.arange(32.0), indexing="ij")
        g = torch.exp(-((xx - 10 - i) ** 2 + (yy - 12) ** 2) / 8.0)
        f = torch.stack([g, g, -g])
        t_in, t_q = torch.tensor([0.0, 3.0, 6.0]), torch.tensor([30.0])
        return Clip(f.expand(3, -1, -1, -1), t_in, torch.ones(3, dtype=torch.bool), f[None], t_q,
                    torch.ones(1, dtype=torch.bool))


class _ScaledPersistence(torch.nn.Module):
    """The last input times ``factor``: a vortex keeping ``factor`` of its depth."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, inputs, input_times, query_times, input_mask):
        from hurricane_ode.models.base import ModelOutput

        k = query_times.shape[1]
        return ModelOutput(frames=self.factor * inputs[:, -1:].expand(-1, k, -1, -1, -1))


def test_focus_depth_is_the_share_of_the_true_depth_kept_at_24h():
    validate = window_validator(_Still(), n_windows=2, reference=None, focus_channel=2, focus_radius_px=3)
    assert abs(validate(_ScaledPersistence(1.0))["focus_depth_24h"] - 1.0) < 1e-6
    assert abs(validate(_ScaledPersistence(0.4))["focus_depth_24h"] - 0.4) < 1e-6
    # no target at +24 h: no depth score
    assert "focus_depth_24h" not in window_validator(_Windows(), n_windows=2, reference=None)(_ScaledPersistence(1.0))
