"""A "hindcast" whose frames are the true fields at its valid times (the tracker's reference).

    python scripts/truth_hindcast.py HINDCAST.nc WORLD_DIR OUT.nc

Scoring it (``hurricane-ode score --hindcast OUT.nc ...``) gives the POD, FAR and track
error of the tracker on the truth itself, on the same grid, initial times and leads as
``HINDCAST.nc``: the ceiling that "POD at +24 h >= 80 % of its POD on the true fields" refers to.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import xarray as xr

from hurricane_ode.forecasting.inputs import open_basin_fields
from hurricane_ode.io import write_dataset
from hurricane_ode.timeutil import time_key


def main(hindcast: str, world: str, out: str) -> None:
    hc = xr.open_dataset(hindcast, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True)).load()
    variables = [v for v in ("U850", "V850", "PSL") if v in hc.data_vars]
    truth = open_basin_fields(world, hc.attrs["basin"], variables, (hc.sizes["lat"], hc.sizes["lon"])).load()
    index = {time_key(t): k for k, t in enumerate(truth["time"].values)}
    pick = np.vectorize(lambda t: index[time_key(t)])(hc["valid_time"].values)
    for v in variables:
        hc[v].values[...] = truth[v].values[pick]
    hc.attrs.update(model="truth", checkpoint="none", title="true fields at the hindcast's valid times")
    write_dataset(hc, Path(out), overwrite=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
