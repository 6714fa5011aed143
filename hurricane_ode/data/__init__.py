"""The data-access layer: one module per job, each said once.

* :mod:`~hurricane_ode.data.schema`: the U850/V850/PSL variable schema (names, aliases, CF attrs);
* :mod:`~hurricane_ode.data.cam5`: :func:`open_cam5` (paths or an ``xarray.Dataset``) validates and
  standardises CAM5 fields; :mod:`~hurricane_ode.data.basins` cuts basin tiles
  (:mod:`~hurricane_ode.data.regrid`: conservative, NaN-aware coarsening);
* :mod:`~hurricane_ode.data.store`: ``prepare_tiles`` writes the Zarr tile store
  (:mod:`~hurricane_ode.data.tiling` streams files, every basin in one pass);
  :mod:`~hurricane_ode.data.tile_reader`: ``open_tiles``, the one reader of that store;
* :mod:`~hurricane_ode.data.tile_dataset` / :mod:`~hurricane_ode.data.combined`: training clips
  (crops, storm-centred crops, train-period statistics, several stores);
* path expansion and the cache directory: :mod:`hurricane_ode.paths`; calendar-aware time
  arithmetic: :mod:`hurricane_ode.timeutil`.

Nothing here imports training, forecasting, evaluation or the demo.
"""
