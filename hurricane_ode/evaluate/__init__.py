"""Experiments: the paper's CAM5 baseline table, error vs sampling rate, and the ablation.

``from hurricane_ode import evaluate`` gives :func:`evaluate`. (This package is also
named ``evaluate``; once it is imported, Python binds ``hurricane_ode.evaluate`` to the
package, so the package itself is made callable and forwards to :func:`evaluate`:
``hurricane_ode.evaluate(...)`` works either way.)

Modules: :mod:`.settings` (experiment YAML, small/paper configs, Table 4 switches),
:mod:`.zoo` (train-or-reuse models), :mod:`.scoring` (metrics and tracks on fixed test
clips), :mod:`.records` (atomic files, run record), :mod:`.experiments` (:func:`evaluate`).
"""

from __future__ import annotations

import sys
import types
from typing import Any

from hurricane_ode.evaluate.experiments import evaluate, resolve_lpips
from hurricane_ode.evaluate.settings import (
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


class _CallableModule(types.ModuleType):
    """The package, callable as :func:`evaluate` (see the module docstring)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
