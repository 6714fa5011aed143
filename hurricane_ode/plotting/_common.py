"""Shared plotting plumbing: optional imports, Agg figures, atomic PNG writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from hurricane_ode.errors import InputError
from hurricane_ode.plotting.coastlines import _INSTALL_HINT, PlotDependencyError

DPI = 120


def require_matplotlib() -> Any:
    """Import matplotlib (the ``plot`` extra) or raise :class:`PlotDependencyError`."""
    try:
        import matplotlib
    except ImportError as exc:
        raise PlotDependencyError(f"matplotlib is not installed ({exc}); {_INSTALL_HINT}") from exc
    return matplotlib


def require_cartopy() -> Any:
    """Import cartopy (the ``plot`` extra) or raise :class:`PlotDependencyError`."""
    try:
        import cartopy
    except ImportError as exc:
        raise PlotDependencyError(f"cartopy is not installed ({exc}); {_INSTALL_HINT}") from exc
    return cartopy


def new_figure(figsize: tuple[float, float]) -> Any:
    """A matplotlib Figure on an Agg canvas (no pyplot, no global backend change)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_png(fig: Any, path: str | os.PathLike, dpi: int = DPI) -> Path:
    """Write ``fig`` to ``path`` as PNG via a temporary name and an atomic rename."""
    out = Path(path).expanduser()
    if out.suffix.lower() != ".png":
        raise InputError(f"output path {out} must end in .png")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    try:
        fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight")
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return out
