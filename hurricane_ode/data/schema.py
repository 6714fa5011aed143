"""The one declaration of the field schema: U850, V850 (m s-1) and PSL (Pa) on (time, lat, lon).

:data:`VARIABLES` are the channels every reader, tile store and forecast carries;
:data:`VARIABLE_ALIASES` the names accepted in foreign files; :data:`CF_ATTRS` the CF
attributes written for them; :func:`check_variables` the one check that a dataset holds them.
"""

from __future__ import annotations

from collections.abc import Sequence

import xarray as xr

from hurricane_ode.errors import InputError

__all__ = ["VARIABLES", "DIMS", "VARIABLE_ALIASES", "CF_ATTRS", "check_variables"]

VARIABLES: tuple[str, ...] = ("U850", "V850", "PSL")
DIMS: tuple[str, str, str] = ("time", "lat", "lon")

#: canonical name -> accepted names, in order of preference (genuine 850 hPa fields only)
VARIABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "U850": ("U850", "u850", "ua850", "UA850"),
    "V850": ("V850", "v850", "va850", "VA850"),
    "PSL": ("PSL", "psl", "slp", "SLP", "msl", "MSL", "PRMSL", "prmsl"),
}

#: CF attributes of the standardised variables
CF_ATTRS: dict[str, dict[str, str]] = {
    "U850": {
        "standard_name": "eastward_wind",
        "long_name": "Zonal wind at 850 mbar pressure surface",
        "units": "m s-1",
    },
    "V850": {
        "standard_name": "northward_wind",
        "long_name": "Meridional wind at 850 mbar pressure surface",
        "units": "m s-1",
    },
    "PSL": {
        "standard_name": "air_pressure_at_mean_sea_level",
        "long_name": "Sea level pressure",
        "units": "Pa",
    },
}


def check_variables(ds: xr.Dataset, where: str, variables: Sequence[str] = VARIABLES) -> xr.Dataset:
    """Check ``ds`` holds ``variables`` with dims (time, lat, lon); return just those.

    Parameters
    ----------
    ds
        The dataset to check.
    where
        Prefix of the error message (names the file, store or argument).
    variables
        Required variables.

    Returns
    -------
    xarray.Dataset
        ``ds[list(variables)]``.

    Raises
    ------
    InputError
        A variable is missing or has other dimensions.
    """
    missing = [v for v in variables if v not in ds.data_vars]
    if missing:
        raise InputError(
            f"{where}: missing variable(s) {missing}; expected {list(variables)} "
            f"with dims (time, lat, lon), found {sorted(map(str, ds.data_vars))}"
        )
    for v in variables:
        if set(ds[v].dims) != set(DIMS):
            raise InputError(
                f"{where}: variable {v} has dims {ds[v].dims}, expected (time, lat, lon)"
            )
    return ds[list(variables)]
