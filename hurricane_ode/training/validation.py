"""Validation scores during training: the generator on whole-frame held-out windows.

:func:`window_validator` turns a clip dataset (whole frames, never crops) into the callable
that :meth:`hurricane_ode.training.trainer.Trainer.fit` runs every ``train.validate_every``
steps. Scores (lower is better) are normalised MSE (on z-scored fields) overall, at a few
leads, and in a neighbourhood of each window's minimum of one channel (``focus``), plus the
same overall score of a reference model (persistence or advection) so that the log says
at once whether the model beats it, and ``focus_depth_24h``: how much of the depth of that
low the forecast keeps at +24 h (median over windows of forecast / true depth, depth = box
mean minus box minimum of the focus channel; 1 is perfect, a filled vortex tends to 0).
``train.best_metric`` picks ``best.pt``.

Data flow stays one-way: this module sees clips and a model, nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from hurricane_ode.config import ModelConfig
from hurricane_ode.data.clips import collate_clips
from hurricane_ode.errors import InputError
from hurricane_ode.models.base import build_model

__all__ = ["window_validator"]


def _focus_box(field: torch.Tensor, radius: int) -> torch.Tensor:
    """``[B, H, W]`` bool: pixels within ``radius`` (Chebyshev) of each sample's minimum of ``field``."""
    b, h, w = field.shape
    idx = field.flatten(1).argmin(dim=1)
    r, c = idx // w, idx % w
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    return ((rows - r.view(b, 1, 1)).abs() <= radius) & ((cols - c.view(b, 1, 1)).abs() <= radius)


def _depth(field: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """``[B]`` box mean minus box minimum of ``field`` ``[B, H, W]`` over ``box`` ``[B, H, W]``."""
    big = torch.finfo(field.dtype).max
    inside = box.to(field.dtype)
    mean = (field * inside).sum(dim=(1, 2)) / inside.sum(dim=(1, 2)).clamp_min(1.0)
    return mean - torch.where(box, field, big).flatten(1).min(dim=1).values


def window_validator(
    dataset: Dataset,
    n_windows: int = 16,
    batch_size: int = 4,
    leads_h: Sequence[float] = (3.0, 12.0, 24.0, 48.0),
    reference: str | None = "advection_lk",
    focus_channel: int | None = 2,
    focus_radius_px: int = 6,
) -> Callable[[nn.Module], Mapping[str, float]]:
    """A ``Trainer.fit`` validator scoring ``n_windows`` evenly spaced windows of ``dataset``.

    Parameters
    ----------
    dataset
        Whole-basin clips (normalised), e.g. the ``test`` split of the tile source.
    n_windows
        Windows scored (evenly spaced over the dataset; the same ones every time).
    batch_size
        Windows per forward pass.
    leads_h
        Leads (clip time units after the last input) reported separately, where present.
    reference
        A registered baseline scored once on the same windows (``val_ref_nmse``), or None.
    focus_channel
        Channel whose minimum in the last input marks the feature to score separately (for
        climate clips the sea-level pressure: the deepest low); None skips that score.
    focus_radius_px
        Half-width of the box around that minimum.

    Returns
    -------
    callable
        ``f(generator) -> {"nmse": ..., "nmse_<L>h": ..., "focus_nmse": ..., "ref_nmse": ...}``.
    """
    n = len(dataset)  # type: ignore[arg-type]
    if n == 0:
        raise InputError("window_validator: the validation dataset is empty")
    picks = np.unique(np.linspace(0, n - 1, min(n_windows, n)).round().astype(int))
    batches = [collate_clips([dataset[int(i)] for i in picks[j : j + batch_size]])
               for j in range(0, len(picks), batch_size)]  # fmt: skip
    ref_scores: dict[str, float] | None = None

    def score(model: nn.Module) -> dict[str, float]:
        device = next(iter(model.parameters()), torch.zeros(())).device
        sq, n_pix, focus_sq, focus_n = torch.zeros(()), 0, 0.0, 0
        lead_sq: dict[float, list[float]] = {}
        depth_ratio: list[float] = []
        for batch in batches:
            out = model(batch.inputs.to(device), batch.input_times.to(device),
                        batch.target_times.to(device), batch.input_mask.to(device))  # fmt: skip
            err = (out.frames.float().cpu() - batch.targets) ** 2  # [B, K, C, H, W]
            valid = batch.target_mask[:, :, None, None, None].expand_as(err)
            total = err[valid].sum()
            sq = sq + total
            n_pix += int(valid.sum())
            last_in = batch.inputs[:, -1]
            lead = batch.target_times - batch.input_times.max(dim=1, keepdim=True).values
            for L in leads_h:
                hit = (lead - L).abs() < 1e-3
                if hit.any():
                    lead_sq.setdefault(L, []).append(float(err[hit].mean()))
            if focus_channel is not None and focus_channel < last_in.shape[1]:
                box = _focus_box(last_in[:, focus_channel], focus_radius_px)  # [B, H, W]
                m = box[:, None, None].expand_as(err) & valid
                focus_sq += float(err[m].sum())
                focus_n += int(m.sum())
                wide = _focus_box(last_in[:, focus_channel], 2 * focus_radius_px)
                for b, k in (((lead - 24.0).abs() < 1e-3) & batch.target_mask).nonzero().tolist():
                    true_d = _depth(batch.targets[b : b + 1, k, focus_channel], wide[b : b + 1])
                    fc_d = _depth(out.frames[b : b + 1, k, focus_channel].float().cpu(), wide[b : b + 1])
                    if float(true_d) > 0:
                        depth_ratio.append(float(fc_d / true_d))
        scores = {"nmse": float(sq) / max(n_pix, 1)}
        for L, v in lead_sq.items():
            scores[f"nmse_{L:g}h"] = float(np.mean(v))
        if focus_n:
            scores["focus_nmse"] = focus_sq / focus_n
        if depth_ratio:
            scores["focus_depth_24h"] = float(np.median(depth_ratio))
        return scores

    def validate(model: nn.Module) -> Mapping[str, float]:
        nonlocal ref_scores
        scores = score(model)
        if reference is not None:
            if ref_scores is None:
                mc: ModelConfig = getattr(model, "config", ModelConfig())
                h, w = batches[0].inputs.shape[-2:]
                ref = build_model(ModelConfig(name=reference, in_channels=mc.in_channels,
                                              image_size=(h, w)))  # fmt: skip
                with torch.no_grad():
                    ref_scores = score(ref)
            scores.update({f"ref_{k}": v for k, v in ref_scores.items()})
        return scores

    return validate
