"""Error curves: metrics vs input sampling rate (the paper's Figure 6) and vs lead time."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from hurricane_ode.errors import InputError
from hurricane_ode.plotting._common import check_png, finish, new_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_sampling_rate_curves", "plot_error_vs_lead", "plot_scores", "METRIC_LABELS"]

#: axis labels (with units) of known metric columns; others are shown by name
METRIC_LABELS: dict[str, str] = {
    "mse": "MSE (normalised units)",
    "lpips": "LPIPS",
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "track_error_km": "Track error (km)",
    "follow_track_error_km": "Track error, storms followed (km)",
    "psl_mae_hpa": "Central pressure MAE (hPa)",
    "wind_mae_ms": "Max wind MAE (m s$^{-1}$)",
    "rmse_psl_hpa": "PSL RMSE (hPa)",
    "rmse_wind_ms": "Wind RMSE (m s$^{-1}$)",
    "rmse_psl": "PSL RMSE (Pa)",
    "rmse_u850": "U850 RMSE (m s$^{-1}$)",
    "rmse_v850": "V850 RMSE (m s$^{-1}$)",
    "pod": "Probability of detection",
    "far": "False alarm ratio",
    "psl_error_hpa": "Central pressure error (hPa)",
    "wind_error_ms": "Max wind error (m s$^{-1}$)",
}
_MARKERS = "osD^vP*Xh<>"


def _load(table: pd.DataFrame | str | os.PathLike, what: str) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    p = Path(table).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"{what}: results table not found: {p}")
    return pd.read_csv(p)


def _check(df: pd.DataFrame, need: Sequence[str], what: str) -> pd.DataFrame:
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(f"{what}: table lacks columns {missing} (has {list(df.columns)})")
    if df.empty:
        raise InputError(f"{what}: table is empty")
    for c in need[1:]:
        if not pd.api.types.is_numeric_dtype(df[c]):
            try:
                df = df.assign(**{c: pd.to_numeric(df[c])})
            except (TypeError, ValueError):
                raise InputError(f"{what}: column {c!r} must be numeric") from None
    return df


def _lines(ax: Any, df: pd.DataFrame, x: str, y: str) -> None:
    """One line per model: mean of ``y`` at each ``x`` (min-max band when repeats exist)."""
    for k, (model, g) in enumerate(df.groupby("model", sort=False)):
        agg = g.groupby(x)[y].agg(["mean", "min", "max", "count"]).sort_index()
        xs = agg.index.to_numpy(dtype=float)
        (line,) = ax.plot(xs, agg["mean"], marker=_MARKERS[k % len(_MARKERS)], ms=4, lw=1.5,
                          label=str(model))
        if (agg["count"] > 1).any():
            ax.fill_between(xs, agg["min"], agg["max"], color=line.get_color(), alpha=0.15, lw=0)


def _panels(df: pd.DataFrame, x: str, metrics: Sequence[str], panel_size: tuple[float, float],
            xlabel: str, title: Callable[[str], str], ylabel: Callable[[str], str]) -> Figure:
    """One panel per metric side by side (``panel_size`` inches each), one line per model."""
    fig = new_figure((panel_size[0] * len(metrics), panel_size[1]))
    axes = [fig.add_subplot(1, len(metrics), i + 1) for i in range(len(metrics))]
    for ax, m in zip(axes, metrics):
        _lines(ax, df, x, m)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel(m))
        ax.set_title(title(m), fontsize=10)
        ax.grid(alpha=0.3)
    axes[-1].legend(fontsize=8, title="model", title_fontsize=8)
    return fig


def plot_sampling_rate_curves(
    table: pd.DataFrame | str | os.PathLike,
    path: str | os.PathLike | None = None,
    metrics: Sequence[str] = ("mse", "lpips"),
) -> Figure:
    """Metric vs input sampling rate, one line per model, one panel per metric (Figure 6).

    Parameters
    ----------
    table : DataFrame or CSV with columns ``model``, ``sampling_rate`` (a fraction in
        (0, 1] or a percentage; shown in %) and the ``metrics`` columns. Several rows per
        (model, rate), e.g. seeds, are averaged and their range shaded.
    path : also write the figure there as PNG (atomic).
    metrics : the metric columns, one panel each.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per metric, rate (%) on x; written to ``path`` as well when given.
    """
    check_png(path)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not metrics:
        raise InputError("plot_sampling_rate_curves: give at least one metric")
    df = _check(_load(table, "plot_sampling_rate_curves"), ["model", "sampling_rate", *metrics],
                "plot_sampling_rate_curves")
    rate = df["sampling_rate"].astype(float)
    if (rate <= 0).any() or (rate > 100).any():
        raise InputError("plot_sampling_rate_curves: sampling_rate must be in (0, 1] or (0, 100] %")
    df = df.assign(sampling_rate=rate * 100.0 if rate.max() <= 1.0 else rate)
    fig = _panels(df, "sampling_rate", metrics, (4.2, 3.4), "Input sampling rate (%)",
                  lambda m: f"{m.upper() if len(m) <= 5 else m} vs sampling rate",
                  lambda m: METRIC_LABELS.get(m.lower(), m))
    return finish(fig, path, dpi=150)


def plot_error_vs_lead(
    table: pd.DataFrame | str | os.PathLike,
    path: str | os.PathLike | None = None,
    metric: str = "mse",
) -> Figure:
    """``metric`` vs forecast lead time (h), one line per model.

    Parameters
    ----------
    table : DataFrame or CSV with columns ``model``, ``lead_time_h`` (or
        ``forecast_period`` / ``lead_h``) and ``metric``.
    path : also write the figure there as PNG (atomic).
    metric : the metric column to plot.

    Returns
    -------
    matplotlib.figure.Figure
        One panel, lead (h) on x; written to ``path`` as well when given.
    """
    check_png(path)
    df = _load(table, "plot_error_vs_lead")
    lead = next((c for c in ("lead_time_h", "forecast_period", "lead_h") if c in df.columns),
                "lead_time_h")
    df = _check(df, ["model", lead, metric], "plot_error_vs_lead")
    fig = new_figure((5.2, 3.6))
    ax = fig.add_subplot(1, 1, 1)
    _lines(ax, df, lead, metric)
    ax.set_xlabel("Lead time (h)")
    ax.set_ylabel(METRIC_LABELS.get(metric.lower(), metric))
    ax.set_title(f"{METRIC_LABELS.get(metric.lower(), metric)} vs lead time", fontsize=10)
    leads = np.unique(df[lead].astype(float))
    if leads.size <= 12:
        ax.set_xticks(leads)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="model", title_fontsize=8)
    return finish(fig, path, dpi=150)


def _score_table(source: str | os.PathLike | pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """A ``scores.csv`` (or its directory, or ``scores.nc``) -> (wide table, default label)."""
    if isinstance(source, pd.DataFrame):
        return source, str(source["model"].iloc[0]) if "model" in source else "model"
    p = Path(source).expanduser()
    if p.is_dir():
        p = p / "scores.csv"
    if p.suffix == ".nc" and p.is_file():
        p = p.with_name("scores.csv")
    if not p.is_file():
        raise FileNotFoundError(f"plot_scores: score table not found: {p} (from `hurricane-ode score`)")
    df = pd.read_csv(p)
    label = str(df["model"].iloc[0]) if "model" in df.columns and len(df) else p.parent.name
    return df, label


def plot_scores(
    scores: Sequence[str | os.PathLike | pd.DataFrame],
    metrics: Sequence[str] = ("rmse_PSL", "pod"),
    path: str | os.PathLike | None = None,
    labels: Sequence[str] | None = None,
) -> Figure:
    """Scores vs lead time for several models on one figure, one panel per metric.

    Parameters
    ----------
    scores : ``hurricane-ode score`` output directories, ``scores.csv`` files or tables.
    metrics : columns of ``scores.csv`` (``rmse_PSL``, ``skill_U850``, ``pod``, ``far``,
        ``track_error_km`` ...).
    path : also write the figure there as PNG (atomic).
    labels : legend labels (default: each table's model name, or its folder when names repeat).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per metric, one line per score table; also written to ``path`` if given.
    """
    check_png(path)
    metrics = [metrics] if isinstance(metrics, str) else list(metrics)
    if not scores or not metrics:
        raise InputError("plot_scores: give at least one score table and one metric")
    tables = [_score_table(s) for s in scores]
    names = list(labels) if labels is not None else [lab for _, lab in tables]
    if labels is None and len(set(names)) < len(names):
        names = [Path(str(s)).name if not isinstance(s, pd.DataFrame) else f"{n} {i}"
                 for i, (s, n) in enumerate(zip(scores, names))]
    if len(names) != len(tables):
        raise InputError(f"plot_scores: {len(names)} labels for {len(tables)} score tables")
    frames = []
    for (df, _), name in zip(tables, names):
        _check(df, ["lead_time_h", *metrics], f"plot_scores ({name})")
        frames.append(df.assign(model=name))
    df = pd.concat(frames, ignore_index=True)
    fig = _panels(df, "lead_time_h", metrics, (4.4, 3.5), "Lead time (h)",
                  lambda m: f"{m} vs lead time",
                  lambda m: METRIC_LABELS.get(m.lower(), METRIC_LABELS.get(m, m)))
    return finish(fig, path, dpi=150)
