"""Run-directory helpers of the trainer: metrics.csv, the LR schedule, seeding, batch order.

Kept apart from :mod:`.trainer` so the loop reads as a loop.
"""

from __future__ import annotations

import csv
import math
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import Dataset, DistributedSampler

from hurricane_ode.errors import ConfigError
from hurricane_ode.training.distributed import DistInfo, all_reduce_mean

__all__ = [
    "TrainResult",
    "default_amp",
    "resolve_device",
    "reduce_window",
    "METRIC_COLUMNS",
    "MetricsLog",
    "DecayWithFloor",
    "seed_everything",
    "worker_init",
    "epoch_batches",
    "stats_for_checkpoint",
]

#: columns of metrics.csv (empty where a term does not apply); validation scores add ``val_*`` columns
METRIC_COLUMNS = [
    "step", "epoch", "lr", "loss", "recon", "diff", "g_img", "g_seq", "d_img", "d_seq",
    "aux", "grad", "intensity", "storm", "mask", "storm_mask", "storm_flow", "steps_per_s",
]  # fmt: skip


class DecayWithFloor(LRScheduler):
    """``lr_e = lr * max(gamma**e, min_factor)`` after ``e`` epochs (one :meth:`step` per epoch).

    The floor is the official Vid-ODE code's (it never lets the LR fall below lr / 10);
    ``min_factor = 0`` is plain exponential decay. Its state dict also loads an
    ``ExponentialLR`` state (older checkpoints): ``last_epoch`` and ``gamma`` carry over.

    Parameters
    ----------
    optimizer
        The optimiser whose LR is set.
    gamma
        Decay factor per epoch.
    min_factor
        Floor, as a fraction of the initial LR.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, min_factor: float = 0.0, last_epoch: int = -1) -> None:
        self.gamma = gamma
        self.min_factor = min_factor
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float | torch.Tensor]:
        """The LR of each parameter group at ``last_epoch``."""
        f = max(self.gamma ** max(self.last_epoch, 0), self.min_factor)
        return [base * f for base in self.base_lrs]


class MetricsLog:
    """metrics.csv writer (rank 0); on resume, rows past the checkpoint's step are dropped.

    A row with a column not in the header (a new validation score) rewrites the file
    atomically with the wider header. TensorBoard events are written too when available.

    Parameters
    ----------
    path
        The CSV file.
    resume_step
        Keep rows up to this step (None: start a new file).
    """

    def __init__(self, path: Path, resume_step: int | None) -> None:
        self.path = path
        rows: list[dict] = []
        columns = list(METRIC_COLUMNS)
        if resume_step is not None and path.exists():
            with open(path, newline="") as fh:
                reader = csv.DictReader(fh)
                columns += [c for c in reader.fieldnames or [] if c not in columns]
                rows = [r for r in reader if r.get("step") and int(r["step"]) <= resume_step]
        self.columns = columns
        self._rewrite(rows)
        self.tb = None
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(log_dir=str(path.parent / "tensorboard"))
        except ImportError:
            pass

    def _rewrite(self, rows: list[dict]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        with open(tmp, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        os.replace(tmp, self.path)

    def write(self, row: Mapping[str, float | int | str]) -> None:
        """Append one row (floats to 6 significant digits)."""
        new = [k for k in row if k not in self.columns]
        if new:
            with open(self.path, newline="") as fh:
                old = list(csv.DictReader(fh))
            self.columns += new
            self._rewrite(old)
        with open(self.path, "a", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=self.columns, extrasaction="ignore")
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
        if self.tb is not None:
            for k, v in row.items():
                if k not in ("step", "epoch") and isinstance(v, int | float):
                    self.tb.add_scalar(k if k.startswith("val_") else f"train/{k}", v, int(row["step"]))

    def close(self) -> None:
        """Flush TensorBoard."""
        if self.tb is not None:
            self.tb.close()


def default_amp(device: torch.device) -> bool:
    """``train.amp = None``: bf16 autocast where bf16 is native (CUDA; CPUs with AVX512-BF16, AMX ones included)."""
    if device.type == "cuda":
        return True
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    return device.type == "cpu" and probe is not None and bool(probe())


def seed_everything(seed: int) -> None:
    """Seed python ``random``, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def worker_init(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: numpy and python RNGs from torch's per-worker seed."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


class _Length(Dataset[int]):
    """Stand-in dataset of a given length for DistributedSampler (which only needs len)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __len__(self) -> int:
        return self.n


def epoch_batches(n: int, batch_size: int, seed: int, epoch: int, info: DistInfo) -> list[list[int]]:
    """This rank's batches of epoch ``epoch``: a seeded shuffle sharded over ranks, full batches only."""
    sampler: DistributedSampler[int] = DistributedSampler(_Length(n), num_replicas=info.world_size, rank=info.rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    idx = list(sampler)
    return [idx[i : i + batch_size] for i in range(0, len(idx) - batch_size + 1, batch_size)]


def stats_for_checkpoint(dataset: Dataset) -> dict[str, dict[str, float]] | None:
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


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` and :func:`train` return."""

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
    best: dict[str, Any] | None = None
    """``{"metric", "value", "step"}`` of ``best.pt`` when validation ran, else None."""


def resolve_device(spec: str, info: DistInfo | None = None) -> torch.device:
    """``auto`` -> CUDA if available (``cuda:LOCAL_RANK`` under torchrun) else CPU; ``cpu``; ``cuda[:N]``."""
    local = info.local_rank if info is not None else 0
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cpu":
        return torch.device("cpu")
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"train.device={spec!r} but CUDA is not available; use 'cpu' or 'auto'")
        return torch.device(f"cuda:{local}") if spec == "cuda" else torch.device(spec)
    raise ConfigError(f"train.device must be 'auto', 'cpu' or 'cuda[:N]', got {spec!r}")


def reduce_window(sums: dict[str, torch.Tensor], count: int, info: DistInfo, step: int) -> dict[str, float]:
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
