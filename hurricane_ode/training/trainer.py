"""The training loop as a public :class:`Trainer`: Adamax, per-epoch LR decay with a floor, LS-GAN steps, AMP, DDP.

One optimiser step of the generator (Vid-ODE) on Eq. 7, then -- when
``ModelConfig.adversarial`` -- one step of the image and sequence discriminators on
the detached generated frames. Optimiser: Adamax (paper), ``lr`` decayed by
``lr_decay`` after every epoch but never below ``lr * lr_min_factor`` (the official
code's lr / 10 floor), separately for generator and discriminators. Gradient norms are
clipped at ``TrainConfig.grad_clip``: early in training the ODE dynamics are untrained
and a single stiff batch can produce huge gradients through the solver.

Determinism and exact resume: every RNG is seeded from ``TrainConfig.seed``; the
batch order of epoch ``e`` is a seeded permutation (``DistributedSampler`` with
``seed`` and ``set_epoch(e)``, one shard per rank); datasets yield items that depend
only on ``(seed, epoch, index)`` (``set_epoch`` is called when present). A checkpoint
records the epoch and how many of its batches are done, so :meth:`Trainer.resume`
skips exactly those; on CPU a run stopped after k steps and resumed ends with the same
weights as an uninterrupted run. Validation (``fit(validate=...)``) runs between steps
with the RNG state saved and restored, so it never changes the training trajectory.

Output directory: ``last.pt`` + ``step_*.pt`` (see :mod:`.checkpoint`), ``best.pt``
(with validation), ``metrics.csv`` (one row per ``log_every`` steps, window means
averaged over ranks; validation rows carry ``val_*`` columns), ``config.yaml``, and
TensorBoard events when ``tensorboard`` is importable.

    trainer = Trainer(config, dataset)
    trainer.fit(validate=lambda model: {"mse": ...}, validate_every=100)
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import yaml
from torch.utils.data import DataLoader, Dataset

from hurricane_ode.config import Config, config_to_dict, validate_config
from hurricane_ode.data.clips import Clip, collate_clips
from hurricane_ode.errors import ConfigError, ModelInputError
from hurricane_ode.models.base import ModelOutput, build_model
from hurricane_ode.models.discriminators import build_discriminators
from hurricane_ode.training.augment import stretch_times
from hurricane_ode.training.checkpoint import LAST
from hurricane_ode.training.distributed import (
    DistInfo,
    average_gradients,
    broadcast_module,
    cleanup_distributed,
    init_distributed,
    unwrap,
    wrap_ddp,
)
from hurricane_ode.training.losses import discriminator_loss, generator_loss
from hurricane_ode.training.runlog import (
    METRIC_COLUMNS,
    DecayWithFloor,
    MetricsLog,
    TrainResult,
    default_amp,
    epoch_batches,
    reduce_window,
    resolve_device,
    seed_everything,
    worker_init,
)
from hurricane_ode.training.state import BEST, TrainerState, Validator

__all__ = ["BEST", "Trainer", "TrainResult", "train", "resolve_device", "seed_everything", "epoch_batches", "METRIC_COLUMNS"]

log = logging.getLogger(__name__)

class Trainer(TrainerState):
    """Builds the model, discriminators and optimisers from a config; steps, saves, resumes, fits.

    Parameters
    ----------
    config
        The run's configuration (validated here).
    dataset
        Training clips (default: ``build_dataset(config.data, "train", seed)``).
    progress
        Show a tqdm bar in :meth:`fit` (default ``config.train.progress``; rank 0 only).
    info
        This process's DDP place (default: not distributed; :func:`train` starts DDP under torchrun).
    """

    def __init__(
        self, config: Config, dataset: Dataset | None = None, *, progress: bool | None = None,
        info: DistInfo | None = None,
    ) -> None:  # fmt: skip
        validate_config(config)
        tc = config.train
        self.config = config
        self.info = info if info is not None else DistInfo()
        self.device = resolve_device(tc.device, self.info)
        self.output_dir = Path(tc.output_dir)
        self.progress = tc.progress if progress is None else progress
        if dataset is None:
            from hurricane_ode.data.sources import build_dataset

            dataset = build_dataset(config.data, "train", tc.seed)
        self.dataset = dataset
        n_items = len(dataset)  # type: ignore[arg-type]
        per_rank = math.ceil(n_items / self.info.world_size)
        self.n_items, self.batches_per_epoch = n_items, per_rank // tc.batch_size
        if self.batches_per_epoch == 0:
            raise ConfigError(
                f"the training set has {n_items} clips ({per_rank} per rank), fewer than "
                f"train.batch_size={tc.batch_size}; lower the batch size or raise data.clips_per_epoch"
            )
        seed_everything(tc.seed)
        self.model = build_model(config.model).to(self.device)
        self.discriminators = build_discriminators(config.model).to(self.device) if config.model.adversarial else None
        self.opt = torch.optim.Adamax(self.model.parameters(), lr=tc.lr)
        self.sched = DecayWithFloor(self.opt, tc.lr_decay, tc.lr_min_factor)
        self.opt_d = self.sched_d = None
        if self.discriminators is not None:
            self.opt_d = torch.optim.Adamax(self.discriminators.parameters(), lr=tc.lr)
            self.sched_d = DecayWithFloor(self.opt_d, tc.lr_decay, tc.lr_min_factor)
        self.global_step = self.epoch = self.batch_in_epoch = 0
        self.best: dict[str, Any] | None = None
        self.metrics: dict[str, float] = {}
        self.resumed = False
        self.resumed_from: Path | None = None
        self.amp = tc.amp if tc.amp is not None else default_amp(self.device)
        amp = self.amp
        self._autocast = (
            (lambda: torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)) if amp else nullcontext
        )
        # the module the step calls: DDP-wrapped (multi-process) and/or compiled
        self.gmodel: Callable[..., ModelOutput] = wrap_ddp(self.model, self.info, self.device,
                                                           find_unused=tc.ddp_find_unused)
        if tc.compile:
            self.gmodel = torch.compile(self.gmodel)
        if self.discriminators is not None:
            broadcast_module(self.discriminators, self.info)

    @classmethod
    def from_config(cls, config: Config, dataset: Dataset | None = None, **kwargs: Any) -> Trainer:
        """Same as ``Trainer(config, dataset, **kwargs)``."""
        return cls(config, dataset, **kwargs)

    # ------------------------------------------------------------------ one step
    def check_batch(self, batch: Clip) -> None:
        """Check a batch against the model; values are read only for CPU tensors (no device sync)."""
        mc = self.config.model
        if batch.n_channels != mc.in_channels:
            raise ModelInputError(f"the data has {batch.n_channels} channels but model.in_channels={mc.in_channels}")
        check = getattr(self.model, "check", None)
        if check is not None:
            check(batch.inputs, batch.input_times, batch.target_times, batch.input_mask,
                  values=batch.input_times.device.type == "cpu")  # fmt: skip

    def step(self, batch: Clip) -> dict[str, torch.Tensor]:
        """One generator step (Eq. 7) and, when adversarial, one discriminator step.

        Parameters
        ----------
        batch
            A collated :class:`Clip` (any device; checked on the CPU, then moved).

        Returns
        -------
        dict of str to Tensor
            Detached scalar loss terms (``loss``, ``recon``, ``diff``, ``g_img`` ...), left on
            the device so no host sync happens per step.
        """
        self.check_batch(batch)
        tc, task = self.config.train, self.config.data.sampling.task
        batch = stretch_times(batch, tc.time_stretch, tc.seed, self.global_step)  # 1: unchanged
        batch = batch.to(self.device, non_blocking=True)
        model, discs = self.model, self.discriminators
        model.train()
        if discs is not None:
            discs.train()
            discs.requires_grad_(False)
        with self._autocast():
            out = self.gmodel(batch.inputs, batch.input_times, batch.target_times, batch.input_mask)
            loss, terms = generator_loss(out, batch, self.config.loss, discs, task)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if tc.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        self.opt.step()
        if discs is not None and self.opt_d is not None:
            discs.requires_grad_(True)
            with self._autocast():
                d_loss, d_terms = discriminator_loss(out.frames, batch, discs, task)
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            average_gradients(discs, self.info)
            if tc.grad_clip is not None:
                torch.nn.utils.clip_grad_norm_(discs.parameters(), tc.grad_clip)
            self.opt_d.step()
            terms.update(d_terms)
        self.global_step += 1
        return terms

    # ------------------------------------------------------------------ the loop
    def _start_run(self) -> None:
        last = self.output_dir / LAST
        if not self.resumed and last.exists():
            raise FileExistsError(
                f"{last} exists; pass resume=True (--resume) to continue that run or choose another output_dir"
            )
        source = self.resumed_from
        new_stage = self.resumed and source is not None and source.parent.resolve() != self.output_dir.resolve()
        if new_stage and last.exists():
            raise FileExistsError(
                f"{last} exists: starting from {source} would overwrite that run; choose another output_dir"
            )
        if (not self.resumed or new_stage) and self.info.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            tmp = self.output_dir / ".config.yaml.tmp"
            tmp.write_text(yaml.safe_dump(config_to_dict(self.config), sort_keys=False))
            os.replace(tmp, self.output_dir / "config.yaml")

    def _loader(self) -> tuple[DataLoader, int]:
        tc = self.config.train
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(self.epoch)
        batches = epoch_batches(self.n_items, tc.batch_size, tc.seed, self.epoch, self.info)
        gen = torch.Generator().manual_seed(tc.seed * 1_000_003 + self.epoch)
        loader = DataLoader(
            self.dataset, batch_sampler=batches[self.batch_in_epoch :], collate_fn=collate_clips,
            num_workers=self.config.data.num_workers, worker_init_fn=worker_init, generator=gen,
            pin_memory=self.device.type == "cuda",
        )  # fmt: skip
        return loader, len(batches)

    def fit(
        self, validate: Validator | None = None, validate_every: int | None = None, best_key: str | None = None
    ) -> TrainResult:
        """Train until ``train.max_steps`` or ``train.epochs``; checkpoint; optionally validate.

        Parameters
        ----------
        validate
            ``f(generator) -> {name: score}`` (lower is better for the best-model key), called
            on rank 0 in eval mode under ``no_grad``; scores go to metrics.csv as ``val_<name>``.
        validate_every
            Validate every N steps and at the end (default ``train.validate_every``; 0 = only at the end).
        best_key
            Score that picks ``best.pt`` (default ``train.best_metric``, else the first score).

        Returns
        -------
        TrainResult
        """
        from tqdm.auto import tqdm

        tc, info = self.config.train, self.info
        self._start_run()
        every = tc.validate_every if validate_every is None else validate_every
        if every < 0:
            raise ConfigError(f"fit: validate_every must be >= 0, got {every}")
        max_steps = tc.max_steps if tc.max_steps is not None else tc.epochs * self.batches_per_epoch
        total = min(max_steps, tc.epochs * self.batches_per_epoch)
        bar = tqdm(total=total, initial=min(self.global_step, total), disable=not (self.progress and info.is_main),
                   desc="train", unit="step", dynamic_ncols=True)  # fmt: skip
        logger = MetricsLog(self.output_dir / "metrics.csv", self.global_step if self.resumed else None) if info.is_main else None
        sums: dict[str, torch.Tensor] = {}
        count, window_start = 0, time.perf_counter()
        last_saved = self.global_step if self.resumed else -1
        last_validated = self.global_step if self.resumed and self.best is not None else -1
        try:
            while self.epoch < tc.epochs and self.global_step < max_steps:
                loader, n_batches = self._loader()
                for batch in loader:
                    if self.global_step >= max_steps:
                        break
                    terms = self.step(batch)
                    self.batch_in_epoch += 1
                    for k, v in terms.items():  # kept on the device: no sync per step
                        sums[k] = sums[k] + v if k in sums else v.clone()
                    count += 1
                    step = self.global_step
                    if step % tc.log_every == 0 or step == max_steps:
                        self.metrics = reduce_window(sums, count, info, step)
                        rate = count / max(time.perf_counter() - window_start, 1e-9)
                        self.metrics["steps_per_s"] = rate
                        if logger is not None:
                            aux = sum(v for k, v in self.metrics.items() if k.startswith("aux_")) or ""
                            logger.write({"step": step, "epoch": self.epoch, "lr": self.opt.param_groups[0]["lr"],
                                          **self.metrics, "aux": aux})  # fmt: skip
                        bar.set_postfix(loss=f"{self.metrics['loss']:.4g}", steps_s=f"{rate:.2f}")
                        sums, count, window_start = {}, 0, time.perf_counter()
                    bar.update(1)
                    if validate is not None and every > 0 and step % every == 0:
                        if info.is_main:
                            self.run_validation(validate, best_key, logger)
                        last_validated = step
                    if tc.checkpoint_every > 0 and step % tc.checkpoint_every == 0:
                        self.save()
                        last_saved = step
                if self.batch_in_epoch >= n_batches:
                    self.sched.step()
                    if self.sched_d is not None:
                        self.sched_d.step()
                    self.epoch += 1
                    self.batch_in_epoch = 0
            if count:
                self.metrics = reduce_window(sums, count, info, self.global_step)
            if validate is not None and last_validated != self.global_step and info.is_main:
                self.run_validation(validate, best_key, logger)
            if last_saved != self.global_step:
                self.save()
        finally:
            bar.close()
            if logger is not None:
                logger.close()
        return TrainResult(
            model=unwrap(self.model), checkpoint=self.output_dir / LAST if info.is_main else None,
            metrics=self.metrics, step=self.global_step, epoch=self.epoch, output_dir=self.output_dir,
            discriminators=self.discriminators, best=self.best,
        )  # fmt: skip


def train(
    config: Config,
    *,
    dataset: Dataset | None = None,
    resume: bool | str | os.PathLike = False,
    progress: bool | None = None,
    validate: Validator | None = None,
    init_from: str | os.PathLike | None = None,
) -> TrainResult:
    """Train ``config.model`` (the simple entry point over :class:`Trainer`).

    Parameters
    ----------
    config
        The run's configuration.
    dataset
        Training clips (default: ``build_dataset(config.data, "train", seed)``).
    resume
        True: continue from ``<output_dir>/last.pt`` exactly where it stopped (FileNotFoundError
        names the file if there is none). Without it an existing ``last.pt`` is an error,
        so a run is never overwritten by accident. A checkpoint path: continue from that
        checkpoint into ``output_dir`` (a second training stage: the model config must match;
        other changes, e.g. a loss weight, are logged as warnings).
    progress
        Show a tqdm bar (default ``config.train.progress``); only rank 0 shows one.
    validate
        Optional validation callable, see :meth:`Trainer.fit`.
    init_from
        A checkpoint (e.g. the shipped model) whose generator weights start a new run; the
        optimisers start afresh (:meth:`Trainer.init_from`). Excludes ``resume``.

    Returns
    -------
    TrainResult

    Launch under ``torchrun`` for DDP (see :mod:`.distributed`).
    """
    validate_config(config)
    if init_from is not None and resume is not False:
        raise ConfigError("train: init_from and resume exclude each other")
    tc = config.train
    device_type = "cuda" if (tc.device.startswith("cuda") or (tc.device == "auto" and torch.cuda.is_available())) else "cpu"
    info = init_distributed(device_type)
    try:
        trainer = Trainer(config, dataset, progress=progress, info=info)
        if resume is not False:
            trainer.resume(None if resume is True else resume)
        elif init_from is not None:
            trainer.init_from(init_from)
        return trainer.fit(validate=validate)
    finally:
        cleanup_distributed(info)
