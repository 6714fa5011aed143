"""Shared plotting plumbing: optional imports, Agg figures, atomic PNG writes."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hurricane_ode.errors import InputError
from hurricane_ode.outputs import atomic_file
from hurricane_ode.plotting.coastlines import _INSTALL_HINT, PlotDependencyError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 120


def require_matplotlib() -> Any:
    """Import matplotlib (the ``plot`` extra) or raise :class:`PlotDependencyError`."""
    try:
        import matplotlib
    except ImportError as exc:
        raise PlotDependencyError(f"matplotlib is not installed ({exc}); {_INSTALL_HINT}") from exc
    return matplotlib


def new_figure(figsize: tuple[float, float]) -> Figure:
    """A matplotlib Figure on an Agg canvas (no pyplot, no global backend change)."""
    require_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_path(path: str | os.PathLike) -> Path:
    """``path`` as a Path, refused with :class:`InputError` unless it ends in ``.png``."""
    out = Path(path).expanduser()
    if out.suffix.lower() != ".png":
        raise InputError(f"output path {out} must end in .png")
    return out


def check_png(path: str | os.PathLike | None) -> None:
    """Refuse an output ``path`` not ending in ``.png`` before any drawing (None: no output)."""
    if path is not None:
        png_path(path)


def save_png(fig: Figure, path: str | os.PathLike, dpi: int = DPI, compact: bool = False) -> Path:
    """Write ``fig`` to ``path`` as PNG via a temporary name and an atomic rename.

    Parameters
    ----------
    fig : the Figure to write.
    path : the PNG file (must end in ``.png``; missing parent folders are created).
    dpi : resolution (dots per inch).
    compact : write an adaptive 256-colour palette PNG (about a quarter of the RGBA size;
        needs Pillow, which comes with matplotlib).

    Returns
    -------
    Path
        The written file.
    """
    out = png_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    image = _palette_image(fig, dpi) if compact else None
    with atomic_file(out) as tmp:
        if image is not None:
            image.save(tmp, format="PNG", optimize=True)
        else:
            fig.savefig(tmp, dpi=dpi, format="png", bbox_inches="tight")
    return out


def _palette_image(fig: Figure, dpi: int) -> Any | None:
    """``fig`` rendered and quantised to 256 colours (a PIL image); None without Pillow."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow comes with matplotlib
        return None
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png", bbox_inches="tight")
    buf.seek(0)
    return Image.open(buf).convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)


def finish(fig: Figure, path: str | os.PathLike | None, dpi: int = DPI,
           compact: bool = False) -> Figure:
    """Write ``fig`` to ``path`` (when given, see :func:`save_png`) and return it."""
    if path is not None:
        save_png(fig, path, dpi=dpi, compact=compact)
    return fig

