"""Validation during training with the verification metrics: hindcast + score on a held-out world.

:func:`hindcast_validator` returns the callable that
:meth:`hurricane_ode.training.trainer.Trainer.fit` runs every ``train.validate_every`` steps. It
forecasts whole basins of a world kept out of training from evenly spaced initial times,
exactly as ``hurricane-ode hindcast`` does (:func:`hurricane_ode.hindcast`, in memory), and
scores them as ``hurricane-ode score`` does (:func:`hurricane_ode.verification.score`, with
best tracks): normalised MSE by lead, PSL RMSE, and the tracker's POD, FAR and track error
(of its hits, and of every storm followed from its initial fix, with the fraction kept).
Lower is better for every score except ``pod_*`` and ``follow_kept_*``; ``best_metric`` picks
one (``nmse``).

``hurricane-ode train`` uses it when ``data.validation_path`` names best tracks
(``STORE::BASIN@tracks.csv``); without tracks it falls back to the faster window validator
(:func:`hurricane_ode.training.validation.window_validator`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
from torch import nn

from hurricane_ode.config import Config
from hurricane_ode.errors import InputError

__all__ = ["hindcast_validator"]

def hindcast_validator(
    inputs: Any,
    basin: str,
    tracks: Any,
    config: Config,
    stats: Mapping[str, Mapping[str, float]],
    *,
    n_inits: int = 16,
    lead_times: str = "3h/48h/3h",
    input_offsets: str = "-24h,-15h,-9h,-6h,0h",
    report_leads_h: Sequence[float] = (3.0, 12.0, 24.0, 48.0),
    batch_size: int = 8,
) -> Callable[[nn.Module], dict[str, float]]:
    """A ``Trainer.fit`` validator: hindcasts of a held-out world scored with its best tracks.

    Parameters
    ----------
    inputs
        The held-out world: a tile store, CAM5 files or a Dataset (never seen in training).
    basin
        Basin (group) to forecast, whole, at the data's own grid spacing.
    tracks
        Its best tracks (``tracks.csv``, IBTrACS CSV or a DataFrame).
    config
        The training config (variables, sampling, model); the model's grid defaults to the data's.
    stats
        Normalisation ``{variable: {"mean", "std"}}`` of the training data (physical units).
    n_inits
        Initial times, evenly spaced so that every input and lead lies inside the data.
    lead_times, input_offsets
        As ``hurricane-ode hindcast --lead / --input-offsets``.
    report_leads_h
        Leads reported separately (hours).
    batch_size
        Initial times per forward pass.

    Returns
    -------
    callable
        ``f(generator) -> {"nmse", "nmse_<L>h", "psl_rmse_<L>h", "pod_<L>h", "pod_init_<L>h",
        "far_<L>h", "track_error_km_<L>h", "follow_kept_<L>h", "follow_track_error_km_<L>h"}``
        (NMSE z-scored with the truth's statistics; POD/FAR/track error from the tracker on the
        forecasts against the best tracks).
    """
    from hurricane_ode.forecasting.hindcasting import hindcast, parse_durations, parse_leads
    from hurricane_ode.forecasting.inputs import grid_spacing, open_basin_fields
    from hurricane_ode.models.inference import Forecaster
    from hurricane_ode.verification import read_tracks, score

    variables = list(config.data.variables)
    truth = open_basin_fields(inputs, basin, variables, None, "the validation data")
    spacing = config.model.grid_spacing_deg or grid_spacing(truth)[0]
    model_config = replace(config, model=replace(config.model, grid_spacing_deg=spacing))
    offsets = parse_durations(input_offsets, "input offset")
    leads = parse_leads(lead_times)
    times = list(truth["time"].values)
    first, last = times[0], times[-1]
    lo = first + timedelta(hours=float(-offsets.min()))
    hi = last - timedelta(hours=float(leads.max()))
    usable = [t for t in times if lo <= t <= hi]
    if not usable:
        raise InputError(f"validation data {inputs!r}: too short for inputs {input_offsets} and leads up to "
                         f"{leads.max():g} h ({first} .. {last})")
    picks = np.unique(np.linspace(0, len(usable) - 1, min(n_inits, len(usable))).round().astype(int))
    inits = [usable[i] for i in picks]
    truth = truth.load()
    best_tracks = read_tracks(tracks)
    norm = {v: (float(stats[v]["mean"]), float(stats[v]["std"])) for v in variables}

    def validate(model: nn.Module) -> dict[str, float]:
        param = next(iter(model.parameters()), None)
        device = str(param.device) if param is not None else "cpu"
        fc = Forecaster(model=model, config=model_config, stats=norm, source="validation (in training)")
        hc = hindcast(fc, truth, basin, inits, list(leads), input_offsets, batch_size=batch_size, device=device)
        s = score(hc, truth, best_tracks, lpips=False)
        lead_h = s["lead_time"].values
        out = {"nmse": float(s["nmse"].mean())}
        for L in report_leads_h:
            k = np.flatnonzero(np.isclose(lead_h, L))
            if not k.size:
                continue
            at = s.isel(lead_time=int(k[0]))
            out[f"nmse_{L:g}h"] = float(at["nmse"].mean())
            if "PSL" in variables:
                out[f"psl_rmse_{L:g}h"] = float(at["rmse"].sel(variable="PSL"))
            for name in ("pod", "pod_init", "far", "track_error_km", "follow_kept", "follow_track_error_km"):
                if name in at:
                    out[f"{name}_{L:g}h"] = float(at[name])
        return out

    return validate
