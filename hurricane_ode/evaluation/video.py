"""The ``video`` experiment: SSIM / LPIPS / PSNR on video datasets in the layout of the paper's Tables 1-3.

Input: one or more ordinary training configs (``configs/video/*.yaml``), each naming a
video source (``data.source``) and one named task (``data.sampling.task`` and
``data.interpolation_protocol``: ``extrapolation``, ``interpolation`` as the paper trains it,
or ``interpolation_supervised``, which fills the interpolation columns with its model
labelled ``<model> (supervised)``). Without configs, :func:`present_video_configs` picks
the shipped bouncing-balls checkpoints and every ``configs/video`` dataset found on disk. Every listed model is trained from each config through the same trainer
and model cache as the CAM5 experiments (:func:`hurricane_ode.evaluation.zoo.obtain_model`,
run directories ``<output_dir>/models/<dataset>_<task>/<model>/``) and scored on a fixed
list of held-out clips (the ``test`` split; :func:`~hurricane_ode.evaluation.scoring.build_eval_clips`,
drawn with the run's seed). Several configs for the same dataset fill the two column
groups of one row::

    dataset         model    interpolation            extrapolation
                             SSIM   LPIPS  PSNR       SSIM   LPIPS  PSNR
    kth             vid_ode  ...                      ...

Scoring: frames are images in ``[0, 1]``; predictions are clamped to ``[0, 1]`` (as they
would be when saved as images) and compared with the truth at data range 1
(:class:`~hurricane_ode.metrics.MetricAccumulator`): PSNR per frame averaged over frames,
SSIM (11x11 Gaussian window) averaged over frames and channels, LPIPS (AlexNet v0.1, input
range ``(0, 1)``) only with the real weights: otherwise NaN and the JSON record says why.
A task a dataset was not run for is NaN in the table. ``checkpoints`` maps ``<dataset>/<task>``
to a trained checkpoint, scored instead of training the model it holds. Baselines that
make sense on video: ``persistence`` (copy the last frame) and ``linear_blend``
(cross-fade of the neighbouring inputs, interpolation only).

Files in ``output_dir`` (each written to a temporary name, then renamed): ``video.csv``
(the wide table above, columns ``interpolation_ssim`` ... ``extrapolation_psnr``),
``video_long.csv`` (one row per dataset, task and model with MSE, clip counts and
timings), ``video_by_lead.csv`` (per target position) and ``video.json`` (configs, seed,
package version, git commit, wall time, LPIPS status).
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
import yaml
from torch import nn
from tqdm.auto import tqdm

from hurricane_ode.config import Config, DataConfig, load_config
from hurricane_ode.data.clips import collate_clips
from hurricane_ode.data.video.dataset import task_name
from hurricane_ode.errors import InputError
from hurricane_ode.evaluation.records import environment_record, write_csv, write_json
from hurricane_ode.evaluation.scoring import EvalClips, build_eval_clips
from hurricane_ode.evaluation.settings import (
    ExperimentConfig,
    ExperimentSettings,
    experiment_config_to_dict,
    load_experiment_config,
    model_config_for,
)
from hurricane_ode.evaluation.video_checkpoints import (
    check_frames,
    checkpoint_model_name,
    format_by_frame,
    format_training,
    present_video_configs,
    trained_from_checkpoint,
)
from hurricane_ode.evaluation.zoo import obtain_model
from hurricane_ode.metrics import MetricAccumulator

__all__ = [
    "VIDEO_TASKS",
    "VIDEO_BASELINES",
    "present_video_configs",
    "VIDEO_METRICS",
    "VIDEO_DATA_RANGE",
    "DEFAULT_VIDEO_MODELS",
    "dataset_label",
    "score_video_model",
    "paper_table",
    "evaluate_video",
]

log = logging.getLogger(__name__)

VIDEO_TASKS = ("interpolation", "extrapolation")
"""Column groups of the paper's Tables 1-3, in its order."""
VIDEO_METRICS = ("ssim", "lpips", "psnr")
"""Columns within a group, in the paper's order (SSIM up, LPIPS down, PSNR up)."""
VIDEO_DATA_RANGE = 1.0
"""Video frames are in [0, 1]."""
DEFAULT_VIDEO_MODELS = ("vid_ode",)
"""Models trained when none are named (others: any registered name, e.g. latent_ode, ode2vae)."""
VIDEO_BASELINES = {"extrapolation": ("persistence",), "interpolation": ("linear_blend", "persistence")}
"""Parameter-free references scored beside the checkpoints when no config is given."""
VIDEO_BASELINES_FOR = {"linear_blend": ("interpolation",)}
"""Models scored only on some tasks (others: every task)."""


def dataset_label(data: DataConfig) -> str:
    """Row label of a dataset: the source name; ``video_folder`` uses its folder's name."""
    if data.source == "video_folder" and data.path:
        return Path(data.path).resolve().name or data.source
    return data.source


def _load(item: Config | str | Path) -> tuple[Config, ExperimentSettings, str]:
    """A training config (or an experiment YAML with an ``experiment`` section) -> (config, settings, where)."""
    if isinstance(item, Config):
        return copy.deepcopy(item), ExperimentSettings(steps=None), "<Config>"
    path = Path(item)
    if not path.exists():
        raise FileNotFoundError(f"video experiment: config file not found: {path}")
    values = yaml.safe_load(path.read_text()) or {}
    if isinstance(values, dict) and "experiment" in values:
        exp = load_experiment_config(path)
        return exp.base, exp.experiment, str(path)
    return load_config(path), ExperimentSettings(steps=None), str(path)


@torch.no_grad()
def score_video_model(
    model: nn.Module,
    clips: EvalClips,
    device: torch.device,
    batch_size: int = 8,
    lpips: nn.Module | None = None,
    seed: int = 0,
    progress: bool = True,
    desc: str = "eval",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score ``model`` on ``clips`` (frames in [0, 1]): ``(overall, per_target_rows)``.

    overall keys: ``n_clips``, ``ssim``, ``lpips`` (NaN without a module), ``psnr`` (dB),
    ``mse``; per-target rows add ``target_index`` and ``target_time`` (frames after the
    first input). Predictions are clamped to [0, 1] before scoring.
    """
    torch.manual_seed(seed)  # models that sample (latent_ode, ode2vae) become deterministic
    model = model.to(device).eval()
    ds = clips.dataset
    first = ds[clips.indices[0]]
    acc = MetricAccumulator(
        VIDEO_DATA_RANGE,
        channel_names=clips.variables,
        lead_times=first.target_times.double().tolist(),
        lpips=lpips,
        ssim=min(first.image_size) >= 11,
    )
    batches = [clips.indices[i : i + batch_size] for i in range(0, len(clips.indices), batch_size)]
    for idx in tqdm(batches, desc=desc, disable=not progress, leave=False, unit="batch"):
        batch = collate_clips([ds[i] for i in idx]).to(device)
        pred = model(batch.inputs, batch.input_times, batch.target_times, batch.input_mask).frames
        pred = pred.float().cpu()
        if not torch.isfinite(pred).all():
            raise FloatingPointError(f"{desc}: the model produced non-finite frames")
        acc.update(pred.clamp(0.0, 1.0), batch.targets.cpu(), valid=batch.target_mask.cpu())
    res = acc.compute()
    overall = {
        "n_clips": len(clips.indices),
        "ssim": res.get("ssim_mean", math.nan),
        "lpips": res.get("lpips_mean", math.nan),
        "psnr": res["psnr_mean"],
        "mse": res["mse_mean"],
    }
    per_target = [
        {
            "target_index": k,
            "target_time": float(t),
            "n_clips": int(n),
            "ssim": res["ssim"][k] if "ssim" in res else math.nan,
            "lpips": res["lpips"][k] if "lpips" in res else math.nan,
            "psnr": res["psnr"][k],
            "mse": res["mse"][k],
        }
        for k, (t, n) in enumerate(zip(res["lead_time"], res["count"]))
    ]
    return overall, per_target


def paper_table(long: pd.DataFrame) -> pd.DataFrame:
    """Long rows (dataset, model, task, ssim, lpips, psnr) -> one row per (dataset, model)
    with columns ``<task>_<metric>`` in the paper's order (NaN where a task was not run).

    ``interpolation_supervised`` rows fill the interpolation columns of a row labelled
    ``<model> (supervised)``.
    """
    cols = [f"{t}_{m}" for t in VIDEO_TASKS for m in VIDEO_METRICS]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for r in long.itertuples(index=False):
        group, model = r.task, r.model
        if r.task == "interpolation_supervised":  # same columns, its own row
            group, model = "interpolation", f"{r.model} (supervised)"
        row = rows.setdefault((r.dataset, model), {"dataset": r.dataset, "model": model})
        for m in VIDEO_METRICS:
            row[f"{group}_{m}"] = getattr(r, m)
    table = pd.DataFrame(list(rows.values()))
    for c in cols:
        if c not in table.columns:
            table[c] = math.nan
    return table[["dataset", "model", *cols]]


def _format_table(table: pd.DataFrame) -> str:
    """The paper's two-level header, as text."""

    def fmt(v: Any, metric: str) -> str:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return "-"
        return f"{v:.2f}" if metric == "psnr" else f"{v:.3f}"

    metrics = [m.upper() + (" (dB)" if m == "psnr" else "") for _ in VIDEO_TASKS for m in VIDEO_METRICS]
    body = [
        [str(r["dataset"]), str(r["model"])]
        + [fmt(r[f"{t}_{m}"], m) for t in VIDEO_TASKS for m in VIDEO_METRICS]
        for _, r in table.iterrows()
    ]
    grid = [["dataset", "model", *metrics], *body]
    widths = [max(len(row[i]) for row in grid) for i in range(len(grid[0]))]
    n = len(VIDEO_METRICS)
    spans = [sum(widths[2 + g * n : 2 + (g + 1) * n]) + 2 * (n - 1) for g in range(len(VIDEO_TASKS))]
    top = "  ".join([" " * widths[0], " " * widths[1], *(t.center(w, "-") for t, w in zip(VIDEO_TASKS, spans))])
    lines = [top.rstrip()] + ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in grid]
    return "\n".join(lines)


def evaluate_video(
    configs: Config | str | Path | Sequence[Config | str | Path] | None,
    models: Sequence[str] | None = None,
    output_dir: str | Path = "runs/video_eval",
    seed: int | None = None,
    steps: int | None = None,
    progress: bool = True,
    verbose: bool | None = None,
    lpips: nn.Module | None = None,
    checkpoints: Mapping[str, str | Path] | None = None,
) -> pd.DataFrame:
    """Train and score video models; write and return the Tables 1-3 layout (see the module docstring).

    configs:    training configs (paths or :class:`Config`); each gives one dataset and one task.
                An experiment YAML (with an ``experiment`` section) also works; its
                ``steps``, ``max_eval_clips``, ``eval_batch_size``, ``lpips`` and ``models`` apply.
    models:     registered model names (default :data:`DEFAULT_VIDEO_MODELS`, or the
                experiment section's ``models``).
    seed:       overrides ``train.seed`` of every config; also draws the test clips.
    steps:      optimiser steps per model (default: each config's ``train.max_steps``).
    lpips:      an LPIPS module to use instead of the real weights (tests); recorded as
                ``test`` unless its ``is_real`` is True.
    checkpoints: ``{"<dataset>/<task>": path}``: score that trained checkpoint (for the model
                it holds) instead of training one. ``configs=None`` uses
                :func:`present_video_configs` (and scores its baselines too).

    Returns one row per (dataset, model) with columns ``<task>_<ssim|lpips|psnr>``.
    """
    from hurricane_ode.evaluation.experiments import resolve_lpips
    from hurricane_ode.models.base import available_models
    from hurricane_ode.training.trainer import resolve_device

    t_start = time.perf_counter()
    if configs is None:
        configs, found = present_video_configs()
        checkpoints = {**found, **(checkpoints or {})}
        if models is None:
            models = ["vid_ode", *sorted({b for v in VIDEO_BASELINES.values() for b in v})]
    items = [configs] if isinstance(configs, Config | str | Path) else list(configs)
    if not items:
        raise InputError("video experiment: give at least one config")
    checkpoints = dict(checkpoints or {})
    if steps is not None and steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    verbose = progress if verbose is None else verbose
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)

    long_rows: list[dict[str, Any]] = []
    lead_rows: list[dict[str, Any]] = []
    record_configs: list[dict[str, Any]] = []
    lpips_status: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    plans = []  # validate every config before training anything
    for item in items:
        base, settings, where = _load(item)
        if seed is not None:
            base.train.seed = int(seed)
        if base.data.sampling.task not in VIDEO_TASKS:
            raise InputError(
                f"{where}: data.sampling.task must be one of {VIDEO_TASKS}, got {base.data.sampling.task!r}"
            )
        task = task_name(base.data.sampling.task, base.data.interpolation_protocol)
        label = dataset_label(base.data)
        if (label, task) in seen:
            raise InputError(f"{where}: dataset '{label}' with task '{task}' is given twice")
        seen.add((label, task))
        names = _model_names(models, item, settings)
        # the cross-fade is persistence beyond the last input: scored on interpolation only
        names = [m for m in names if base.data.sampling.task in VIDEO_BASELINES_FOR.get(m, VIDEO_TASKS)]
        unknown = [m for m in names if m not in available_models()]
        if unknown:
            raise InputError(f"models: unknown {unknown}; available: {', '.join(available_models())}")
        plans.append((base, settings, where, task, label, names))

    for base, settings, where, task, label, names in plans:
        run_seed = base.train.seed
        n_steps = steps if steps is not None else settings.steps
        clips = build_eval_clips(base.data, run_seed, settings.max_eval_clips, tracking=False)
        size = check_frames(clips, base, where)
        lp, lp_weights, lp_note = resolve_lpips(settings.lpips, (0.0, 1.0), size, lpips)
        lpips_status[f"{label}/{task}"] = lp_note
        device = resolve_device(base.train.device)
        record_configs.append(
            {"source": where, "dataset": label, "task": task, "models": names,
             "config": experiment_config_to_dict(ExperimentConfig(base=base, experiment=settings))}
        )  # fmt: skip
        ckpt = checkpoints.pop(f"{label}/{task}", None)
        for name in names:
            if ckpt is not None and name == checkpoint_model_name(ckpt):
                trained = trained_from_checkpoint(ckpt, base, where, device)
            else:
                cfg = model_config_for(base, name)
                cfg.model.n_inputs = base.data.sampling.n_inputs
                trained = obtain_model(cfg, root / "models" / f"{label}_{task}" / name, n_steps, progress=progress)
            t0 = time.perf_counter()
            overall, per_target = score_video_model(
                trained.model, clips, device, settings.eval_batch_size, lp, run_seed, progress,
                f"eval {label} {task} {name}",
            )  # fmt: skip
            eval_s = time.perf_counter() - t0
            long_rows.append({
                "dataset": label, "model": name, "task": task, **overall,
                "checkpoint": str(trained.checkpoint) if trained.checkpoint else None,
                "n_inputs": base.data.sampling.n_inputs, "n_targets": base.data.sampling.n_targets,
                "irregular": base.data.sampling.irregular, "steps": trained.steps,
                "train_source": trained.source, "train_time_s": round(trained.train_time_s, 2),
                "eval_time_s": round(eval_s, 2), "final_train_loss": trained.final_loss,
                "lpips_weights": lp_weights, "seed": run_seed, "config": where,
            })  # fmt: skip
            lead_rows += [{"dataset": label, "model": name, "task": task, **r} for r in per_target]
    if checkpoints:
        raise InputError(
            f"checkpoints: no config for {sorted(checkpoints)}; keys are '<dataset>/<task>' of the "
            f"configs given ({sorted(seen)})"
        )

    long = pd.DataFrame(long_rows)
    table = paper_table(long)
    files = {
        "table": str(write_csv(table, root / "video.csv")),
        "long": str(write_csv(long, root / "video_long.csv")),
        "by_target": str(write_csv(pd.DataFrame(lead_rows), root / "video_by_lead.csv")),
        "record_json": str(root / "video.json"),
    }
    wall = time.perf_counter() - t_start
    record = {
        "experiment": "video",
        **environment_record(),
        "seed": seed,
        "wall_time_s": round(wall, 2),
        "lpips": lpips_status,
        "scoring": "frames in [0, 1], predictions clamped to [0, 1]; PSNR/SSIM at data range 1; "
        "LPIPS AlexNet v0.1 on (0, 1) inputs, grey frames replicated to RGB",
        "units": {"psnr": "dB", "ssim": "1", "lpips": "1", "mse": "(frame value)^2"},
        "configs": record_configs,
        "results": long_rows,
        "files": files,
    }
    write_json(record, root / "video.json")
    if verbose:
        notes = "; ".join(f"{k}: {v}" for k, v in lpips_status.items())
        print(f"\nvideo: {len(long)} runs, {wall:.0f} s ({notes})")
        print(_format_table(table))
        print(format_training(long_rows))
        print(format_by_frame(pd.DataFrame(lead_rows)))
        print(f"results: {files['table']}  record: {files['record_json']}")
    return table


def _model_names(models: Sequence[str] | None, item: Any, settings: ExperimentSettings) -> list[str]:
    """Explicit ``models``, else an experiment YAML's ``experiment.models``, else :data:`DEFAULT_VIDEO_MODELS`."""
    if models is not None:
        names = [m.strip() for m in models if m and m.strip()]
        if not names:
            raise InputError("models: give at least one model name")
        return names
    if isinstance(item, str | Path):
        values = yaml.safe_load(Path(item).read_text()) or {}
        if isinstance(values, dict) and "experiment" in values and "models" in (values["experiment"] or {}):
            return list(settings.models)
    return list(DEFAULT_VIDEO_MODELS)

