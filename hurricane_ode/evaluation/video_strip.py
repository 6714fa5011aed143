"""Frames at arbitrary times and a frame-strip figure (the paper's Figure 8 view).

:func:`predict_at_times` asks a trained model for frames at any query times (e.g.
``t = 2.25, 2.5, 2.75`` between inputs, or between trained target steps); the model
sees only the clip's inputs. :func:`save_frame_strip` draws rows of frames against
a shared time axis (a blank cell where a row has no frame at that time) and writes a
PNG atomically. Needs matplotlib (the ``plot`` extra) for the figure only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from hurricane_ode.data.clips import Clip

__all__ = ["predict_at_times", "save_frame_strip"]


@torch.no_grad()
def predict_at_times(model: nn.Module, clip: Clip, times: Sequence[float]) -> Tensor:
    """Frames ``[K, C, H, W]`` (clamped to [0, 1]) at ``times`` (clip units, ascending) from ``clip``'s inputs.

    ``clip`` is unbatched; its targets are ignored.
    """
    if clip.batched:
        raise ValueError("predict_at_times: give one unbatched clip")
    q = torch.as_tensor(list(times), dtype=torch.float32)
    if q.numel() == 0 or bool((q[1:] < q[:-1]).any()):
        raise ValueError(f"predict_at_times: times must be non-empty and ascending, got {list(times)}")
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    model.eval()
    out = model(
        clip.inputs[None].to(device),
        clip.input_times[None].to(device),
        q[None].to(device),
        clip.input_mask[None].to(device),
    ).frames[0]
    return out.float().clamp(0.0, 1.0).cpu()


def _image(frame: Tensor):
    x = frame.detach().float().clamp(0, 1).cpu()
    if x.shape[0] == 1:
        return x[0].numpy(), "gray"
    if x.shape[0] == 3:
        return x.permute(1, 2, 0).numpy(), None
    raise ValueError(f"save_frame_strip: frames must have 1 or 3 channels, got {x.shape[0]}")


def save_frame_strip(
    rows: Mapping[str, Mapping[float, Tensor]],
    path: str | Path,
    title: str | None = None,
    highlight: Sequence[float] = (),
    cell_inches: float = 1.1,
    dpi: int = 120,
) -> Path:
    """Write a grid of frames: one row per entry of ``rows`` (label -> {time: frame ``[C, H, W]``}).

    Columns are the sorted union of all times, labelled ``t = ...``; times in
    ``highlight`` (e.g. the queried in-between times) get a red label. Returns ``path``.
    """
    import matplotlib

    matplotlib.use(os.environ.get("MPLBACKEND", "Agg"), force=False)
    import matplotlib.pyplot as plt

    if not rows or not any(rows.values()):
        raise ValueError("save_frame_strip: no frames to draw")
    times = sorted({float(t) for r in rows.values() for t in r})
    marked = {round(float(t), 6) for t in highlight}
    fig, axes = plt.subplots(
        len(rows), len(times), figsize=(cell_inches * len(times), cell_inches * len(rows) + 0.4),
        squeeze=False,
    )  # fmt: skip
    for i, (label, frames) in enumerate(rows.items()):
        by_time = {round(float(t), 6): f for t, f in frames.items()}
        for j, t in enumerate(times):
            ax = axes[i][j]
            ax.set_xticks([])
            ax.set_yticks([])
            f = by_time.get(round(t, 6))
            if f is None:
                ax.axis("off")
            else:
                img, cmap = _image(f)
                ax.imshow(img, cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
            if i == 0:
                ax.set_title(f"t = {t:g}", fontsize=8, color="red" if round(t, 6) in marked else "black")
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
                if f is None:  # keep the row label visible on an empty first cell
                    ax.axis("on")
                    ax.set_frame_on(False)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=dpi)
    plt.close(fig)
    os.replace(tmp, path)
    return path
