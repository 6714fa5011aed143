"""Is one forecast's lead over another real? Paired tests over initial times.

Two hindcasts scored on the same truth, the same initial times and the same leads
(``hurricane-ode score``) have, at each lead, one squared error per initial time each.
Their difference ``d_i = loss_a(i) - loss_b(i)`` is a time series over the initial times;
forecasts from nearby initial times share weather, so the ``d_i`` are autocorrelated and a
plain t-test overstates the confidence. :func:`compare_scores` runs the modified
Diebold-Mariano test of ``scores`` (the Bureau of Meteorology's verification library;
Hering and Genton 2011 by default, Harvey, Leybourne and Newbold 1997 on request) at each
lead, with ``h`` the number of initial times a forecast window spans
(``ceil(lead / spacing)``, at least 1): an ``h``-step-ahead forecast's errors are
correlated up to lag ``h - 1``.

Losses (per initial time, the same averages ``score`` pools):

* ``"nmse"``: the mean over variables of MSE in the truth's normalised units (the tables'
  "normalised MSE (mean of U850, V850, PSL)");
* ``"mse"``: the MSE of one ``variable`` in its physical units squared (PSL: Pa^2), whose
  pooled square root is the tables' RMSE.

A negative mean difference means ``a`` has the lower error.
"""

from __future__ import annotations

import math
import os
from typing import Literal

import numpy as np
import pandas as pd
import xarray as xr

from hurricane_ode.errors import InputError

__all__ = ["LOSSES", "loss_by_init", "compare_scores", "verdict"]

LOSSES = ("nmse", "mse")


def _open(scores: xr.Dataset | str | os.PathLike, name: str) -> xr.Dataset:
    if isinstance(scores, xr.Dataset):
        return scores
    path = os.fspath(scores)
    if os.path.isdir(path):
        path = os.path.join(path, "scores.nc")
    if not os.path.exists(path):
        raise InputError(f"{name}: no scores at {path} (expected `hurricane-ode score --output DIR`'s scores.nc)")
    with xr.open_dataset(path) as ds:
        return ds.load()


def loss_by_init(scores: xr.Dataset, loss: str = "nmse", variable: str = "PSL") -> xr.DataArray:
    """``[init_time, lead_time]`` per-initial-time loss from a :func:`~hurricane_ode.verification.score` Dataset.

    ``nmse``: mean over variables of ``rmse_by_init**2 / std**2``, with each variable's
    ``std**2 = rmse**2 / nmse`` (the truth's variance ``score`` normalised by); ``mse``:
    ``rmse_by_init**2`` of ``variable``. NaN where an initial time has no scored cell (e.g.
    no storm within ``storm_radius_km``).
    """
    if "rmse_by_init" not in scores:
        raise InputError("scores lack 'rmse_by_init' (per initial time): re-run `hurricane-ode score`")
    mse = scores["rmse_by_init"] ** 2
    if loss == "mse":
        if variable not in scores["variable"].values:
            raise InputError(f"variable {variable!r} is not scored; have {list(map(str, scores['variable'].values))}")
        return mse.sel(variable=variable, drop=True)
    if loss == "nmse":
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (scores["rmse"] ** 2 / scores["nmse"]).mean("lead_time")  # [variable]: the truth's variance
        return (mse / var).mean("variable")
    raise InputError(f"loss must be one of {LOSSES}, got {loss!r}")


def _spacing_h(init_times: np.ndarray) -> float:
    """Median hours between consecutive initial times (``time_key`` strings; the calendar is not
    stored, so a date only a model calendar has, such as 360_day's 30 February, is skipped)."""
    t = pd.to_datetime(pd.Index([str(x) for x in init_times]), errors="coerce", format="ISO8601")
    gaps = (np.diff(t.values).astype("timedelta64[s]").astype(float) / 3600.0)[~(t[1:].isna() | t[:-1].isna())]
    if gaps.size == 0:
        raise InputError("compare_scores needs at least two initial times in ISO form to know their spacing")
    if not (gaps > 0).all():
        raise InputError("initial times must be increasing")
    return float(np.median(gaps))


def compare_scores(
    a: xr.Dataset | str | os.PathLike,
    b: xr.Dataset | str | os.PathLike,
    loss: str = "nmse",
    variable: str = "PSL",
    *,
    confidence: float = 0.9,
    method: Literal["HG", "HLN"] = "HG",
) -> pd.DataFrame:
    """Paired Diebold-Mariano test of forecast ``a`` against ``b`` at every lead.

    Parameters
    ----------
    a, b
        ``hurricane-ode score`` output directories (or their ``scores.nc``, or Datasets) for
        two hindcasts of the same initial times and leads on the same truth.
    loss
        ``"nmse"`` or ``"mse"`` (of ``variable``); see the module docstring.
    confidence
        Level of the interval on the mean loss difference (0-1).
    method
        ``"HG"`` (Hering and Genton 2011) or ``"HLN"`` (Harvey, Leybourne and Newbold 1997).

    Returns
    -------
    DataFrame indexed by ``lead_time_h`` with ``a`` and ``b`` (pooled: NMSE, or RMSE for
    ``mse``), ``mean_diff`` (mean of ``loss_a - loss_b``), ``ci_lower``/``ci_upper``,
    ``p_a_better`` (the test's confidence that ``a``'s mean loss is lower), ``h``, ``n``.
    """
    from scores.stats.statistical_tests import diebold_mariano

    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    if method not in ("HG", "HLN"):
        raise InputError(f"method must be 'HG' or 'HLN', got {method!r}")
    sa, sb = _open(a, "a"), _open(b, "b")
    for coord in ("init_time", "lead_time"):
        va, vb = sa[coord].values, sb[coord].values
        if va.shape != vb.shape or not (va == vb).all():
            raise InputError(f"the two scores have different {coord}s: score both hindcasts on the same "
                             f"initial times and leads ({len(va)} against {len(vb)})")
    la, lb = loss_by_init(sa, loss, variable), loss_by_init(sb, loss, variable)
    d = (la - lb).transpose("lead_time", "init_time")
    spacing = _spacing_h(sa["init_time"].values)
    leads = sa["lead_time"].values.astype(float)
    h = np.maximum(1, np.ceil(leads / spacing - 1e-9)).astype(int)
    rows = []
    for i, lead in enumerate(leads):
        series = d.isel(lead_time=i).values
        ok = np.isfinite(series)
        pa, pb = float(np.nanmean(la.isel(lead_time=i).values)), float(np.nanmean(lb.isel(lead_time=i).values))
        pooled = (math.sqrt(pa), math.sqrt(pb)) if loss == "mse" else (pa, pb)
        row = {"lead_time_h": lead, "a": pooled[0], "b": pooled[1], "mean_diff": float(np.nanmean(series)) if ok.any() else np.nan,
               "ci_lower": np.nan, "ci_upper": np.nan, "p_a_better": np.nan, "h": int(h[i]), "n": int(ok.sum())}
        # unit scale first: the test is scale-free, but HG's least-squares fit of the
        # autocovariance starts from (1, 1) and does not converge on Pa^4-sized values
        scale = float(np.std(series[ok])) if ok.any() else 0.0
        if ok.sum() > h[i] + 1 and scale > 0:
            da = xr.DataArray(series[ok][None] / scale, dims=("series", "init"), coords={"h": ("series", [int(h[i])])})
            res = diebold_mariano(da, "series", "h", method=method, confidence_level=confidence,
                                  statistic_distribution="t")
            row.update(ci_lower=scale * float(res["ci_lower"].item()), ci_upper=scale * float(res["ci_upper"].item()),
                       p_a_better=1.0 - float(res["confidence_gt_0"].item()))
        rows.append(row)
    return pd.DataFrame(rows).set_index("lead_time_h")


def verdict(row: pd.Series) -> str:
    """``"a"``/``"b"`` when the interval on the mean difference excludes zero, else ``"tie"``."""
    if not (np.isfinite(row["ci_lower"]) and np.isfinite(row["ci_upper"])):
        return "n/a"
    if row["ci_upper"] < 0:
        return "a"
    if row["ci_lower"] > 0:
        return "b"
    return "tie"
