"""Experiments: the paper's CAM5 baseline table, error vs sampling rate, and the ablation.

``from hurricane_ode import evaluate`` gives :func:`evaluate` (the package is named
``evaluation`` so that importing it never shadows the function on the top-level package).

Modules: :mod:`.settings` (experiment YAML, small/paper configs, Table 4 switches),
:mod:`.zoo` (train-or-reuse models), :mod:`.scoring` (metrics and tracks on fixed test
clips), :mod:`.records` (atomic files, run record), :mod:`.experiments` (:func:`evaluate`).
"""

from __future__ import annotations

from hurricane_ode.evaluation.experiments import evaluate, resolve_lpips
from hurricane_ode.evaluation.settings import (
    ABLATION_ROWS,
    DEFAULT_MODELS,
    EXPERIMENTS,
    TABLE5_MODELS,
    ExperimentConfig,
    ExperimentSettings,
    ablation_switches,
    experiment_config_from_dict,
    load_experiment_config,
    model_config_for,
    small_config,
)

__all__ = [
    "evaluate",
    "resolve_lpips",
    "ABLATION_ROWS",
    "DEFAULT_MODELS",
    "EXPERIMENTS",
    "TABLE5_MODELS",
    "ExperimentConfig",
    "ExperimentSettings",
    "ablation_switches",
    "experiment_config_from_dict",
    "load_experiment_config",
    "model_config_for",
    "small_config",
]
