"""Score one model on a fixed set of held-out clips: image metrics and cyclone tracks.

Image metrics come from :class:`hurricane_ode.metrics.MetricAccumulator` on the
normalised frames (MSE as the paper reports it, PSNR/SSIM with data range 6 = +-3
sigma, LPIPS when a module is given) and, through the normalisation std, MSE in
physical units per variable (U850/V850 in m2 s-2, PSL in Pa2).

Cyclone tracking (when the data are a tile store with U850, V850 and PSL): truth and
forecast target frames are mapped back to physical units, placed on the tile's
lat/lon, and :func:`hurricane_ode.tracking.find_centres` finds the centres in both.
Every true centre is matched to the nearest forecast centre at the same lead time
within ``max_distance_km`` (a miss otherwise). Reported per lead time: ``n_true``,
``n_matched``, ``detection_rate``, ``track_error_km`` (mean great-circle distance of
matched centres), ``psl_mae_hpa`` / ``psl_bias_hpa`` (forecast minus truth central
pressure) and ``wind_mae_ms`` / ``wind_bias_ms`` (maximum 850 hPa wind nearby).
Every true centre at every target time is considered, so a forecast that loses the
storm shows up as a lower detection rate, not as a missing row. Each storm in the clip's last
observed input is also followed through the truth and the forecast
(:mod:`hurricane_ode.evaluation.clip_following`): ``follow_kept``, ``follow_track_error_km``
and ``follow_persistence_km``, the measure that does not reward chance hits.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from hurricane_ode.config import DataConfig
from hurricane_ode.data.clips import collate_clips
from hurricane_ode.errors import InputError
from hurricane_ode.evaluation.clip_following import (
    follow_in_clip,
    summarise_clip_following,
    true_track,
)
from hurricane_ode.metrics import ZSCORE_DATA_RANGE, MetricAccumulator
from hurricane_ode.tracking import find_centres, great_circle_km

__all__ = ["EvalClips", "build_eval_clips", "score_model", "TRACK_VARIABLES"]

TRACK_VARIABLES = ("U850", "V850", "PSL")


@dataclass
class EvalClips:
    """A fixed, deterministic list of test clips plus what tracking needs."""

    dataset: Any
    indices: list[int]
    variables: list[str]
    lead_times_h: list[float]
    channel_std: list[float] | None
    lat: np.ndarray | None = None
    lon: np.ndarray | None = None
    tracking_note: str = ""
    _truth_centres: dict[int, pd.DataFrame] = field(default_factory=dict)
    _start_centres: dict[int, pd.DataFrame] = field(default_factory=dict)
    _true_tracks: dict[int, pd.DataFrame] = field(default_factory=dict)

    @property
    def tracking(self) -> bool:
        return self.lat is not None

    @property
    def n_windows(self) -> int:
        return len(self.dataset)

    def mean_input_gap_h(self) -> float:
        """Mean gap between consecutive observed inputs over the clips, hours."""
        gaps = []
        for i in self.indices:
            clip = self.dataset[i]
            t = clip.input_times[clip.input_mask].double().numpy()
            gaps.extend(np.diff(t).tolist())
        return float(np.mean(gaps)) if gaps else math.nan


def _evenly(n: int, k: int | None) -> list[int]:
    if k is None or k >= n:
        return list(range(n))
    return sorted({int(round(x)) for x in np.linspace(0, n - 1, k)})


def build_eval_clips(
    data: DataConfig,
    seed: int,
    max_clips: int | None,
    tracking: bool = True,
    split: str = "test",
) -> EvalClips:
    """The held-out clips: one per test window in time order (at most ``max_clips``, evenly spaced).

    Item ``i`` depends only on ``(seed, i)``, so every model sees the same inputs and targets.
    """
    from hurricane_ode.data.sources import build_dataset

    dcfg = copy.deepcopy(data)
    dcfg.clips_per_epoch = None  # type: ignore[assignment]  # one item per window, time order
    ds: Any = build_dataset(dcfg, split, seed)  # a source's Dataset: len, items, maybe .stats
    if len(ds) == 0:
        raise InputError(f"the {split} split of {data.source} {data.path} has no clip windows")
    indices = _evenly(len(ds), max_clips)
    first = ds[indices[0]]
    observed = first.input_times[first.input_mask]
    leads = (first.target_times - observed.max()).double().tolist()
    variables = list(getattr(ds, "variables", [f"c{c}" for c in range(first.n_channels)]))
    std = None
    try:
        stats = ds.stats
    except (AttributeError, KeyError):
        stats = None
    if stats and all(v in stats for v in variables):
        std = [float(stats[v]["std"] if isinstance(stats[v], dict) else stats[v][1]) for v in variables]
    clips = EvalClips(ds, indices, variables, leads, std)
    if not tracking:
        clips.tracking_note = "off"
    elif not all(v in variables for v in TRACK_VARIABLES):
        clips.tracking_note = f"unavailable: needs variables {list(TRACK_VARIABLES)}, data has {variables}"
    elif not (hasattr(ds, "inverse_normalize") and hasattr(ds, "store") and hasattr(ds, "basin")):
        clips.tracking_note = "unavailable: the data source is not a tile store (no lat/lon)"
    else:
        from hurricane_ode.data.tile_dataset import open_basin

        grid = open_basin(ds.store, ds.basin)
        clips.lat = np.asarray(grid["lat"].values, dtype=float)
        clips.lon = np.asarray(grid["lon"].values, dtype=float)
        clips.tracking_note = "find_centres on truth and forecast tiles (physical units)"
    return clips


def _centres(frames_phys: np.ndarray, variables: list[str], leads: np.ndarray, clips: EvalClips) -> pd.DataFrame:
    """Centres in one clip's frames ``[K, C, H, W]`` (physical); ``time`` = lead hours."""
    data = {
        v: (("time", "lat", "lon"), frames_phys[:, variables.index(v)].astype(np.float64))
        for v in TRACK_VARIABLES
    }
    ds = xr.Dataset(data, coords={"time": leads, "lat": clips.lat, "lon": clips.lon})
    return find_centres(ds)


def _match(truth: pd.DataFrame, fc: pd.DataFrame, max_km: float) -> list[dict[str, Any]]:
    """One row per true centre: nearest forecast centre at the same lead within ``max_km``."""
    rows = []
    for r in truth.itertuples(index=False):
        row = {"lead_time_h": float(r.time), "matched": False, "track_error_km": math.nan,
               "psl_error_hpa": math.nan, "wind_error_ms": math.nan}  # fmt: skip
        cand = fc[np.isclose(fc["time"].to_numpy(float), float(r.time))] if len(fc) else fc
        if len(cand):
            d = great_circle_km(r.lat, r.lon, cand["lat"].to_numpy(), cand["lon"].to_numpy())
            n = int(np.argmin(d))
            if d[n] <= max_km:
                row.update(
                    matched=True,
                    track_error_km=float(d[n]),
                    psl_error_hpa=(float(cand["min_psl_pa"].iloc[n]) - float(r.min_psl_pa)) / 100.0,
                    wind_error_ms=float(cand["max_wind_ms"].iloc[n]) - float(r.max_wind_ms),
                )
        rows.append(row)
    return rows


def _track_summary(m: pd.DataFrame) -> dict[str, float]:
    h = m[m["matched"]] if len(m) else m
    n_true, n_matched = len(m), len(h)
    return {
        "n_true": n_true,
        "n_matched": n_matched,
        "detection_rate": n_matched / n_true if n_true else math.nan,
        "track_error_km": float(h["track_error_km"].mean()) if n_matched else math.nan,
        "psl_mae_hpa": float(h["psl_error_hpa"].abs().mean()) if n_matched else math.nan,
        "psl_bias_hpa": float(h["psl_error_hpa"].mean()) if n_matched else math.nan,
        "wind_mae_ms": float(h["wind_error_ms"].abs().mean()) if n_matched else math.nan,
        "wind_bias_ms": float(h["wind_error_ms"].mean()) if n_matched else math.nan,
    }


@torch.no_grad()
def score_model(
    model: nn.Module,
    clips: EvalClips,
    device: torch.device,
    batch_size: int = 8,
    lpips: nn.Module | None = None,
    max_distance_km: float = 500.0,
    seed: int = 0,
    progress: bool = True,
    desc: str = "eval",
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Score ``model`` on ``clips``: ``(overall, per_lead_rows)`` (see the module docstring).

    Keys: ``n_clips``, ``mse`` (normalised), ``mse_x1e3``, ``mse_<var>``,
    ``mse_phys_<var>``, ``rmse_phys_<var>``, ``psnr``, ``ssim``, ``lpips`` (NaN without
    a module) and the tracking keys; per-lead rows add ``lead_time_h``.
    """
    torch.manual_seed(seed)  # models that sample (latent_ode, ode2vae) become deterministic
    model = model.to(device).eval()
    acc = MetricAccumulator(
        ZSCORE_DATA_RANGE,
        channel_names=clips.variables,
        channel_std=clips.channel_std,
        lead_times=clips.lead_times_h,
        lpips=lpips,
        ssim=min(clips.dataset[clips.indices[0]].image_size) >= 11,
    )
    matches: list[dict[str, Any]] = []
    followed: list[pd.DataFrame] = []
    ds = clips.dataset
    batches = [clips.indices[i : i + batch_size] for i in range(0, len(clips.indices), batch_size)]
    for idx in tqdm(batches, desc=desc, disable=not progress, leave=False, unit="batch"):
        batch = collate_clips([ds[i] for i in idx]).to(device)
        pred = model(batch.inputs, batch.input_times, batch.target_times, batch.input_mask).frames
        pred = pred.float().cpu()
        target = batch.targets.cpu()
        if not torch.isfinite(pred).all():
            raise FloatingPointError(f"{desc}: the model produced non-finite frames")
        acc.update(pred, target, valid=batch.target_mask.cpu())
        if not clips.tracking:
            continue
        pred_phys = ds.inverse_normalize(pred).numpy()
        true_phys = ds.inverse_normalize(target).numpy()
        times = batch.target_times.cpu().double()
        for j, i in enumerate(idx):
            mask = batch.input_mask[j].cpu()
            leads = (times[j] - batch.input_times[j].cpu().double()[mask].max()).numpy()
            if i not in clips._truth_centres:
                clips._truth_centres[i] = _centres(true_phys[j], clips.variables, leads, clips)
                last = int(torch.nonzero(mask).max())
                first = ds.inverse_normalize(batch.inputs[j, last : last + 1].cpu()).numpy()
                clips._start_centres[i] = _centres(first, clips.variables, np.zeros(1), clips)
                clips._true_tracks[i] = true_track(clips._start_centres[i], clips._truth_centres[i], leads.tolist())
            fc = _centres(pred_phys[j], clips.variables, leads, clips)
            matches.extend(_match(clips._truth_centres[i], fc, max_distance_km))
            followed.append(follow_in_clip(clips._start_centres[i], clips._true_tracks[i], fc, leads.tolist()))
    res = acc.compute()
    nan = math.nan
    overall: dict[str, Any] = {"n_clips": len(clips.indices), "mse": res["mse_mean"]}
    overall["mse_x1e3"] = res["mse_mean"] * 1e3
    per_lead: list[dict[str, Any]] = [
        {"lead_time_h": float(lt), "n_clips": int(n), "mse": res["mse"][k], "mse_x1e3": res["mse"][k] * 1e3}
        for k, (lt, n) in enumerate(zip(res["lead_time"], res["count"]))
    ]
    for v in clips.variables:
        per_channel = res["mse_per_channel"][v]
        overall[f"mse_{v}"] = float(np.mean(per_channel))  # equal counts per lead
        for k, row in enumerate(per_lead):
            row[f"mse_{v}"] = per_channel[k]
        if "mse_phys" in res:
            overall[f"mse_phys_{v}"] = res["mse_phys_mean"][v]
            overall[f"rmse_phys_{v}"] = math.sqrt(res["mse_phys_mean"][v])
            for k, row in enumerate(per_lead):
                row[f"mse_phys_{v}"] = res["mse_phys"][v][k]
                row[f"rmse_phys_{v}"] = math.sqrt(res["mse_phys"][v][k])
    overall["psnr"] = res["psnr_mean"]
    overall["ssim"] = res.get("ssim_mean", nan)
    overall["lpips"] = res.get("lpips_mean", nan)
    for k, row in enumerate(per_lead):
        row["psnr"] = res["psnr"][k]
        row["ssim"] = res["ssim"][k] if "ssim" in res else nan
        row["lpips"] = res["lpips"][k] if "lpips" in res else nan
    if clips.tracking:
        m = pd.DataFrame(matches, columns=["lead_time_h", "matched", "track_error_km",
                                           "psl_error_hpa", "wind_error_ms"])  # fmt: skip
        overall.update(_track_summary(m))
        f = pd.concat(followed, ignore_index=True) if followed else pd.DataFrame()
        overall.update(summarise_clip_following(f))
        for row in per_lead:
            sel = m[np.isclose(m["lead_time_h"].to_numpy(float), row["lead_time_h"])]
            row.update(_track_summary(sel))
            row.update(summarise_clip_following(f, row["lead_time_h"]))
    return overall, per_lead
