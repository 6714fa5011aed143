"""Helpers of the ``video`` experiment: shipped checkpoints, datasets on disk, per-frame text.

- :func:`present_video_configs`: what ``hurricane-ode evaluate --experiment video`` scores
  without ``--config``: the bouncing-balls checkpoints shipped in ``hurricane_ode/resources``
  (each on the protocol of ``configs/video/<name>.yaml``, or the data it was trained with
  when that file is absent) and every other ``configs/video/*.yaml`` whose ``data.path``
  exists on this machine (trained by the experiment as usual).
- :func:`trained_from_checkpoint`: a checkpoint as a :class:`~hurricane_ode.evaluation.zoo.TrainedModel`.
- :func:`format_by_frame`: PSNR / SSIM per predicted frame, one line per model.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pandas as pd
import torch

from hurricane_ode.config import Config, config_from_dict, load_config
from hurricane_ode.data.video.dataset import task_name
from hurricane_ode.errors import InputError
from hurricane_ode.evaluation.scoring import EvalClips
from hurricane_ode.evaluation.zoo import TrainedModel

__all__ = [
    "SHIPPED_VIDEO_CHECKPOINTS",
    "shipped_checkpoint",
    "present_video_configs",
    "checkpoint_model_name",
    "trained_from_checkpoint",
    "check_frames",
    "format_training",
    "format_by_frame",
]

log = logging.getLogger(__name__)

_RESOURCES = Path(__file__).resolve().parents[1] / "resources"
_ROOT_CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "video"
SHIPPED_VIDEO_CHECKPOINTS = ("bouncing_balls.pt", "bouncing_balls_interpolation.pt")
"""Small Vid-ODE checkpoints in ``hurricane_ode/resources`` (CPU-trained, see configs/video)."""


def shipped_checkpoint(name: str = "bouncing_balls.pt") -> Path:
    """Path of a shipped video checkpoint.

    Parameters
    ----------
    name : str
        One of :data:`SHIPPED_VIDEO_CHECKPOINTS`.

    Returns
    -------
    Path
        The file (raises ``FileNotFoundError`` naming it when absent).
    """
    if name not in SHIPPED_VIDEO_CHECKPOINTS:
        raise InputError(f"shipped_checkpoint: unknown name {name!r}; expected one of {SHIPPED_VIDEO_CHECKPOINTS}")
    path = _RESOURCES / name
    if not path.exists():
        raise FileNotFoundError(f"shipped video checkpoint not found: {path}")
    return path


def _checkpoint_config(path: str | Path) -> Config:
    from hurricane_ode.training.checkpoint import load_checkpoint

    return config_from_dict(load_checkpoint(path)["config"])


def present_video_configs(config_dir: str | Path | None = None) -> tuple[list[Config | Path], dict[str, Path]]:
    """Configs and checkpoints for a video experiment over whatever is present.

    Parameters
    ----------
    config_dir : str or Path, optional
        Folder of video configs (default: the repository's ``configs/video``, when installed
        from a checkout).

    Returns
    -------
    tuple
        ``(configs, checkpoints)``: the evaluation configs of the shipped checkpoints plus the
        config files of datasets found on disk, and ``{"<dataset>/<task>": checkpoint path}``.
    """
    from hurricane_ode.evaluation.video import dataset_label

    configs: list[Config | Path] = []
    checkpoints: dict[str, Path] = {}
    folder = Path(config_dir) if config_dir is not None else _ROOT_CONFIGS
    paired: set[Path] = set()
    for name in SHIPPED_VIDEO_CHECKPOINTS:
        path = _RESOURCES / name
        if not path.exists():
            continue
        # scored on the protocol of configs/video/<name>.yaml when present (e.g. the paper's regular
        # interpolation for a model trained on irregular inputs), else on the data it was trained with
        own = folder / f"{path.stem}.yaml"
        cfg = load_config(own) if own.exists() else _checkpoint_config(path)
        paired.add(own)
        key = f"{dataset_label(cfg.data)}/{task_name(cfg.data.sampling.task, cfg.data.interpolation_protocol)}"
        configs.append(cfg)
        checkpoints[key] = path
    for file in sorted(folder.glob("*.yaml")) if folder.is_dir() else []:
        if file in paired:
            continue
        cfg = load_config(file)
        if cfg.data.path and Path(cfg.data.path).exists():
            configs.append(file)
        else:
            log.info("video experiment: skipping %s (data.path %s not found)", file, cfg.data.path)
    if not configs:
        raise FileNotFoundError(
            f"video experiment: no shipped checkpoint in {_RESOURCES} and no dataset of {folder} on disk; "
            "give --config"
        )
    return configs, checkpoints


def checkpoint_model_name(path: str | Path) -> str:
    """``model.name`` a checkpoint was trained as (e.g. ``vid_ode``)."""
    return _checkpoint_config(path).model.name


def trained_from_checkpoint(path: str | Path, base: Config, where: str, device: torch.device) -> TrainedModel:
    """Load a checkpoint for scoring on ``base``'s data; its frames must match the data's.

    Parameters
    ----------
    path : str or Path
        Checkpoint file (or run directory).
    base : Config
        The evaluation config (its data are scored).
    where : str
        Name of the config, for errors.
    device : torch.device
        Where the model goes.

    Returns
    -------
    TrainedModel
        ``source = "checkpoint"``, ``steps`` as trained, ``train_time_s`` as recorded in the
        checkpoint's metrics (``train_time_s``) or NaN.
    """
    from hurricane_ode.training.checkpoint import load_model

    model, meta = load_model(path, device=device)
    mc = meta["config"].model
    if tuple(mc.image_size) != tuple(base.model.image_size) or mc.in_channels != base.model.in_channels:
        raise InputError(
            f"{where}: checkpoint {path} was built for {mc.in_channels}-channel {list(mc.image_size)} frames, "
            f"the data have {base.model.in_channels}-channel {list(base.model.image_size)}"
        )
    metrics = meta.get("metrics") or {}
    return TrainedModel(
        mc.name, model, True, int(meta["step"]), float(metrics.get("train_time_s", math.nan)),
        "checkpoint", Path(meta["path"]), metrics.get("loss"),
    )  # fmt: skip


def check_frames(clips: EvalClips, cfg: Config, where: str) -> tuple[int, int]:
    """Frame size of ``clips``; raises when it or the channels differ from ``cfg.model``'s."""
    first = clips.dataset[clips.indices[0]]
    size = tuple(first.image_size)
    if size != tuple(cfg.model.image_size):
        raise InputError(
            f"{where}: the data frames are {size[0]}x{size[1]} but model.image_size is "
            f"{list(cfg.model.image_size)}; set data.image_size or model.image_size to match"
        )
    if first.n_channels != cfg.model.in_channels:
        raise InputError(
            f"{where}: the data have {first.n_channels} channels but model.in_channels is "
            f"{cfg.model.in_channels}; set data.channels or model.in_channels to match"
        )
    return size


def format_training(rows: list[dict]) -> str:
    """One line per trained model: optimiser steps and training wall time (beside the scores)."""
    lines = []
    for r in rows:
        if r["steps"]:
            minutes = r["train_time_s"] / 60 if r["train_source"] != "cached" else math.nan
            lines.append(f"{r['dataset']} {r['task']} {r['model']}: {r['steps']} steps, "
                         f"{minutes:.1f} min training ({r['train_source']})")  # fmt: skip
    return "\n".join(lines)


def format_by_frame(by_frame: pd.DataFrame) -> str:
    """PSNR (dB) and SSIM per predicted frame, one line per (dataset, task, model)."""
    if by_frame.empty:
        return ""
    lines = ["per predicted frame (frames after the first input):"]
    for (dataset, task, model), g in by_frame.groupby(["dataset", "task", "model"], sort=False):
        times = " ".join(f"{t:g}" for t in g["target_time"])
        lines.append(f"  {dataset} {task} {model}  t = {times}")
        lines.append("    PSNR " + " ".join(f"{v:.2f}" for v in g["psnr"]))
        if g["ssim"].notna().any():
            lines.append("    SSIM " + " ".join(f"{v:.3f}" for v in g["ssim"]))
    return "\n".join(lines)
