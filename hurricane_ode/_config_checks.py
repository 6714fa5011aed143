"""Value-range checks of :class:`hurricane_ode.config.Config` (re-exported there as ``validate_config``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hurricane_ode.errors import ConfigError

if TYPE_CHECKING:
    from hurricane_ode.config import Config

__all__ = ["validate_config"]


def _require(ok: bool, key: str, expected: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"config: {key} must be {expected}, got {value!r}")


def validate_config(config: Config) -> Config:
    """Check value ranges; the :class:`~hurricane_ode.errors.ConfigError` names the key.

    Parameters
    ----------
    config
        The configuration to check.

    Returns
    -------
    Config
        ``config`` itself.
    """
    t, m, d, s, lo = config.train, config.model, config.data, config.data.sampling, config.loss
    _require(t.lr > 0, "train.lr", "> 0", t.lr)
    _require(0 < t.lr_decay <= 1, "train.lr_decay", "in (0, 1]", t.lr_decay)
    _require(0 <= t.lr_min_factor <= 1, "train.lr_min_factor", "in [0, 1]", t.lr_min_factor)
    for key in ("batch_size", "epochs", "log_every"):
        _require(getattr(t, key) >= 1, f"train.{key}", ">= 1", getattr(t, key))
    for key in ("checkpoint_every", "keep_checkpoints", "validate_every"):
        _require(getattr(t, key) >= 0, f"train.{key}", ">= 0", getattr(t, key))
    _require(t.max_steps is None or t.max_steps >= 0, "train.max_steps", ">= 0 or null", t.max_steps)
    _require(t.time_stretch >= 1, "train.time_stretch", ">= 1 (1 = off)", t.time_stretch)
    _require(t.grad_clip is None or t.grad_clip > 0, "train.grad_clip", "> 0 or null", t.grad_clip)
    for key in ("in_channels", "hidden_channels", "base_channels", "odefunc_layers", "disc_base_channels", "n_inputs"):
        _require(getattr(m, key) >= 1, f"model.{key}", ">= 1", getattr(m, key))
    _require(m.n_downsample >= 0, "model.n_downsample", ">= 0", m.n_downsample)
    _require(len(m.image_size) == 2 and min(m.image_size) >= 1, "model.image_size", "two sizes >= 1", m.image_size)
    _require(m.time_scale > 0, "model.time_scale", "> 0", m.time_scale)
    _require(m.disc_window is None or m.disc_window >= 1, "model.disc_window", ">= 1 or null", m.disc_window)
    _require(m.composition in ("paper", "residual"), "model.composition", "'paper' or 'residual'", m.composition)
    sv = m.solver
    _require(sv.step_size is None or sv.step_size > 0, "model.solver.step_size", "> 0 or null", sv.step_size)
    _require(sv.rtol > 0, "model.solver.rtol", "> 0", sv.rtol)
    _require(sv.atol > 0, "model.solver.atol", "> 0", sv.atol)
    for key in ("lambda_diff", "lambda_img", "lambda_seq", "lambda_grad", "lambda_intensity", "lambda_storm", "lambda_mask",
                "lambda_storm_mask", "lambda_storm_flow"):
        _require(getattr(lo, key) >= 0, f"loss.{key}", ">= 0", getattr(lo, key))
    for key in ("lambda_storm", "lambda_storm_mask", "lambda_storm_flow"):
        _require(
            getattr(lo, key) == 0 or d.storm_sigma_km > 0, "data.storm_sigma_km",
            f"> 0 when loss.{key} > 0 (the term needs storm maps)", d.storm_sigma_km,
        )  # fmt: skip
    _require(lo.lambda_storm_flow == 0 or (m.use_warp and m.warp_source == "reference"), "model.warp_source",
             "'reference' with model.use_warp when loss.lambda_storm_flow > 0 (the storm flow is the "
             "displacement from the reference frame)", m.warp_source)
    _require(lo.lead_weighting in ("none", "persistence"), "loss.lead_weighting", "'none' or 'persistence'", lo.lead_weighting)
    _require(d.storm_sigma_km >= 0, "data.storm_sigma_km", ">= 0 km", d.storm_sigma_km)
    _require(0 < d.train_fraction <= 1, "data.train_fraction", "in (0, 1]", d.train_fraction)
    _require(d.clips_per_epoch >= 1, "data.clips_per_epoch", ">= 1", d.clips_per_epoch)
    _require(d.num_workers >= 0, "data.num_workers", ">= 0", d.num_workers)
    _require(d.channels is None or d.channels >= 1, "data.channels", ">= 1 or null", d.channels)
    for key in ("n_inputs", "n_targets"):
        _require(getattr(s, key) >= 1, f"data.sampling.{key}", ">= 1", getattr(s, key))
    _require(s.task in ("extrapolation", "interpolation"), "data.sampling.task", "'extrapolation' or 'interpolation'", s.task)
    _require(s.frame_interval_h > 0, "data.sampling.frame_interval_h", "> 0", s.frame_interval_h)
    _require(s.max_gap_h > 0, "data.sampling.max_gap_h", "> 0", s.max_gap_h)
    _require(0 < s.sampling_rate <= 1, "data.sampling.sampling_rate", "in (0, 1]", s.sampling_rate)
    _require(0 <= s.input_drop_prob <= 1, "data.sampling.input_drop_prob", "in [0, 1]", s.input_drop_prob)
    return config
