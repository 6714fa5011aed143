"""Checkpoint state and validation of the :class:`~hurricane_ode.training.trainer.Trainer` (a mixin).

Split from :mod:`.trainer` to keep modules small; the attributes used here are set by
``Trainer.__init__``.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hurricane_ode.config import config_to_dict, runtime_free_differences
from hurricane_ode.errors import CheckpointError, ConfigError
from hurricane_ode.models.dopri5 import load_memory_state, memory_state
from hurricane_ode.training.checkpoint import (
    FORMAT_VERSION,
    LAST,
    atomic_torch_save,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from hurricane_ode.training.distributed import barrier, unwrap
from hurricane_ode.training.runlog import MetricsLog, stats_for_checkpoint

__all__ = ["TrainerState", "Validator", "BEST"]

log = logging.getLogger(__name__)

BEST = "best.pt"

#: model settings a second stage may change: they change no parameter's shape or meaning
WEIGHT_FREE_MODEL_KEYS = frozenset({"model.instance_norm", "model.warp_interpolation", "model.grid_spacing_deg"})
Validator = Callable[[nn.Module], Mapping[str, float]]


class TrainerState:
    """``state_dict`` / ``save`` / ``resume`` / ``run_validation`` of the Trainer."""

    config: Any
    info: Any
    model: nn.Module
    discriminators: nn.ModuleDict | None
    opt: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer | None
    sched: Any
    sched_d: Any
    dataset: Any
    output_dir: Path
    global_step: int
    epoch: int
    batch_in_epoch: int
    metrics: dict[str, float]
    best: dict[str, Any] | None
    resumed: bool
    resumed_from: Path | None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds (see :mod:`.checkpoint`)."""
        discs = self.discriminators
        return {
            "config": config_to_dict(self.config),
            "stats": stats_for_checkpoint(self.dataset),
            "model": unwrap(self.model).state_dict(),
            "step_memories": memory_state(getattr(unwrap(self.model), "step_memories", {})),
            "discriminators": None if discs is None else discs.state_dict(),
            "optimizer": self.opt.state_dict(),
            "optimizer_d": None if self.opt_d is None else self.opt_d.state_dict(),
            "scheduler": self.sched.state_dict(),
            "scheduler_d": None if self.sched_d is None else self.sched_d.state_dict(),
            "step": self.global_step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "rng": capture_rng_state(),
            "metrics": dict(self.metrics),
            "best": self.best,
        }

    def save(self, path: str | Path | None = None) -> Path | None:
        """Write a checkpoint atomically (rank 0; every rank waits for it).

        Parameters
        ----------
        path
            A file to write; None writes ``step_<n>.pt`` and ``last.pt`` in the output
            directory, keeping ``train.keep_checkpoints`` step files.

        Returns
        -------
        Path or None
            The file written (None on other ranks).
        """
        out = None
        if self.info.is_main:
            state = self.state_dict()
            if path is None:
                out = save_checkpoint(state, self.output_dir, keep=self.config.train.keep_checkpoints)
            else:
                from hurricane_ode import __version__

                out = atomic_torch_save(
                    {"format_version": FORMAT_VERSION, "package_version": __version__, **state}, path
                )
        barrier(self.info)
        return out

    def _load_generator(self, path: Path, who: str, advice: str) -> tuple[dict[str, Any], list[str]]:
        """Read ``path``, refuse a model config that differs (but for weight-free keys), load the
        generator's weights and solver memories -> (checkpoint, every config difference)."""
        state = load_checkpoint(path)
        diff = runtime_free_differences(state["config"], config_to_dict(self.config))
        model_diff = [k for k in diff if k.startswith("model.") and k not in WEIGHT_FREE_MODEL_KEYS]
        if model_diff:
            raise CheckpointError(f"{who}: the model config differs from checkpoint {path} in {model_diff}; {advice}")
        unwrap(self.model).load_state_dict(state["model"])
        load_memory_state(getattr(unwrap(self.model), "step_memories", {}), state.get("step_memories") or {})
        return state, diff

    def resume(self, path: str | os.PathLike | None = None) -> None:
        """Continue exactly where a checkpoint stopped (weights, optimisers, counters, RNG, best).

        Parameters
        ----------
        path
            Checkpoint file or run directory (default: ``<output_dir>/last.pt``).
        """
        path = Path(path) if path is not None else self.output_dir / LAST
        if path.is_dir():
            path = path / LAST
        if not path.exists():
            raise FileNotFoundError(f"resume: no checkpoint to resume from at {path}")
        state, diff = self._load_generator(path, "resume", "resume with the original config or start a new --output-dir")
        if diff:
            log.warning("resume: config differs from checkpoint %s in %s", path, diff)
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        if self.discriminators is not None:
            if state.get("discriminators") is None:
                raise CheckpointError(f"resume: {path} has no discriminator state but model.adversarial is on")
            self.discriminators.load_state_dict(state["discriminators"])
            self.opt_d.load_state_dict(state["optimizer_d"])  # type: ignore[union-attr]
            self.sched_d.load_state_dict(state["scheduler_d"])
        self.global_step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        self.metrics = dict(state.get("metrics") or {})
        self.best = state.get("best")
        restore_rng_state(state["rng"])
        self.resumed = True
        self.resumed_from = path
        log.info("resumed from %s at step %d (epoch %d, batch %d)", path, self.global_step, self.epoch,
                 self.batch_in_epoch)  # fmt: skip

    def init_from(self, path: str | os.PathLike) -> None:
        """Start a new run from a checkpoint's generator weights only (fine-tuning).

        Any checkpoint works, the shipped inference file included: optimisers, schedules,
        discriminators, counters and RNG start afresh (step 0). The model config must match
        but for :data:`WEIGHT_FREE_MODEL_KEYS`; normalisation statistics that differ from the
        training data's are logged, since the weights were fitted to the checkpoint's.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"init_from: no checkpoint at {path}")
        state, _ = self._load_generator(path, "init_from", "the weights only fit the architecture they were trained with")
        ours, theirs = stats_for_checkpoint(self.dataset) or {}, state.get("stats") or {}
        for var in sorted(set(ours) & set(theirs)):
            for key in ("mean", "std"):
                a, b = float(ours[var][key]), float(theirs[var][key])
                if abs(a - b) > 1e-3 * max(abs(a), abs(b), 1e-12):
                    log.warning("init_from: %s %s is %.6g in the training data, %.6g in %s", var, key, a, b, path)
        log.info("initialised the generator from %s (its step %s); optimisers start afresh", path, state.get("step"))

    # ------------------------------------------------------------------ validation
    def run_validation(self, validate: Validator, best_key: str | None, logger: MetricsLog | None) -> dict[str, float]:
        """Score the generator (eval mode, no grad, RNG untouched); log it; keep ``best.pt``."""
        rng = capture_rng_state()
        model = unwrap(self.model)
        model.eval()
        try:
            with torch.no_grad():
                scores = {k: float(v) for k, v in validate(model).items()}
        finally:
            model.train()
            restore_rng_state(rng)
        if not scores:
            raise ConfigError("fit(validate=...): the validation callable returned no scores")
        key = best_key or self.config.train.best_metric or next(iter(scores))
        if key not in scores:
            raise ConfigError(f"train.best_metric / best_key '{key}' is not among the validation scores {sorted(scores)}")
        if logger is not None:
            logger.write({"step": self.global_step, "epoch": self.epoch, **{f"val_{k}": v for k, v in scores.items()}})
        value = scores[key]
        if math.isfinite(value) and (self.best is None or value < self.best["value"]):
            self.best = {"metric": key, "value": value, "step": self.global_step}
            self.save(self.output_dir / BEST)
        return scores

