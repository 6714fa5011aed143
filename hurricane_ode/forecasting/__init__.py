"""Forecasts and hindcasts: a model + sparse inputs + times -> CF Datasets in physical units.

This is where data (xarray) and models (tensors) meet::

    ds = forecast("runs/demo/last.pt", "cam5/*.nc", "natl",
                  times="2005-08-28T00/2005-08-29T00/3h")
    hc = hindcast("runs/demo/last.pt", "cam5/*.nc", "natl",
                  init_times="2005-08-24T00/2005-08-30T00/12h", lead_times="0/48h/3h")

Inputs are the frames that exist (or the ones named by ``input_times`` /
``input_offsets``); the query times may lie between and after them, at any real
time, in the data's own calendar. The model sees hours since the first input
frame; a forecast asked for at 04:30 is computed at 04:30, not rounded.

Modules: :mod:`~hurricane_ode.forecasting.inputs` (open and tile any input),
:mod:`~hurricane_ode.forecasting.single` (one forecast), :mod:`~hurricane_ode.forecasting.hindcasting`
(many initial times, batched). Checkpoint loading lives in :mod:`hurricane_ode.models.inference`.
"""

import os

from hurricane_ode.forecasting.hindcasting import hindcast, parse_durations, parse_leads
from hurricane_ode.forecasting.inputs import open_basin_fields, open_inputs
from hurricane_ode.forecasting.single import (
    MIN_INPUTS,
    ForecastRequest,
    forecast,
    prepare_request,
    request_to_dataset,
    run_model,
)
from hurricane_ode.models import inference as _inference
from hurricane_ode.models.inference import Forecaster, demo_checkpoint_path

__all__ = [
    "Forecaster",
    "ForecastRequest",
    "load_forecaster",
    "forecast",
    "hindcast",
    "parse_leads",
    "parse_durations",
    "prepare_request",
    "run_model",
    "request_to_dataset",
    "open_inputs",
    "open_basin_fields",
    "demo_checkpoint_path",
    "MIN_INPUTS",
]


def load_forecaster(checkpoint: str | os.PathLike | None = None, device: str = "cpu") -> Forecaster:
    """Load a checkpoint file or run directory (``None``: the shipped demo model).

    Parameters
    ----------
    checkpoint : checkpoint file, run directory, or None for :func:`demo_checkpoint_path`.
    device : torch device.

    Returns
    -------
    The :class:`Forecaster` (see :func:`hurricane_ode.models.inference.load_forecaster`).
    """
    if checkpoint is None:
        path = demo_checkpoint_path()
        if not path.exists():
            raise FileNotFoundError(
                f"the demo model {path} is missing from this installation; pass a checkpoint "
                "(--checkpoint FILE; train one with `hurricane-ode train --config configs/demo_model.yaml`)"
            )
        checkpoint = path
    return _inference.load_forecaster(checkpoint, device=device)
