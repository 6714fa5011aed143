"""The composition-mask diagnostic on the shipped model and the demo world."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from hurricane_ode.errors import InputError
from hurricane_ode.evaluation.composition import mask_by_lead
from hurricane_ode.forecasting import load_forecaster

INITS = "2005-08-02T00/2005-08-03T00/12h"


def test_mask_by_lead_summarises_the_model_masks(demo_world):
    fc = load_forecaster(None)
    seen = []
    hook = fc.model.register_forward_hook(lambda mod, args, out: seen.append(out.mask))
    out = mask_by_lead(fc, list(demo_world.files), "natl", INITS, "3h/12h/3h")
    hook.remove()
    assert out["lead_time"].values.tolist() == [3.0, 6.0, 9.0, 12.0]
    assert out.attrs["n_forecasts"] == 3
    masks = torch.cat(seen)
    assert out["mask_mean"].values == pytest.approx(masks.mean(dim=(0, 2, 3, 4)).numpy(), rel=1e-5)
    share = out["decoder_share"].values
    assert ((share >= 0) & (share <= 1)).all()
    assert share == pytest.approx((masks < 0.5).float().mean(dim=(0, 2, 3, 4)).numpy(), rel=1e-5)


def test_mask_by_lead_refuses_a_model_without_a_mask(demo_world):
    fc = load_forecaster(None)
    forward = fc.model.forward

    def no_mask(*args, **kwargs):
        return dataclasses.replace(forward(*args, **kwargs), mask=None)

    fc.model.forward = no_mask
    with pytest.raises(InputError, match="no composition mask"):
        mask_by_lead(fc, list(demo_world.files), "natl", "2005-08-02T00", "3h")


def test_mask_near_storms_reads_the_mask_at_the_best_track_fixes(demo_world):
    import numpy as np
    import pandas as pd

    from hurricane_ode.forecasting.hindcasting import hindcast

    fc = load_forecaster(None)
    hc = hindcast(fc, list(demo_world.files), "natl", INITS, "3h/12h/3h")
    lat, lon = float(hc["lat"].values[5]), float(hc["lon"].values[7])
    # one fix on a grid point at 2005-08-02T06, i.e. the first initial time's 6 h lead only
    tracks = pd.DataFrame({"storm_id": ["S"], "time": ["2005-08-02T06:00:00"], "lat": [lat], "lon": [lon]})
    seen = []
    hook = fc.model.register_forward_hook(lambda mod, args, out: seen.append(out.mask))
    out = mask_by_lead(fc, list(demo_world.files), "natl", INITS, "3h/12h/3h", tracks=tracks, radius_km=50.0)
    hook.remove()
    near = out["mask_near_storms"].values
    assert np.isnan(near[[0, 2, 3]]).all()  # no fix at those valid times
    assert near[1] == pytest.approx(float(torch.cat(seen)[0, 1, 0, 5, 7]), rel=1e-5)
    wide = mask_by_lead(fc, list(demo_world.files), "natl", INITS, "3h/12h/3h", tracks=tracks, radius_km=500.0)
    assert wide["mask_near_storms"].values[1] != pytest.approx(near[1])  # more pixels averaged
