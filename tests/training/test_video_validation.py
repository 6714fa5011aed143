"""Validation of video runs: held-out videos of another seed, scored as the test split is scored."""

from __future__ import annotations

import math

import pytest
import torch

from hurricane_ode.config import Config, DataConfig, ModelConfig, SamplingConfig, TrainConfig
from hurricane_ode.errors import ConfigError
from hurricane_ode.evaluation.scoring import build_eval_clips
from hurricane_ode.evaluation.validation import validator_from_config
from hurricane_ode.evaluation.video import score_video_model
from hurricane_ode.models.base import build_model


def _config(**data) -> Config:
    sampling = SamplingConfig(n_inputs=5, n_targets=4, task="interpolation", sampling_rate=0.5,
                              irregular=True, frame_interval_h=1.0, max_gap_h=4.0)  # fmt: skip
    return Config(
        data=DataConfig(source="bouncing_balls", image_size=(16, 16), channels=1, n_videos=6,
                        validation_windows=6, sampling=sampling, **data),  # fmt: skip
        model=ModelConfig(in_channels=1, image_size=(16, 16)),
        train=TrainConfig(validate_every=10, seed=3, device="cpu"),
    )


def _psnr(model, data: DataConfig, seed: int) -> list[float]:
    clips = build_eval_clips(data, seed, None, tracking=False)
    rows = score_video_model(model, clips, torch.device("cpu"), progress=False)[1]
    return [r["psnr"] for r in rows]


def test_interpolation_validation_scores_the_in_between_frames_of_other_videos():
    cfg = _config(validation_irregular=False)  # trained on irregular inputs, validated on the protocol's
    validate = validator_from_config(cfg)
    blend = build_model(ModelConfig(name="linear_blend", image_size=(16, 16), in_channels=1))
    scores = validate(blend)
    times = sorted(k for k in scores if k.startswith("psnr_t"))
    assert times == ["psnr_t1", "psnr_t3", "psnr_t5", "psnr_t7"]  # inputs 0, 2, 4, 6, 8
    assert scores["psnr_gap"] == pytest.approx(0.0) and scores["ssim_gap"] == pytest.approx(0.0)
    assert scores["neg_psnr"] == -scores["psnr"] == pytest.approx(-scores["ref_psnr"])
    regular = DataConfig(**{**cfg.data.__dict__, "sampling": SamplingConfig(**{**cfg.data.sampling.__dict__,
                                                                               "irregular": False})})  # fmt: skip
    held_out = _psnr(blend, regular, cfg.train.seed + 1)  # default validation_seed: train.seed + 1
    assert [scores[t] for t in times] == pytest.approx(held_out)
    assert held_out != pytest.approx(_psnr(blend, regular, cfg.train.seed))  # not the test videos
    persistence = build_model(ModelConfig(name="persistence", image_size=(16, 16), in_channels=1))
    worse = validate(persistence)
    assert worse["psnr_gap"] > 0 and math.isfinite(worse["ssim"])
    assert worse["ref_psnr"] == pytest.approx(scores["ref_psnr"])  # the reference: linear blending


def test_validation_seed_picks_the_videos_and_refuses_the_test_seed():
    blend = build_model(ModelConfig(name="linear_blend", image_size=(16, 16), in_channels=1))
    a = validator_from_config(_config(validation_seed=11))(blend)
    b = validator_from_config(_config(validation_seed=12))(blend)
    assert a["psnr"] != pytest.approx(b["psnr"])
    with pytest.raises(ConfigError, match="test clips"):
        validator_from_config(_config(validation_seed=3))
