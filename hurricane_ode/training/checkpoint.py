"""Checkpoints: atomic writes, retention, and loading with ``weights_only=True``.

A checkpoint is a plain dict of tensors, numbers, strings, lists and dicts (so
``torch.load(..., weights_only=True)`` can read it; nothing is pickled)::

    format_version, package_version, config (config_to_dict),
    stats ({var: {"mean": m, "std": s}} in physical units | None),
    model, step_memories ({solve: dopri5 step size}; may be absent), discriminators | None,
    optimizer, optimizer_d | None, scheduler, scheduler_d | None,
    step, epoch, batch_in_epoch (batches of ``epoch`` already done), rng, metrics,
    best ({"metric", "value", "step"} of best.pt, or None)

RNG states are stored as tensors/lists: torch CPU (uint8 tensor), CUDA (list of uint8
tensors), numpy (``MT19937`` key as an int64 tensor + position/gauss numbers) and
python ``random`` (list of ints).

Files in a run directory: ``step_000000200.pt`` ... (the newest ``keep`` kept) and
``last.pt`` (a hard link to / copy of the newest one). Every file is written to a
temporary name in the same directory and renamed with :func:`os.replace`, so a crash
mid-write never leaves a partial file under a final name.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hurricane_ode.errors import InputError

__all__ = [
    "average_checkpoints",
    "FORMAT_VERSION",
    "LAST",
    "save_checkpoint",
    "load_checkpoint",
    "load_model",
    "capture_rng_state",
    "restore_rng_state",
    "atomic_torch_save",
    "file_digest",
]

FORMAT_VERSION = 1
LAST = "last.pt"
_STEP_PREFIX = "step_"


def capture_rng_state() -> dict[str, Any]:
    """Every RNG state this process uses, in a ``weights_only``-loadable form."""
    kind, key, pos, has_gauss, cached = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "kind": str(kind),
            "key": torch.from_numpy(np.asarray(key, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {"version": int(py_version), "state": list(py_state), "gauss": py_gauss},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"].cpu().to(torch.uint8))
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["kind"],
            npst["key"].numpy().astype(np.uint32),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["state"]), py["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        cuda = state["cuda"]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary file next to ``path``, fsync, then rename onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _link_or_copy(src: Path, dst: Path) -> None:
    """Make ``dst`` refer to ``src``'s content atomically (hard link, else copy) via a temp name."""
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def step_checkpoints(directory: str | Path) -> list[Path]:
    """Step-numbered checkpoints in ``directory``, oldest first."""
    directory = Path(directory)
    files = [
        p for p in directory.glob(f"{_STEP_PREFIX}*.pt") if p.stem[len(_STEP_PREFIX) :].isdigit()
    ]
    return sorted(files, key=lambda p: int(p.stem[len(_STEP_PREFIX) :]))


def save_checkpoint(state: dict[str, Any], directory: str | Path, keep: int = 3) -> Path:
    """Write ``state`` as ``step_<step>.pt`` and ``last.pt`` in ``directory``; keep the newest ``keep``.

    ``state`` must contain ``step``; ``format_version`` and ``package_version`` are added.
    ``keep=0`` keeps only ``last.pt``. Returns the path of ``last.pt``.
    """
    from hurricane_ode import __version__

    directory = Path(directory)
    state = {"format_version": FORMAT_VERSION, "package_version": __version__, **state}
    step_file = directory / f"{_STEP_PREFIX}{int(state['step']):09d}.pt"
    atomic_torch_save(state, step_file)
    last = directory / LAST
    _link_or_copy(step_file, last)
    old = step_checkpoints(directory)
    for p in old[: max(len(old) - keep, 0)]:
        p.unlink(missing_ok=True)
    return last


def _resolve(path: str | Path) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / LAST
    if not path.exists():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint file (or a run directory's ``last.pt``) with ``weights_only=True``.

    Raises FileNotFoundError (missing), ValueError (not a checkpoint, or a format
    version this package cannot read), each naming the file.
    """
    path = _resolve(path)
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # unpickling / zip errors
        raise InputError(f"{path} is not a readable hurricane_ode checkpoint: {exc}") from exc
    if not isinstance(state, dict) or "format_version" not in state:
        raise InputError(f"{path} is not a hurricane_ode checkpoint (no format_version)")
    if state["format_version"] != FORMAT_VERSION:
        raise InputError(
            f"{path}: checkpoint format version {state['format_version']} is not supported "
            f"(this hurricane_ode reads version {FORMAT_VERSION})"
        )
    return state


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file (hex), e.g. to record which checkpoint made a forecast."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_model(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the trained generator from a checkpoint, in eval mode on ``device``.

    Returns ``(model, meta)``; meta has ``config`` (a :class:`~hurricane_ode.config.Config`),
    ``stats`` ({var: (mean, std)} in physical units, or None), ``step``, ``epoch``, ``package_version``,
    ``metrics``, ``path`` and ``sha256``.
    """
    from hurricane_ode.config import config_from_dict
    from hurricane_ode.models.base import build_model

    path = _resolve(path)
    state = load_checkpoint(path)
    config = config_from_dict(state["config"])
    model = build_model(config.model)
    model.load_state_dict(state["model"])
    model.to(device).eval()
    stats = state.get("stats")
    meta = {
        "config": config,
        "stats": None
        if stats is None
        else {k: (float(v["mean"]), float(v["std"])) for k, v in stats.items()},
        "step": int(state["step"]),
        "epoch": int(state["epoch"]),
        "package_version": state.get("package_version"),
        "metrics": state.get("metrics", {}),
        "path": path,
        "sha256": file_digest(path),
    }
    return model, meta


def average_checkpoints(paths: Sequence[str | Path]) -> dict[str, Any]:
    """The uniform average of the generator weights of several checkpoints of one run (SWA).

    Stochastic weight averaging (Izmailov et al. 2018): checkpoints along one trajectory at a
    steady learning rate scatter around a flat region of the loss; their average usually
    scores better than any of them. Returns the last checkpoint's state with ``model``
    replaced by the average (floating tensors averaged in float64, others taken from the last)
    and ``averaged_steps`` listing the steps. Raises ``InputError`` when the checkpoints'
    model configs or weight shapes differ, naming the file.
    """
    if not paths:
        raise InputError("average_checkpoints: no checkpoint given")
    states = [load_checkpoint(p) for p in paths]
    first, last = states[0], states[-1]
    for path, state in zip(paths, states, strict=True):
        if state["config"].get("model") != first["config"].get("model"):
            raise InputError(f"average_checkpoints: {path} has another model config than {paths[0]}")
        if {k: tuple(v.shape) for k, v in state["model"].items()} != {
            k: tuple(v.shape) for k, v in first["model"].items()
        }:
            raise InputError(f"average_checkpoints: {path} has other weights than {paths[0]}")
    model: dict[str, torch.Tensor] = {}
    for key, value in last["model"].items():
        if torch.is_floating_point(value):
            total = sum(s["model"][key].to(torch.float64) for s in states)
            model[key] = (total / len(states)).to(value.dtype)
        else:
            model[key] = value
    return {**last, "model": model, "averaged_steps": [int(s.get("step", -1)) for s in states]}
