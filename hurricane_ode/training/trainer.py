"""The training loop: Adamax, per-epoch LR decay, LS-GAN steps, AMP, DDP, checkpoint/resume.

One optimiser step of the generator (Vid-ODE) on Eq. 7, then — when
``ModelConfig.adversarial`` — one step of the image and sequence discriminators on
the detached generated frames. Optimiser: Adamax (paper), ``lr`` decayed by
``lr_decay`` after every epoch (``ExponentialLR``), separately for generator and
discriminators. Gradient norms are clipped at ``TrainConfig.grad_clip``: early in
training the ODE dynamics are untrained and a single stiff batch can produce huge
gradients through the solver; clipping keeps those from wrecking the weights.

Determinism and exact resume: every RNG is seeded from ``TrainConfig.seed``; the
batch order of epoch ``e`` is a seeded permutation (``DistributedSampler`` with
``seed`` and ``set_epoch(e)``, one shard per rank); datasets yield items that depend
only on ``(seed, epoch, index)`` (``set_epoch`` is called when present). A checkpoint
records the epoch and how many of its batches are done, so ``resume=True`` skips
exactly those and continues; on CPU a run stopped after k steps and resumed ends with
the same weights as an uninterrupted run.

Output directory: ``last.pt`` + ``step_*.pt`` (see :mod:`.checkpoint`),
``metrics.csv`` (one row per ``log_every`` steps; averaged over the window and over
ranks), ``config.yaml``, and TensorBoard events when ``tensorboard`` is importable.
"""

from __future__ import annotations

import csv
import logging
import math
import os
import random
import time
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from hurricane_ode.config import Config, ModelConfig, config_to_dict
from hurricane_ode.data.clips import Clip, collate_clips
from hurricane_ode.models.base import build_model
from hurricane_ode.training.checkpoint import (
    LAST,
    capture_rng_state,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)
from hurricane_ode.training.distributed import (
    DistInfo,
    all_reduce_mean,
    average_gradients,
    barrier,
    broadcast_module,
    cleanup_distributed,
    init_distributed,
    unwrap,
    wrap_ddp,
)
from hurricane_ode.training.losses import discriminator_loss, generator_loss

__all__ = ["TrainResult", "train", "resolve_device", "seed_everything", "epoch_batches"]

log = logging.getLogger(__name__)

#: columns of metrics.csv (empty where a term does not apply)
METRIC_COLUMNS = [
    "step", "epoch", "lr", "loss", "recon", "diff", "g_img", "g_seq", "d_img", "d_seq",
    "aux", "steps_per_s",
]  # fmt: skip

#: config keys that may change between a run and its resume without a warning
_RESUME_FREE_KEYS = {
    "train.max_steps", "train.epochs", "train.progress", "train.output_dir", "train.device",
    "train.log_every", "train.checkpoint_every", "train.keep_checkpoints", "data.num_workers",
    "data.path",
}  # fmt: skip


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    model: nn.Module
    """The trained generator (unwrapped, on the training device, train mode)."""
    checkpoint: Path | None
    """``last.pt`` of the run (None on ranks other than 0)."""
    metrics: dict[str, float] = field(default_factory=dict)
    """Loss terms averaged over the last logging window."""
    step: int = 0
    epoch: int = 0
    output_dir: Path = Path(".")
    discriminators: nn.ModuleDict | None = None
    """The trained discriminators (adversarial runs)."""


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _worker_init(worker_id: int) -> None:
    # torch seeds each worker with base_seed + worker_id (base_seed from the loader's generator).
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def resolve_device(spec: str, info: DistInfo | None = None) -> torch.device:
    """``auto`` -> CUDA if available (``cuda:LOCAL_RANK`` under torchrun) else CPU; ``cpu``; ``cuda[:N]``."""
    local = info.local_rank if info is not None else 0
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"train.device={spec!r} but CUDA is not available; use 'cpu' or 'auto'"
            )
        return torch.device(f"cuda:{local}") if spec == "cuda" else torch.device(spec)
    raise ValueError(f"train.device must be 'auto', 'cpu' or 'cuda[:N]', got {spec!r}")


class _Length:
    """Stand-in dataset of a given length for DistributedSampler (which only needs len)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def epoch_batches(
    n: int, batch_size: int, seed: int, epoch: int, info: DistInfo
) -> list[list[int]]:
    """This rank's batches of epoch ``epoch``: a seeded shuffle sharded over ranks, full batches only."""
    sampler = DistributedSampler(
        _Length(n), num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed
    )
    sampler.set_epoch(epoch)
    idx = list(sampler)
    return [idx[i : i + batch_size] for i in range(0, len(idx) - batch_size + 1, batch_size)]


def _build_discriminators(config: ModelConfig) -> nn.ModuleDict:
    from hurricane_ode.models.discriminators import build_discriminators

    return build_discriminators(config)


def _flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _check_resume_config(saved: dict, current: dict, path: Path) -> None:
    old, new = _flatten(saved), _flatten(current)
    model_diff = sorted(
        k for k in set(old) | set(new) if k.startswith("model.") and old.get(k) != new.get(k)
    )
    if model_diff:
        raise ValueError(
            f"resume: the model config differs from checkpoint {path} in {model_diff}; "
            "resume with the original config or start a new --output-dir"
        )
    other = sorted(
        k for k in set(old) | set(new) if old.get(k) != new.get(k) and k not in _RESUME_FREE_KEYS
    )
    if other:
        log.warning("resume: config differs from checkpoint %s in %s", path, other)


class _MetricsLog:
    """metrics.csv writer (rank 0); on resume, rows past the checkpoint's step are dropped."""

    def __init__(self, path: Path, resume_step: int | None) -> None:
        self.path = path
        rows: list[dict] = []
        if resume_step is not None and path.exists():
            with open(path, newline="") as fh:
                rows = [
                    r for r in csv.DictReader(fh) if r.get("step") and int(r["step"]) <= resume_step
                ]
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, path)
        self.fh = open(path, "a", newline="")
        self.writer = csv.DictWriter(self.fh, fieldnames=METRIC_COLUMNS, extrasaction="ignore")
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(path.parent / "tensorboard"))
        except ImportError:
            pass

    def write(self, row: dict[str, float]) -> None:
        self.writer.writerow(
            {k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()}
        )
        self.fh.flush()
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("step", "epoch"):
                    self.tb.add_scalar(f"train/{k}", v, row["step"])

    def close(self) -> None:
        self.fh.close()
        if self.tb is not None:
            self.tb.close()


def _stats_for_checkpoint(dataset: Dataset) -> dict[str, dict[str, float]] | None:
    """``dataset.stats`` as ``{var: {"mean": m, "std": s}}`` (accepts (mean, std) pairs too)."""
    try:
        stats = dataset.stats  # type: ignore[attr-defined]
    except (AttributeError, KeyError):
        return None
    if not stats:
        return None
    out = {}
    for k, v in stats.items():
        m, sd = (v["mean"], v["std"]) if isinstance(v, Mapping) else (v[0], v[1])
        out[str(k)] = {"mean": float(m), "std": float(sd)}
    return out


def train(
    config: Config,
    *,
    dataset: Dataset | None = None,
    resume: bool = False,
    progress: bool | None = None,
) -> TrainResult:
    """Train ``config.model`` on ``dataset`` (default: ``build_dataset(config.data, "train", seed)``).

    resume:   continue from ``<output_dir>/last.pt`` exactly where it stopped (the
              FileNotFoundError names the file if there is none). Without ``resume`` an
              existing ``last.pt`` is an error, so a run is never overwritten by accident.
    progress: show a tqdm bar (default ``config.train.progress``); only rank 0 shows one.

    Launch under ``torchrun`` for DDP (see :mod:`.distributed`).
    """
    tc = config.train
    if tc.batch_size < 1:
        raise ValueError(f"train.batch_size must be >= 1, got {tc.batch_size}")
    if tc.max_steps is not None and tc.max_steps < 0:
        raise ValueError(f"train.max_steps must be >= 0 or null, got {tc.max_steps}")
    device_type = (
        "cuda"
        if (tc.device.startswith("cuda") or (tc.device == "auto" and torch.cuda.is_available()))
        else "cpu"
    )
    info = init_distributed(device_type)
    try:
        return _train(config, dataset, resume, progress, info)
    finally:
        cleanup_distributed(info)


def _train(
    config: Config, dataset: Dataset | None, resume: bool, progress: bool | None, info: DistInfo
) -> TrainResult:
    from tqdm.auto import tqdm

    tc = config.train
    device = resolve_device(tc.device, info)
    out_dir = Path(tc.output_dir)
    last_path = out_dir / LAST
    if resume and not last_path.exists():
        raise FileNotFoundError(f"--resume: no checkpoint to resume from at {last_path}")
    if not resume and last_path.exists():
        raise FileExistsError(
            f"{last_path} exists; pass resume=True (--resume) to continue that run or choose another output_dir"
        )
    if dataset is None:
        from hurricane_ode.data.sources import build_dataset

        dataset = build_dataset(config.data, "train", tc.seed)
    n_items = len(dataset)  # type: ignore[arg-type]
    per_rank = math.ceil(n_items / info.world_size)
    n_batches = per_rank // tc.batch_size
    if n_batches == 0:
        raise ValueError(
            f"the training set has {n_items} clips ({per_rank} per rank), fewer than "
            f"train.batch_size={tc.batch_size}; lower the batch size or raise data.clips_per_epoch"
        )

    seed_everything(tc.seed)
    model = build_model(config.model).to(device)
    adversarial = bool(config.model.adversarial)
    discs = _build_discriminators(config.model).to(device) if adversarial else None
    opt = torch.optim.Adamax(model.parameters(), lr=tc.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=tc.lr_decay)
    opt_d = sched_d = None
    if discs is not None:
        opt_d = torch.optim.Adamax(discs.parameters(), lr=tc.lr)
        sched_d = torch.optim.lr_scheduler.ExponentialLR(opt_d, gamma=tc.lr_decay)

    step = epoch = start_batch = 0
    if resume:
        state = load_checkpoint(last_path)
        _check_resume_config(state["config"], config_to_dict(config), last_path)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        if discs is not None:
            if state.get("discriminators") is None:
                raise ValueError(
                    f"resume: {last_path} has no discriminator state but model.adversarial is on"
                )
            discs.load_state_dict(state["discriminators"])
            opt_d.load_state_dict(state["optimizer_d"])
            sched_d.load_state_dict(state["scheduler_d"])
        step, epoch, start_batch = (
            int(state["step"]),
            int(state["epoch"]),
            int(state["batch_in_epoch"]),
        )
        restore_rng_state(state["rng"])
        log.info(
            "resumed from %s at step %d (epoch %d, batch %d)", last_path, step, epoch, start_batch
        )
    elif info.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        tmp = out_dir / ".config.yaml.tmp"
        tmp.write_text(yaml.safe_dump(config_to_dict(config), sort_keys=False))
        os.replace(tmp, out_dir / "config.yaml")

    amp = tc.amp if tc.amp is not None else device.type == "cuda"
    autocast = (
        (lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16))
        if amp
        else nullcontext
    )
    gmodel = wrap_ddp(model, info, device, find_unused=tc.ddp_find_unused)
    if tc.compile:
        gmodel = torch.compile(gmodel)
    if discs is not None:
        broadcast_module(discs, info)
    task = config.data.sampling.task
    max_steps = tc.max_steps if tc.max_steps is not None else tc.epochs * n_batches
    total = min(max_steps, tc.epochs * n_batches)

    show = (tc.progress if progress is None else progress) and info.is_main
    bar = tqdm(
        total=total,
        initial=min(step, total),
        disable=not show,
        desc="train",
        unit="step",
        dynamic_ncols=True,
    )
    logger = (
        _MetricsLog(out_dir / "metrics.csv", step if resume else None) if info.is_main else None
    )
    sums: dict[str, torch.Tensor] = {}
    count = 0
    window_start = time.perf_counter()
    metrics: dict[str, float] = {}
    last_saved = step if resume else -1
    checked = False

    def snapshot() -> dict[str, Any]:
        return {
            "config": config_to_dict(config),
            "stats": _stats_for_checkpoint(dataset),
            "model": unwrap(model).state_dict(),
            "discriminators": None if discs is None else discs.state_dict(),
            "optimizer": opt.state_dict(),
            "optimizer_d": None if opt_d is None else opt_d.state_dict(),
            "scheduler": sched.state_dict(),
            "scheduler_d": None if sched_d is None else sched_d.state_dict(),
            "step": step,
            "epoch": epoch,
            "batch_in_epoch": batch_in_epoch,
            "rng": capture_rng_state(),
            "metrics": dict(metrics),
        }

    def checkpoint() -> None:
        nonlocal last_saved
        if info.is_main:
            save_checkpoint(snapshot(), out_dir, keep=tc.keep_checkpoints)
        barrier(info)
        last_saved = step

    batch_in_epoch = start_batch
    try:
        while epoch < tc.epochs and step < max_steps:
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)
            batches = epoch_batches(n_items, tc.batch_size, tc.seed, epoch, info)
            gen = torch.Generator().manual_seed(tc.seed * 1_000_003 + epoch)
            loader = DataLoader(
                dataset,
                batch_sampler=batches[batch_in_epoch:],
                collate_fn=collate_clips,
                num_workers=config.data.num_workers,
                worker_init_fn=_worker_init,
                generator=gen,
                pin_memory=device.type == "cuda",
            )
            for batch in loader:
                if step >= max_steps:
                    break
                batch: Clip = batch.to(device, non_blocking=True)
                if not checked:
                    _check_batch(batch, config.model)
                    checked = True
                terms = _train_step(
                    gmodel, model, discs, opt, opt_d, batch, config, task, autocast, info
                )
                step += 1
                batch_in_epoch += 1
                for k, v in terms.items():  # kept on the device: no sync per step
                    sums[k] = sums[k] + v if k in sums else v.clone()
                count += 1
                if step % tc.log_every == 0 or step == max_steps:
                    metrics = _reduce_window(sums, count, info, step)
                    rate = count / max(time.perf_counter() - window_start, 1e-9)
                    metrics["steps_per_s"] = rate
                    if logger is not None:
                        row = {
                            "step": step,
                            "epoch": epoch,
                            "lr": opt.param_groups[0]["lr"],
                            **metrics,
                        }
                        row["aux"] = (
                            sum(v for k, v in metrics.items() if k.startswith("aux_")) or ""
                        )
                        logger.write(row)
                    bar.set_postfix(loss=f"{metrics['loss']:.4g}", steps_s=f"{rate:.2f}")
                    sums, count, window_start = {}, 0, time.perf_counter()
                bar.update(1)
                if tc.checkpoint_every > 0 and step % tc.checkpoint_every == 0:
                    checkpoint()
            if batch_in_epoch >= len(batches):
                sched.step()
                if sched_d is not None:
                    sched_d.step()
                epoch += 1
                batch_in_epoch = 0
        if count:
            metrics = _reduce_window(sums, count, info, step)
        if last_saved != step:
            checkpoint()
    finally:
        bar.close()
        if logger is not None:
            logger.close()
    return TrainResult(
        model=unwrap(model),
        checkpoint=last_path if info.is_main else None,
        metrics=metrics,
        step=step,
        epoch=epoch,
        output_dir=out_dir,
        discriminators=discs,
    )


def _check_batch(batch: Clip, mc: ModelConfig) -> None:
    if batch.n_channels != mc.in_channels:
        raise ValueError(
            f"the data has {batch.n_channels} channels but model.in_channels={mc.in_channels}"
        )


def _reduce_window(
    sums: dict[str, torch.Tensor], count: int, info: DistInfo, step: int
) -> dict[str, float]:
    """Window means of the loss terms, averaged over ranks; a non-finite loss is an error."""
    keys = sorted(sums)
    vals = torch.stack([sums[k].detach().double() / max(count, 1) for k in keys])
    vals = all_reduce_mean(vals, info).cpu()
    out = {k: float(v) for k, v in zip(keys, vals)}
    if not math.isfinite(out.get("loss", 0.0)):
        raise FloatingPointError(
            f"non-finite training loss by step {step}: {out}; try a smaller train.lr, "
            "train.grad_clip or a finer model.solver.step_size"
        )
    return out


def _train_step(
    gmodel: nn.Module,
    model: nn.Module,
    discs: nn.ModuleDict | None,
    opt: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer | None,
    batch: Clip,
    config: Config,
    task: str,
    autocast: Callable,
    info: DistInfo,
) -> dict[str, torch.Tensor]:
    """One generator step, then (adversarial) one discriminator step. Returns detached terms."""
    tc = config.train
    model.train()
    if discs is not None:
        discs.train()
        discs.requires_grad_(False)
    with autocast():
        out = gmodel(batch.inputs, batch.input_times, batch.target_times, batch.input_mask)
        loss, terms = generator_loss(out, batch, config.loss, discs, task)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if tc.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
    opt.step()
    if discs is not None and opt_d is not None:
        discs.requires_grad_(True)
        with autocast():
            d_loss, d_terms = discriminator_loss(out.frames, batch, discs, task)
        opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        average_gradients(discs, info)
        if tc.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(discs.parameters(), tc.grad_clip)
        opt_d.step()
        terms.update(d_terms)
    return terms
