"""Validation with the verification metrics: in-memory hindcasts of a held-out world, scored with its tracks."""

from __future__ import annotations

import pytest

from hurricane_ode.config import config_from_dict
from hurricane_ode.errors import InputError
from hurricane_ode.evaluation.storm_validation import hindcast_validator
from hurricane_ode.models.base import build_model


def _config(name: str):
    return config_from_dict({
        "data": {"sampling": {"n_inputs": 3, "n_targets": 8}},
        "model": {"name": name, "image_size": [30, 80]},
    })


def _stats(world):
    import xarray as xr

    ds = xr.open_mfdataset([str(f) for f in world.files], data_vars="all")
    return {v: {"mean": float(ds[v].mean()), "std": float(ds[v].std())} for v in ("U850", "V850", "PSL")}


def test_hindcast_validator_scores_storms_by_lead_and_ranks_models(demo_world):
    stats = _stats(demo_world)
    scores = {}
    for name in ("persistence", "advection_lk"):
        cfg = _config(name)
        validate = hindcast_validator(demo_world.files, "natl", demo_world.tracks, cfg, stats, n_inits=2,
                                      lead_times="12h/24h/12h", input_offsets="-12h,-6h,0h",
                                      report_leads_h=(12.0, 24.0))
        scores[name] = validate(build_model(cfg.model))
    s = scores["persistence"]
    assert {"nmse", "nmse_12h", "nmse_24h", "psl_rmse_24h", "pod_24h", "far_24h", "track_error_km_24h"} <= set(s)
    assert 0.0 <= s["pod_24h"] <= 1.0 and s["nmse_24h"] > s["nmse_12h"] > 0
    # the moving storms: advection beats persistence overall and in PSL at 24 h
    assert scores["advection_lk"]["nmse"] < s["nmse"]
    assert scores["advection_lk"]["psl_rmse_24h"] < s["psl_rmse_24h"]


def test_hindcast_validator_refuses_data_too_short_for_its_leads(demo_world):
    with pytest.raises(InputError, match="too short"):
        hindcast_validator(demo_world.files, "natl", demo_world.tracks, _config("persistence"),
                           _stats(demo_world), lead_times="3h/96h/3h")
