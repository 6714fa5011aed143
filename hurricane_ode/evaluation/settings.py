"""Experiment settings: which models, how long they train, how they are scored.

An experiment YAML file is an ordinary training config (sections ``data``,
``model``, ``loss``, ``train`` of :class:`hurricane_ode.config.Config`; every
model is trained from it with only ``model.name`` changed) plus one section
``experiment`` mapped onto :class:`ExperimentSettings`::

    experiment:
      models: [vid_ode, convgru_delta_t, persistence]
      steps: 300
    data: {path: tiles.zarr, ...}
    model: {image_size: [32, 64], ...}
    train: {batch_size: 4, ...}

Unknown keys are an error naming the key. :func:`small_config` is the CPU
default (``configs/experiments/small.yaml`` holds the same values; a test keeps
them equal) and ``configs/experiments/paper.yaml`` the paper-scale GPU setting.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hurricane_ode._yaml import read_yaml
from hurricane_ode.config import Config, config_from_dict, config_to_dict
from hurricane_ode.errors import ConfigError, ConfigKeyError, ConfigTypeError

__all__ = [
    "EXPERIMENTS",
    "TABLE5_MODELS",
    "DEFAULT_MODELS",
    "ADVERSARIAL_MODELS",
    "ABLATION_ROWS",
    "ExperimentSettings",
    "ExperimentConfig",
    "load_experiment_config",
    "experiment_config_from_dict",
    "experiment_config_to_dict",
    "small_config",
    "ablation_switches",
    "model_config_for",
]

EXPERIMENTS = ("baselines", "sampling-rate", "ablation")

TABLE5_MODELS = ("convgru_delta_t", "convgru_decay", "latent_ode", "ode2vae", "vid_ode")
"""The rows of the paper's Table 5, in its order."""

DEFAULT_MODELS = (*TABLE5_MODELS, "vid_rnn", "persistence", "advection")
"""Table 5 plus Vid-RNN (Sec. 4.4) and the two forecaster references."""

ADVERSARIAL_MODELS = frozenset({"vid_ode", "vid_rnn"})
"""Models whose method includes the image/sequence discriminators (Vid-RNN keeps every
Vid-ODE component but the ODEs). The other baselines are trained without them whatever
``model.adversarial`` says, as in their own papers."""

#: Table 4 rows: label -> (description, ModelConfig switches)
ABLATION_ROWS: dict[str, tuple[str, dict[str, bool]]] = {
    "A": ("ODE-Conv", dict(use_ode_encoder=False, adversarial=False, use_warp=False, use_mask=False)),
    "B": ("Vanilla Vid-ODE", dict(use_ode_encoder=True, adversarial=False, use_warp=False, use_mask=False)),
    "C": ("+ Adversarial learning", dict(use_ode_encoder=True, adversarial=True, use_warp=False, use_mask=False)),
    "D": ("+ Optical flow warping", dict(use_ode_encoder=True, adversarial=True, use_warp=True, use_mask=False)),
    "E": ("+ Mask composition", dict(use_ode_encoder=True, adversarial=True, use_warp=True, use_mask=True)),
}  # fmt: skip


@dataclass
class ExperimentSettings:
    """The ``experiment`` section of an experiment YAML file."""

    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    """Registered model names compared by ``baselines`` and ``sampling-rate``."""
    steps: int | None = 300
    """Optimiser steps per trainable model (sets ``train.max_steps``); ``None``: ``train.epochs``."""
    sampling_rates: list[float] = field(default_factory=lambda: [1.0, 0.75, 0.5, 0.33, 0.25])
    """Input sampling rates of the ``sampling-rate`` experiment (Figure 6), 1.0 = every frame."""
    ablation_rows: list[str] = field(default_factory=lambda: list(ABLATION_ROWS))
    """Table 4 rows trained by the ``ablation`` experiment (subset of A..E)."""
    eval_batch_size: int = 8
    """Clips per forward pass during evaluation."""
    max_eval_clips: int | None = 64
    """Evaluate at most this many test windows, evenly spaced in time; ``None``: all of them."""
    tracking: bool = True
    """Track cyclones in truth and forecast (needs U850, V850, PSL and a tile store)."""
    track_max_distance_km: float = 500.0
    """A forecast centre farther than this from the true centre counts as a miss."""
    lpips: str = "auto"
    """``auto``: real LPIPS weights if present, else NaN with the reason; ``off``; ``required``."""
    lpips_value_range: tuple[float, float] = (-3.0, 3.0)
    """Normalised values mapped onto LPIPS' [-1, 1] input (z-scores clipped at +-3 sigma)."""


@dataclass
class ExperimentConfig:
    """A base training config (shared by every model) plus the experiment settings."""

    base: Config = field(default_factory=Config)
    experiment: ExperimentSettings = field(default_factory=ExperimentSettings)


def _check_settings(s: ExperimentSettings, where: str) -> None:
    if not s.models or not all(isinstance(m, str) for m in s.models):
        raise ConfigError(f"{where}: experiment.models must be a non-empty list of model names")
    if s.steps is not None and s.steps < 0:
        raise ConfigError(f"{where}: experiment.steps must be >= 0 or null, got {s.steps}")
    if not s.sampling_rates or not all(0.0 < float(r) <= 1.0 for r in s.sampling_rates):
        raise ConfigError(
            f"{where}: experiment.sampling_rates must be values in (0, 1], got {s.sampling_rates}"
        )
    bad = [r for r in s.ablation_rows if r not in ABLATION_ROWS]
    if bad:
        raise ConfigError(f"{where}: unknown experiment.ablation_rows {bad}; expected some of A..E")
    if s.eval_batch_size < 1:
        raise ConfigError(f"{where}: experiment.eval_batch_size must be >= 1")
    if s.max_eval_clips is not None and s.max_eval_clips < 1:
        raise ConfigError(f"{where}: experiment.max_eval_clips must be >= 1 or null")
    if s.lpips not in ("auto", "off", "required"):
        raise ConfigError(f"{where}: experiment.lpips must be auto, off or required, got {s.lpips!r}")


def experiment_config_from_dict(values: dict | None, where: str = "config") -> ExperimentConfig:
    """Build from nested dicts (the YAML layout above); missing keys take their defaults."""
    values = copy.deepcopy(values or {})
    exp_values = values.pop("experiment", None) or {}
    if not isinstance(exp_values, dict):
        raise ConfigTypeError(f"{where}: section 'experiment' must be a mapping")
    known = {f.name for f in dataclasses.fields(ExperimentSettings)}
    unknown = sorted(set(exp_values) - known)
    if unknown:
        raise ConfigKeyError(
            f"{where}: unknown key(s) {unknown} in section 'experiment'; expected some of {sorted(known)}"
        )
    if "lpips_value_range" in exp_values:
        exp_values["lpips_value_range"] = tuple(float(v) for v in exp_values["lpips_value_range"])
    if "sampling_rates" in exp_values:
        exp_values["sampling_rates"] = [float(v) for v in exp_values["sampling_rates"]]
    settings = ExperimentSettings(**exp_values)
    _check_settings(settings, where)
    return ExperimentConfig(base=config_from_dict(values), experiment=settings)


def experiment_config_to_dict(config: ExperimentConfig) -> dict:
    """Plain nested dict (the YAML layout), for the run record."""
    out = {"experiment": dataclasses.asdict(config.experiment)}
    out["experiment"]["lpips_value_range"] = list(config.experiment.lpips_value_range)
    out.update(config_to_dict(config.base))
    return out


def load_experiment_config(path: str | Path) -> ExperimentConfig:
    """Read an experiment YAML file; errors name the file."""
    path = Path(path)
    values = read_yaml(path, "experiment config file")
    if not isinstance(values, dict):
        raise ConfigTypeError(f"experiment config {path}: expected a mapping at the top level")
    return experiment_config_from_dict(values, where=str(path))


#: the small CPU setting (same values as configs/experiments/small.yaml)
_SMALL: dict[str, Any] = {
    "experiment": {"steps": 300, "max_eval_clips": 48, "eval_batch_size": 8},
    "data": {
        "source": "tiles",
        "path": None,  # None: the cached demo world's natl tiles (hurricane_ode.demo.demo_tiles)
        "basin": "natl",
        "clips_per_epoch": 64,
        "sampling": {"n_inputs": 5, "n_targets": 5, "max_gap_h": 48.0, "sampling_rate": 0.5},
    },
    "model": {
        "image_size": [32, 64],
        "hidden_channels": 16,
        "base_channels": 16,
        "n_downsample": 1,
        "disc_base_channels": 16,
        "solver": {"method": "euler", "step_size": 0.25},
    },
    "train": {
        "epochs": 1000,
        "batch_size": 4,
        "lr": 0.002,
        "device": "cpu",
        "checkpoint_every": 100,
        "log_every": 10,
        "keep_checkpoints": 1,
    },
}


def small_config() -> ExperimentConfig:
    """CPU-friendly defaults: demo-world 32x64 natl tiles, narrow models, 300 steps each."""
    return experiment_config_from_dict(_SMALL, where="small_config()")


def ablation_switches(row: str) -> dict[str, bool]:
    """The ModelConfig switches of Table 4 row ``row`` (A..E)."""
    try:
        return dict(ABLATION_ROWS[row][1])
    except KeyError:
        raise ConfigError(f"unknown ablation row {row!r}; expected one of {list(ABLATION_ROWS)}") from None


def model_config_for(base: Config, name: str, switches: dict[str, bool] | None = None) -> Config:
    """``base`` with ``model.name = name`` (and ablation ``switches``); a new object.

    Models outside :data:`ADVERSARIAL_MODELS` train without discriminators.
    """
    cfg = copy.deepcopy(base)
    cfg.model.name = name
    if switches:
        for key, value in switches.items():
            if not hasattr(cfg.model, key):
                raise ConfigKeyError(f"ablation switch {key!r} is not a ModelConfig field")
            setattr(cfg.model, key, value)
    elif name not in ADVERSARIAL_MODELS:
        cfg.model.adversarial = False
    return cfg
