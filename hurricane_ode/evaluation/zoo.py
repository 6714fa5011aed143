"""Trained models for experiments, cached in ``<output_dir>/models/<name>/``.

Each trainable model is trained once with :func:`hurricane_ode.training.trainer.train`
(its run directory holds ``last.pt``, ``metrics.csv``, ``config.yaml``); later
experiments with the same config reuse it, and a cached run with fewer steps than
asked for is resumed (exactly, through the trainer). Models with ``trainable = False``
(persistence, advection) are built, never trained.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from torch import nn
from torch.utils.data import Dataset

from hurricane_ode.config import Config, config_to_dict, runtime_free_differences
from hurricane_ode.errors import InputError
from hurricane_ode.models.base import build_model

__all__ = ["TrainedModel", "obtain_model", "is_trainable"]

log = logging.getLogger(__name__)

@dataclass
class TrainedModel:
    """A model ready for evaluation and how it was obtained."""

    name: str
    model: nn.Module
    trainable: bool
    steps: int
    """Optimiser steps behind the weights (0 for models without parameters)."""
    train_time_s: float
    """Wall time spent training in this call (0 when reused from the cache)."""
    source: str
    """``trained``, ``resumed``, ``cached`` or ``untrained (no parameters)``."""
    checkpoint: Path | None
    final_loss: float | None


def is_trainable(config: Config) -> bool:
    """False for models declaring ``trainable = False`` (no parameters to fit)."""
    from hurricane_ode.models.base import model_class

    factory = model_class(config.model.name)  # RegistryError (a ValueError) for unknown names
    flag = getattr(factory, "trainable", None)
    if flag is None:
        flag = getattr(build_model(config.model), "trainable", True)
    return bool(flag)


def _config_differences(saved: dict, wanted: dict) -> list[str]:
    return runtime_free_differences(saved, wanted)


def obtain_model(
    config: Config,
    run_dir: str | Path,
    steps: int | None,
    dataset: Dataset | None = None,
    progress: bool = True,
) -> TrainedModel:
    """Train ``config.model`` into ``run_dir`` (or reuse / resume the run there).

    steps: optimiser steps (``train.max_steps``); ``None`` keeps the config's.
    dataset: the training clips (default: built by the trainer from ``config.data``).
    Raises ``ValueError`` naming ``run_dir`` when a cached run was made with a different config.
    """
    from hurricane_ode.training.checkpoint import LAST, load_checkpoint, load_model
    from hurricane_ode.training.trainer import resolve_device, train

    name = config.model.name
    if not is_trainable(config):
        model = build_model(config.model).to(resolve_device(config.train.device)).eval()
        return TrainedModel(name, model, False, 0, 0.0, "untrained (no parameters)", None, None)

    cfg = copy.deepcopy(config)
    run_dir = Path(run_dir)
    cfg.train.output_dir = str(run_dir)
    cfg.train.progress = progress
    if steps is not None:
        cfg.train.max_steps = int(steps)
    wanted = cfg.train.max_steps
    last = run_dir / LAST
    source = "trained"
    resume = False
    if last.exists():
        state = load_checkpoint(last)
        diff = _config_differences(state["config"], config_to_dict(cfg))
        if diff:
            raise InputError(
                f"cached model {last} was trained with a different config (keys {diff}); "
                "delete that directory or choose another --output-dir"
            )
        done = int(state["step"])
        if wanted is None or done >= wanted:
            if wanted is not None and done > wanted:
                log.warning("%s: reusing %d steps (more than the %d asked for)", last, done, wanted)
            model, meta = load_model(last, device=resolve_device(cfg.train.device))
            loss = meta["metrics"].get("loss")
            return TrainedModel(name, model, True, done, 0.0, "cached", last, loss)
        resume, source = True, "resumed"
    t0 = time.perf_counter()
    result = train(cfg, dataset=dataset, resume=resume, progress=progress)
    elapsed = time.perf_counter() - t0
    model = result.model.eval()
    return TrainedModel(
        name, model, True, result.step, elapsed, source, result.checkpoint,
        result.metrics.get("loss"),
    )  # fmt: skip
