"""Validation scores during training: the generator on whole-basin held-out windows.

:func:`window_validator` turns a clip dataset (whole basins, never crops) into the callable
that :meth:`hurricane_ode.training.trainer.Trainer.fit` runs every ``train.validate_every``
steps. Scores (lower is better) are normalised MSE (on z-scored fields) overall, at a few
leads, and in a storm-sized neighbourhood of each window's deepest PSL minimum, plus the
same overall score of a reference model (persistence or advection) so that the log says
at once whether the model beats it. ``train.best_metric`` picks ``best.pt``.

Data flow stays one-way: this module sees clips and a model, nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from hurricane_ode.config import Config, ModelConfig
from hurricane_ode.data.clips import collate_clips
from hurricane_ode.models.base import build_model

__all__ = ["window_validator", "validator_from_config"]


def _storm_box(psl: torch.Tensor, radius: int) -> torch.Tensor:
    """``[B, H, W]`` bool: pixels within ``radius`` (Chebyshev) of each sample's PSL minimum."""
    b, h, w = psl.shape
    idx = psl.flatten(1).argmin(dim=1)
    r, c = idx // w, idx % w
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    return ((rows - r.view(b, 1, 1)).abs() <= radius) & ((cols - c.view(b, 1, 1)).abs() <= radius)


def window_validator(
    dataset: Dataset,
    n_windows: int = 16,
    batch_size: int = 4,
    leads_h: Sequence[float] = (3.0, 12.0, 24.0, 48.0),
    reference: str | None = "advection_lk",
    psl_channel: int | None = 2,
    storm_radius_px: int = 6,
) -> callable:
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
    psl_channel
        Channel holding PSL, for the storm-neighbourhood score (None: skip it).
    storm_radius_px
        Half-width of the box around the deepest PSL minimum of the last input.

    Returns
    -------
    callable
        ``f(generator) -> {"nmse": ..., "nmse_<L>h": ..., "storm_nmse": ..., "ref_nmse": ...}``.
    """
    n = len(dataset)  # type: ignore[arg-type]
    if n == 0:
        raise ValueError("window_validator: the validation dataset is empty")
    picks = np.unique(np.linspace(0, n - 1, min(n_windows, n)).round().astype(int))
    batches = [collate_clips([dataset[int(i)] for i in picks[j : j + batch_size]])
               for j in range(0, len(picks), batch_size)]  # fmt: skip
    ref_scores: dict[str, float] | None = None

    def score(model: nn.Module) -> dict[str, float]:
        device = next(iter(model.parameters()), torch.zeros(())).device
        sq, n_pix, storm_sq, storm_n = None, 0, 0.0, 0
        lead_sq: dict[float, list[float]] = {}
        for batch in batches:
            out = model(batch.inputs.to(device), batch.input_times.to(device),
                        batch.target_times.to(device), batch.input_mask.to(device))  # fmt: skip
            err = (out.frames.float().cpu() - batch.targets) ** 2  # [B, K, C, H, W]
            valid = batch.target_mask[:, :, None, None, None].expand_as(err)
            total = err[valid].sum()
            sq = total if sq is None else sq + total
            n_pix += int(valid.sum())
            last_in = batch.inputs[:, -1]
            lead = batch.target_times - batch.input_times.max(dim=1, keepdim=True).values
            for L in leads_h:
                hit = (lead - L).abs() < 1e-3
                if hit.any():
                    lead_sq.setdefault(L, []).append(float(err[hit].mean()))
            if psl_channel is not None and psl_channel < last_in.shape[1]:
                box = _storm_box(last_in[:, psl_channel], storm_radius_px)  # [B, H, W]
                m = box[:, None, None].expand_as(err) & valid
                storm_sq += float(err[m].sum())
                storm_n += int(m.sum())
        scores = {"nmse": float(sq) / max(n_pix, 1)}
        for L, v in lead_sq.items():
            scores[f"nmse_{L:g}h"] = float(np.mean(v))
        if storm_n:
            scores["storm_nmse"] = storm_sq / storm_n
        return scores

    def validate(model: nn.Module) -> Mapping[str, float]:
        nonlocal ref_scores
        scores = score(model)
        if reference is not None:
            if ref_scores is None:
                mc: ModelConfig = getattr(model, "config", ModelConfig())
                ref = build_model(ModelConfig(name=reference, in_channels=mc.in_channels,
                                              image_size=tuple(batches[0].inputs.shape[-2:])))  # fmt: skip
                with torch.no_grad():
                    ref_scores = score(ref)
            scores.update({f"ref_{k}": v for k, v in ref_scores.items()})
        return scores

    return validate


def validator_from_config(config: Config, seed: int | None = None) -> callable | None:
    """The validator ``hurricane-ode train`` uses, or None when ``train.validate_every`` is 0.

    Windows come from ``data.validation_path`` (a tile store, whole basins, every frame) when
    set, else from the ``test`` split of ``config.data`` (whole basins).
    """
    if not config.train.validate_every:
        return None
    from dataclasses import replace

    from hurricane_ode.data.sources import build_dataset

    seed = config.train.seed if seed is None else seed
    data = config.data
    vpath = getattr(data, "validation_path", None)
    if vpath:
        from hurricane_ode.data.combined import split_store_spec
        from hurricane_ode.data.tile_dataset import TileClipDataset

        train_set = build_dataset(data, "train", seed)
        store, basin = split_store_spec(vpath, data.basin)
        ds = TileClipDataset(store, basin, list(data.variables), data.sampling, split="all",
                             clips_per_epoch=None, seed=seed + 1, cache=True)  # fmt: skip
        stats = getattr(train_set, "stats", None)
        if stats is not None and hasattr(ds, "set_stats"):
            ds.set_stats(stats() if callable(stats) else stats)
    else:
        ds = build_dataset(replace(data, crop=None), "test", seed + 1)
    return window_validator(ds, n_windows=getattr(data, "validation_windows", 16))
