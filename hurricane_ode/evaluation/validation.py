"""The validator ``hurricane-ode train`` runs: held-out windows from the data config.

Climate tiles: builds the clips (whole basins, never crops) and hands them to
:func:`hurricane_ode.training.validation.window_validator`. Video sources: :func:`video_validator`
scores held-out clips exactly as ``evaluate --experiment video`` scores the test split (per
target frame PSNR / SSIM, predictions clamped to [0, 1]) beside the task's parameter-free
reference (linear blending for interpolation, copy-last-frame for extrapolation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from hurricane_ode.config import Config, DataConfig, ModelConfig
from hurricane_ode.errors import ConfigError, InputError
from hurricane_ode.training.validation import window_validator

if TYPE_CHECKING:
    from torch.utils.data import Dataset

__all__ = ["validator_from_config", "video_validator"]


def video_validator(data: DataConfig, seed: int, n_clips: int | None = 16, batch_size: int = 8) -> Callable:
    """A ``Trainer.fit`` validator: the ``test`` split of a video source drawn with ``seed``.

    The clips and scores are those of ``evaluate --experiment video``
    (:func:`~hurricane_ode.evaluation.video.score_video_model`): for interpolation (either
    protocol) the in-between frames, for extrapolation the frames after the inputs. Scores
    (lower is better where a name says so): ``neg_psnr`` (minus the mean PSNR, dB), ``psnr``,
    ``ssim``, ``mse``, ``psnr_t<time>`` / ``ssim_t<time>`` per target frame, the reference's
    ``ref_psnr`` / ``ref_ssim``, and ``psnr_gap`` / ``ssim_gap``: the largest shortfall, over the
    target frames, of the model below the reference (negative: above it at every frame).
    """
    from hurricane_ode.evaluation.scoring import build_eval_clips
    from hurricane_ode.evaluation.video import VIDEO_BASELINES, score_video_model
    from hurricane_ode.models.base import build_model

    clips = build_eval_clips(data, seed, n_clips, tracking=False)
    first = clips.dataset[clips.indices[0]]
    reference = build_model(ModelConfig(name=VIDEO_BASELINES[data.sampling.task][0],
                                        in_channels=first.n_channels, image_size=tuple(first.image_size)))  # fmt: skip
    ref_rows: list[dict] = []

    def frames(model: nn.Module, device: torch.device) -> list[dict]:
        return score_video_model(model, clips, device, batch_size, seed=seed, progress=False, desc="validation")[1]

    def validate(model: nn.Module) -> dict[str, float]:
        device = next(iter(model.parameters()), torch.zeros(())).device
        if not ref_rows:
            ref_rows.extend(frames(reference, torch.device("cpu")))
        rows = frames(model, device)
        overall = _mean_rows(rows)
        ref = _mean_rows(ref_rows)
        scores = {"neg_psnr": -overall["psnr"], "psnr": overall["psnr"], "ssim": overall["ssim"],
                  "mse": overall["mse"], "ref_psnr": ref["psnr"], "ref_ssim": ref["ssim"]}  # fmt: skip
        for r in rows:
            scores[f"psnr_t{r['target_time']:g}"] = r["psnr"]
            scores[f"ssim_t{r['target_time']:g}"] = r["ssim"]
        scores["psnr_gap"] = max(q["psnr"] - r["psnr"] for r, q in zip(rows, ref_rows))
        scores["ssim_gap"] = max(q["ssim"] - r["ssim"] for r, q in zip(rows, ref_rows))
        return scores

    return validate


def _mean_rows(rows: list[dict]) -> dict[str, float]:
    """Clip-weighted means of the per-frame rows (what ``evaluate`` reports as the overall score)."""
    n = sum(r["n_clips"] for r in rows)
    return {k: sum(r[k] * r["n_clips"] for r in rows) / max(n, 1) for k in ("psnr", "ssim", "mse")}


def validator_from_config(config: Config, seed: int | None = None) -> Callable | None:
    """The validator ``hurricane-ode train`` uses, or None when ``train.validate_every`` is 0.

    Windows come from ``data.validation_path`` (a tile store, whole basins, every frame) when
    set, else from the ``test`` split of ``config.data`` (whole basins) drawn with
    ``data.validation_seed`` (default ``train.seed + 1``; equal to ``train.seed`` it would be
    the test clips themselves and is refused), with ``sampling.irregular`` replaced by
    ``data.validation_irregular`` when set. Video sources get :func:`video_validator`. A
    validation path that names best tracks (``STORE::BASIN@tracks.csv``) is scored with the
    verification metrics instead (:func:`hurricane_ode.evaluation.storm_validation.hindcast_validator`:
    hindcasts from ``data.validation_windows`` initial times; NMSE, PSL RMSE, the tracker's
    POD, FAR and track error by lead).
    """
    if not config.train.validate_every:
        return None
    from dataclasses import replace

    from hurricane_ode.data.sources import build_dataset
    from hurricane_ode.data.video.registry import VIDEO_SOURCES

    seed = config.train.seed if seed is None else seed
    data = config.data
    vpath = getattr(data, "validation_path", None)
    vseed = seed + 1 if data.validation_seed is None else int(data.validation_seed)
    if not vpath and vseed == config.train.seed:
        raise ConfigError(
            f"data.validation_seed = {vseed} is train.seed: validation would score the test clips "
            "(pick any other seed, or null for train.seed + 1)"
        )
    if data.validation_irregular is not None:
        data = replace(data, sampling=replace(data.sampling, irregular=bool(data.validation_irregular)))
    if data.source in VIDEO_SOURCES and not vpath:
        return video_validator(data, vseed, data.validation_windows)
    if vpath:
        from hurricane_ode.data.combined import split_store_spec, store_tracks
        from hurricane_ode.data.tile_dataset import TileClipDataset

        train_set = build_dataset(data, "train", seed)
        vpath, tracks = store_tracks(vpath)
        store, basin = split_store_spec(vpath, data.basin)
        if tracks is not None:
            from hurricane_ode.evaluation.storm_validation import hindcast_validator
            from hurricane_ode.training.runlog import stats_for_checkpoint

            stats = stats_for_checkpoint(train_set)
            if stats is None:
                raise InputError("data.validation_path with best tracks needs normalisation statistics "
                                 "from the training data (a tile source)")
            return hindcast_validator(store, basin, tracks, config, stats,
                                      n_inits=getattr(data, "validation_windows", 16))
        ds: Dataset = TileClipDataset(store, basin, list(data.variables), data.sampling, split="all",
                             clips_per_epoch=None, seed=seed + 1, cache=True)  # fmt: skip
        stats = getattr(train_set, "stats", None)
        if stats is not None and hasattr(ds, "set_stats"):
            ds.set_stats(stats() if callable(stats) else stats)
    else:
        ds = build_dataset(replace(data, crop=None), "test", vseed)
    psl = list(data.variables).index("PSL") if "PSL" in data.variables else None
    return window_validator(ds, n_windows=getattr(data, "validation_windows", 16), focus_channel=psl)
