"""DistributedDataParallel glue for runs launched with ``torchrun``.

``torchrun --nproc_per_node N -m hurricane_ode.cli train --config ...`` sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (and the rendezvous address); the trainer
calls :func:`init_distributed`, which starts a process group (``nccl`` on CUDA,
``gloo`` on CPU) when ``WORLD_SIZE > 1`` and otherwise does nothing. Each rank
reads its own shard of every epoch (``torch.utils.data.DistributedSampler``,
shuffled with the run's seed and ``set_epoch``); gradients are averaged by DDP;
only rank 0 writes checkpoints, logs and progress bars.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

import torch
import torch.distributed as dist
from torch import nn

__all__ = [
    "DistInfo",
    "init_distributed",
    "cleanup_distributed",
    "wrap_ddp",
    "unwrap",
    "barrier",
    "all_reduce_mean",
    "broadcast_module",
    "average_gradients",
]


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (rank 0 of 1 when not distributed)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    enabled: bool = False
    """True when a process group was started by :func:`init_distributed`."""

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from None


def init_distributed(device_type: str) -> DistInfo:
    """Start the process group from torchrun's environment (no-op for a single process).

    device_type: ``"cuda"`` (nccl; also selects ``cuda:LOCAL_RANK``) or ``"cpu"`` (gloo).
    """
    world = _env_int("WORLD_SIZE", 1)
    rank = _env_int("RANK", 0)
    local = _env_int("LOCAL_RANK", 0)
    if world <= 1:
        return DistInfo(rank=0, world_size=1, local_rank=0, enabled=False)
    if not 0 <= rank < world:
        raise ValueError(f"RANK={rank} is outside 0..WORLD_SIZE-1={world - 1}")
    if dist.is_initialized():
        return DistInfo(
            rank=dist.get_rank(), world_size=dist.get_world_size(), local_rank=local, enabled=False
        )
    backend = "nccl" if device_type == "cuda" else "gloo"
    if device_type == "cuda":
        torch.cuda.set_device(local)
    dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank=rank, world_size=world, local_rank=local, enabled=True)


def cleanup_distributed(info: DistInfo) -> None:
    """Destroy the process group that :func:`init_distributed` started."""
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.world_size > 1 and dist.is_initialized():
        dist.barrier()


def wrap_ddp(
    module: nn.Module, info: DistInfo, device: torch.device, find_unused: bool = False
) -> nn.Module:
    """Wrap ``module`` in DistributedDataParallel when running distributed (else return it)."""
    if info.world_size <= 1:
        return module
    ids = (
        [device.index if device.index is not None else info.local_rank]
        if device.type == "cuda"
        else None
    )
    return nn.parallel.DistributedDataParallel(
        module, device_ids=ids, find_unused_parameters=find_unused
    )


def unwrap(module: nn.Module) -> nn.Module:
    """The plain module inside DDP and/or ``torch.compile`` wrappers."""
    while True:
        # nn.Module.__getattr__ is typed Tensor | Module; these two are modules
        if isinstance(module, nn.parallel.DistributedDataParallel):
            module = cast(nn.Module, module.module)
        elif hasattr(module, "_orig_mod"):
            module = cast(nn.Module, module._orig_mod)
        else:
            return module


def all_reduce_mean(value: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Mean of a tensor over ranks (identity when not distributed)."""
    if info.world_size <= 1 or not dist.is_initialized():
        return value
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / info.world_size


def broadcast_module(module: nn.Module, info: DistInfo) -> None:
    """Copy rank 0's parameters and buffers to every rank (for modules not wrapped in DDP)."""
    if info.world_size <= 1 or not dist.is_initialized():
        return
    with torch.no_grad():
        for t in [*module.parameters(), *module.buffers()]:
            dist.broadcast(t.data, src=0)


def average_gradients(module: nn.Module, info: DistInfo) -> None:
    """All-reduce-mean the gradients (and float buffers) of a module that is not wrapped in DDP.

    Used for the discriminators, whose real and fake passes are separate forward calls.
    """
    if info.world_size <= 1 or not dist.is_initialized():
        return
    with torch.no_grad():
        for p in module.parameters():
            if p.grad is not None:
                dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
                p.grad.div_(info.world_size)
        for b in module.buffers():
            if torch.is_floating_point(b):
                dist.all_reduce(b, op=dist.ReduceOp.SUM)
                b.div_(info.world_size)
