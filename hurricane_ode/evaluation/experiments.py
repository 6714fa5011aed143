"""The paper's CAM5 experiments: ``baselines`` (Table 5), ``sampling-rate`` (Figure 6), ``ablation`` (Table 4).

Every model is trained the same way (same data, steps, seed, optimiser: only
``model.name``, or for the ablation only the Table 4 switches, differ) and scored on
the same fixed held-out clips (the ``test`` split: the last ``1 - train_fraction`` of
the time axis; one clip per window in time order, at most ``max_eval_clips`` evenly
spaced; inputs drawn with the run's seed). See :mod:`.scoring` for the metrics.

Files in ``output_dir`` (each written to a temporary name, then renamed):

* ``models/<name>/``: the training runs (``last.pt``, ``metrics.csv``, ``config.yaml``);
  ``sampling-rate`` reuses what ``baselines`` trained (and vice versa).
* ``baselines.csv`` (one row per model) + ``baselines_by_lead.csv`` (per lead time),
  ``sampling_rate.csv`` (one row per model and rate), ``ablation.csv`` +
  ``ablation_by_lead.csv``; PNG curves when :mod:`hurricane_ode.plotting.curves` works.
* ``<experiment>.json``: config, seed, package version, git commit, wall time, per-model
  training record, LPIPS status (``lpips_weights``: ``real`` | ``test`` | ``unavailable``
  | ``off``); ``<experiment>_config.yaml``: the config to re-run it.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from torch import nn
from tqdm.auto import tqdm

from hurricane_ode.config import Config
from hurricane_ode.errors import ConfigError, InputError
from hurricane_ode.evaluation.records import environment_record, write_csv, write_json, write_yaml
from hurricane_ode.evaluation.scoring import EvalClips, build_eval_clips, score_model
from hurricane_ode.evaluation.settings import (
    ABLATION_ROWS,
    EXPERIMENTS,
    ExperimentConfig,
    ExperimentSettings,
    ablation_switches,
    experiment_config_to_dict,
    load_experiment_config,
    model_config_for,
    small_config,
)
from hurricane_ode.evaluation.zoo import TrainedModel, obtain_model

__all__ = ["evaluate", "resolve_lpips", "LPIPS_WEIGHTS"]

log = logging.getLogger(__name__)

LPIPS_WEIGHTS = ("real", "test", "unavailable", "off")


def resolve_lpips(
    setting: str, value_range: tuple[float, float], frame_size: tuple[int, int],
    injected: nn.Module | None = None,
) -> tuple[nn.Module | None, str, str]:  # fmt: skip
    """``(module | None, lpips_weights, note)``.

    ``injected``: a ready LPIPS module (tests: built on test weights); its ``is_real``
    decides whether it is labelled ``real`` or ``test``. Otherwise the real weights are
    loaded from their local files; when a file is missing the module is None,
    ``lpips_weights = "unavailable"`` and the note names the file (``setting="required"``
    raises instead). Never falls back to made-up weights.
    """
    from hurricane_ode.metrics.lpips import LPIPS, MIN_IMAGE_SIZE

    if setting == "off":
        return None, "off", "lpips: off (experiment.lpips = off)"
    if injected is not None:
        real = bool(getattr(injected, "is_real", False))
        source = getattr(injected, "backbone_source", "caller-supplied module")
        if real:
            return injected, "real", f"lpips: real weights ({source})"
        return injected, "test", f"lpips: TEST WEIGHTS ({source}); not a reportable result"
    if min(frame_size) < MIN_IMAGE_SIZE:
        note = f"lpips: unavailable (frames {frame_size} smaller than {MIN_IMAGE_SIZE} px)"
        if setting == "required":
            raise InputError(note)
        return None, "unavailable", note
    try:
        module = LPIPS(value_range=value_range)
    except FileNotFoundError as exc:
        if setting == "required":
            raise
        missing = getattr(exc, "filename", None) or str(exc).split(":", 1)[-1].split(" (")[0].strip()
        log.info("LPIPS weights missing: %s", exc)
        return None, "unavailable", f"lpips: unavailable (missing {missing})"
    return module, "real", f"lpips: real weights (backbone {module.backbone_source}, " \
        f"linear layers {module.linear_source})"


def _as_experiment_config(config: ExperimentConfig | Config | str | Path | None) -> ExperimentConfig:
    if config is None:
        return small_config()
    if isinstance(config, ExperimentConfig):
        return copy.deepcopy(config)
    if isinstance(config, Config):
        return ExperimentConfig(base=copy.deepcopy(config), experiment=ExperimentSettings(steps=None))
    return load_experiment_config(config)


def _resolve_data(cfg: ExperimentConfig, progress: bool, demo: bool = False) -> None:
    """``demo``: no config was given, so the small defaults run on the demo world's tiles."""
    data = cfg.base.data
    if data.source == "tiles" and data.path is None and not data.paths:
        if not demo:
            raise ConfigError(
                "data.path is not set: give the tile store to evaluate on (`hurricane-ode "
                "prepare` writes one; the demo world's is hurricane_ode.demo.demo_tiles(), and "
                "evaluate(config=None) runs the small defaults on it)"
            )
        from hurricane_ode.demo import demo_tiles

        data.path = str(demo_tiles(progress=progress))
    if data.source == "tiles" and data.path is not None and not Path(data.path).exists():
        raise FileNotFoundError(
            f"data.path: tile store not found: {data.path} (make one with `hurricane-ode prepare`)"
        )


def _check_size(clips: EvalClips, cfg: Config) -> tuple[int, int]:
    size = clips.dataset[clips.indices[0]].image_size
    if tuple(size) != tuple(cfg.model.image_size):
        raise InputError(
            f"the data frames are {size[0]}x{size[1]} but model.image_size is "
            f"{list(cfg.model.image_size)}; set model.image_size: [{size[0]}, {size[1]}]"
        )
    if clips.dataset[clips.indices[0]].n_channels != cfg.model.in_channels:
        raise InputError(
            f"the data have {clips.dataset[clips.indices[0]].n_channels} channels but "
            f"model.in_channels is {cfg.model.in_channels}"
        )
    return size


def _train_all(
    configs: dict[str, Config], root: Path, steps: int | None, progress: bool
) -> dict[str, TrainedModel]:
    trained = {}
    for name, cfg in configs.items():
        log.info("model %s", name)
        trained[name] = obtain_model(cfg, root / "models" / name, steps, progress=progress)
    return trained


def _model_record(t: TrainedModel, eval_s: float) -> dict[str, Any]:
    return {
        "trainable": t.trainable, "source": t.source, "steps": t.steps,
        "train_time_s": round(t.train_time_s, 2), "eval_time_s": round(eval_s, 2),
        "checkpoint": t.checkpoint, "final_train_loss": t.final_loss,
    }  # fmt: skip


def _try_plot(kind: str, table: pd.DataFrame, path: Path, **kw: Any) -> str:
    try:
        from hurricane_ode.plotting import curves
    except ImportError as exc:
        return f"unavailable (plotting extra missing: {exc})"
    try:
        fig = getattr(curves, kind)(table, path, **kw)
    except Exception as exc:  # noqa: BLE001 - a figure must not lose a finished experiment
        log.warning("%s failed: %s", kind, exc)
        return f"failed: {type(exc).__name__}: {exc}"
    fig.clear()  # written; not kept (figures are not pyplot-managed, nothing else holds them)
    return str(path)


def _print_table(title: str, df: pd.DataFrame, columns: Sequence[str]) -> None:
    cols = [c for c in columns if c in df.columns]
    print(f"\n{title}")
    print(df[cols].to_string(index=False, float_format=lambda v: f"{v:.4g}"))


_SHOW = ["model", "steps", "mse_x1e3", "lpips", "ssim", "psnr", "rmse_phys_U850", "rmse_phys_V850",
         "rmse_phys_PSL", "follow_kept", "follow_track_error_km", "follow_persistence_km", "track_error_km",
         "detection_rate", "psl_mae_hpa", "wind_mae_ms"]  # fmt: skip


def evaluate(
    experiment: str = "baselines",
    config: ExperimentConfig | Config | str | Path | None = None,
    models: Sequence[str] | None = None,
    output_dir: str | Path = "runs/experiments",
    seed: int | None = None,
    steps: int | None = None,
    progress: bool = True,
    verbose: bool | None = None,
    lpips: nn.Module | None = None,
) -> pd.DataFrame:
    """Run one of the paper's CAM5 experiments and write its tables (see the module docstring).

    Parameters
    ----------
    experiment : ``baselines`` | ``sampling-rate`` | ``ablation``.
    config : an :class:`ExperimentConfig`, a YAML path (``configs/experiments/*.yaml``),
        a plain training :class:`Config` (trained as configured), or None for the small CPU
        defaults (:func:`small_config`; demo-world 32x64 natl tiles).
    models : model names (default ``experiment.models``); ignored by ``ablation``.
    output_dir : results and the trained-model cache (``models/<name>/``).
    seed : overrides ``train.seed``; also draws the evaluation clips' inputs.
    steps : optimiser steps per model (overrides ``experiment.steps``).
    progress : progress bars (training and evaluation).
    verbose : print the table (default: ``progress``).
    lpips : an LPIPS module to use instead of the real weights (tests); a module whose
        ``is_real`` is False is recorded as ``lpips_weights = "test"``.

    Returns
    -------
    pandas.DataFrame
        The main table: one row per model (``baselines``, ``ablation``) or per
        (model, sampling_rate) (``sampling-rate``).
    """
    if experiment not in EXPERIMENTS:
        raise InputError(f"experiment must be one of {list(EXPERIMENTS)}, got {experiment!r}")
    t_start = time.perf_counter()
    cfg = _as_experiment_config(config)
    settings = cfg.experiment
    if models is not None:
        models = [m.strip() for m in models if m.strip()]
        if not models:
            raise InputError("models: give at least one model name")
        settings.models = list(models)
    if steps is not None:
        if steps < 0:
            raise InputError(f"steps must be >= 0, got {steps}")
        settings.steps = int(steps)
    if seed is not None:
        cfg.base.train.seed = int(seed)
    seed = cfg.base.train.seed
    from hurricane_ode.models.base import available_models

    unknown = [m for m in settings.models if m not in available_models()]
    if unknown and experiment != "ablation":
        raise InputError(f"models: unknown {unknown}; available: {', '.join(available_models())}")
    verbose = progress if verbose is None else verbose
    root = Path(output_dir)
    root.mkdir(parents=True, exist_ok=True)
    _resolve_data(cfg, progress, demo=config is None)

    base = cfg.base
    clips = build_eval_clips(base.data, seed, settings.max_eval_clips, settings.tracking)
    size = _check_size(clips, base)
    lp, lp_weights, lp_note = resolve_lpips(settings.lpips, settings.lpips_value_range, size, lpips)
    from hurricane_ode.training.trainer import resolve_device

    device = resolve_device(base.train.device)

    if experiment == "ablation":
        rows = list(settings.ablation_rows)
        configs = {}
        for r in rows:
            c = model_config_for(base, "vid_ode", ablation_switches(r))
            c.model.n_inputs = base.data.sampling.n_inputs
            configs[f"ablation_{r}"] = c
    else:
        configs = {m: model_config_for(base, m) for m in settings.models}

    trained = _train_all(configs, root, settings.steps, progress)
    records: dict[str, dict[str, Any]] = {}
    files: dict[str, str] = {}
    stem = experiment.replace("-", "_")

    def score(name: str, ev: EvalClips, desc: str) -> tuple[dict, list[dict], float]:
        t0 = time.perf_counter()
        overall, per_lead = score_model(
            trained[name].model, ev, device, settings.eval_batch_size, lp,
            settings.track_max_distance_km, seed, progress, desc,
        )  # fmt: skip
        return overall, per_lead, time.perf_counter() - t0

    def head(name: str) -> dict[str, Any]:
        t = trained[name]
        return {"model": name, "trainable": t.trainable, "steps": t.steps,
                "train_time_s": round(t.train_time_s, 2)}  # fmt: skip

    if experiment in ("baselines", "ablation"):
        table_rows, lead_rows = [], []
        for name in tqdm(configs, desc="evaluate", disable=not progress, unit="model"):
            overall, per_lead, eval_s = score(name, clips, f"eval {name}")
            row = head(name)
            if experiment == "ablation":
                r = name.split("_", 1)[1]
                row = {"row": r, "description": ABLATION_ROWS[r][0], **ablation_switches(r), **row}
            row.update(overall, lpips_weights=lp_weights, eval_time_s=round(eval_s, 2))
            table_rows.append(row)
            lead_rows += [{"model": name, **lr, "lpips_weights": lp_weights} for lr in per_lead]
            records[name] = _model_record(trained[name], eval_s)
        table = pd.DataFrame(table_rows)
        by_lead = pd.DataFrame(lead_rows)
        files["table"] = str(write_csv(table, root / f"{stem}.csv"))
        files["by_lead"] = str(write_csv(by_lead, root / f"{stem}_by_lead.csv"))
        files["mse_vs_lead_png"] = _try_plot(
            "plot_error_vs_lead", by_lead, root / f"{stem}_mse_vs_lead.png", metric="mse"
        )
        if clips.tracking and by_lead["follow_track_error_km"].notna().any():
            files["track_error_vs_lead_png"] = _try_plot(
                "plot_error_vs_lead", by_lead, root / f"{stem}_track_error_vs_lead.png",
                metric="follow_track_error_km",
            )  # fmt: skip
        n_eval = len(clips.indices)
        windows = clips.n_windows
    else:  # sampling-rate
        table_rows = []
        per_rate: dict[str, Any] = {}
        for rate in tqdm(settings.sampling_rates, desc="sampling rates", disable=not progress):
            data = copy.deepcopy(base.data)
            data.sampling.sampling_rate = float(rate)
            try:
                ev = build_eval_clips(data, seed, settings.max_eval_clips, settings.tracking)
            except ValueError as exc:
                raise InputError(f"sampling rate {rate}: {exc}") from exc
            gap = ev.mean_input_gap_h()
            per_rate[str(rate)] = {"n_clips": len(ev.indices), "windows": ev.n_windows,
                                   "mean_input_gap_h": gap}  # fmt: skip
            for name in configs:
                overall, _, eval_s = score(name, ev, f"eval {name} @ {rate:g}")
                row = {**head(name), "sampling_rate": float(rate), "mean_input_gap_h": gap}
                row.update(overall, lpips_weights=lp_weights, eval_time_s=round(eval_s, 2))
                table_rows.append(row)
                rec = records.setdefault(name, _model_record(trained[name], 0.0))
                rec["eval_time_s"] = round(rec["eval_time_s"] + eval_s, 2)
        table = pd.DataFrame(table_rows)
        files["table"] = str(write_csv(table, root / f"{stem}.csv"))
        metrics = ["mse", "lpips"] if table["lpips"].notna().any() else ["mse", "ssim"]
        if clips.tracking and table["follow_track_error_km"].notna().any():
            metrics.append("follow_track_error_km")
        files["curves_png"] = _try_plot(
            "plot_sampling_rate_curves", table, root / f"{stem}.png", metrics=metrics
        )
        n_eval, windows = len(clips.indices), clips.n_windows

    wall = time.perf_counter() - t_start
    config_dict = experiment_config_to_dict(cfg)
    files["config_yaml"] = str(write_yaml(config_dict, root / f"{stem}_config.yaml"))
    record = {
        "experiment": experiment,
        "seed": seed,
        "wall_time_s": round(wall, 2),
        **environment_record(),
        "device": str(device),
        "lpips_weights": lp_weights,
        "lpips": lp_note,
        "tracking": clips.tracking_note,
        "data": {
            "source": base.data.source, "path": base.data.path, "basin": base.data.basin,
            "split": "test", "train_fraction": base.data.train_fraction,
            "n_eval_clips": n_eval, "test_windows": windows,
            "lead_times_h": clips.lead_times_h,
        },  # fmt: skip
        "models": records,
        "units": {
            "mse": "normalised (z-score) units squared, as the paper's Table 5; mse_x1e3 = mse * 1e3",
            "mse_phys_U850": "m2 s-2", "mse_phys_V850": "m2 s-2", "mse_phys_PSL": "Pa2",
            "rmse_phys_U850": "m s-1", "rmse_phys_V850": "m s-1", "rmse_phys_PSL": "Pa",
            "psnr": "dB (data range 6 = +-3 sigma)", "track_error_km": "km (great circle), hits within 500 km",
            "follow_track_error_km": "km (great circle), storms followed from the last input",
            "follow_persistence_km": "km, the same cases left at their start", "follow_kept": "fraction",
            "psl_mae_hpa": "hPa", "wind_mae_ms": "m s-1",
        },  # fmt: skip
        "config": config_dict,
        "files": files,
    }
    if experiment == "sampling-rate":
        record["sampling_rates"] = per_rate
    files["record_json"] = str(root / f"{stem}.json")
    write_json(record, root / f"{stem}.json")
    if verbose:
        title = f"{experiment}: {n_eval} test clips, seed {seed}, {wall:.0f} s ({lp_note})"
        show = list(_SHOW)
        if experiment == "sampling-rate":
            show.insert(1, "sampling_rate")
            show.insert(2, "mean_input_gap_h")
        if experiment == "ablation":
            show = ["row", "description", *show]
        _print_table(title, table, show)
        print(f"results: {files['table']}  record: {files['record_json']}")
    return table
