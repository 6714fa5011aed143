"""Storm tracks in and out: given tracks as storms, and tracks.csv / IBTrACS-style CSV.

The project's ``tracks.csv`` has columns :data:`TRACK_COLUMNS`
(``storm_id,basin,time,lat,lon,min_psl_pa,max_wind_ms``). The IBTrACS-style
file (``tracks_ibtracs.csv``) follows IBTrACS's CSV layout: a header row, a
units row (``degrees_north``, ``kts``, ``mb`` ...), blanks (a space) for missing
values, ``BASIN`` codes (``NA`` for the North Atlantic), longitudes -180..180,
``WMO_*`` only at synoptic hours (00/06/12/18 UTC) and ``USA_*`` at every fix.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path

import cftime
import numpy as np
import pandas as pd

from hurricane_ode.data.synthetic.climate import Climate
from hurricane_ode.data.synthetic.storms import ALPHA_WEAK, STEP_HOURS, Storm
from hurricane_ode.errors import InputError
from hurricane_ode.timeutil import parse_time

TRACK_COLUMNS = ("storm_id", "basin", "time", "lat", "lon", "min_psl_pa", "max_wind_ms")
KNOT = 0.514444  # m/s
IBTRACS_BASINS = {"natl": "NA", "epac": "EP", "wpac": "WP", "nio": "NI", "sio": "SI", "spac": "SP"}
_FROM_IBTRACS = {v: k for k, v in IBTRACS_BASINS.items()} | {"SA": "satl"}
IBTRACS_COLUMNS = ("SID", "SEASON", "NUMBER", "BASIN", "SUBBASIN", "NAME", "ISO_TIME", "NATURE", "LAT",
                   "LON", "WMO_WIND", "WMO_PRES", "WMO_AGENCY", "TRACK_TYPE", "USA_WIND", "USA_PRES")  # fmt: skip
_IBTRACS_UNITS = {"SEASON": "Year", "LAT": "degrees_north", "LON": "degrees_east", "WMO_WIND": "kts",
                  "WMO_PRES": "mb", "USA_WIND": "kts", "USA_PRES": "mb"}  # fmt: skip


def _write_csv_atomic(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        df.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_tracks(rows: list[tuple], path: Path) -> pd.DataFrame:
    """Write the project's ``tracks.csv`` atomically (sorted by storm, time); return it."""
    tracks = pd.DataFrame(rows, columns=list(TRACK_COLUMNS))
    tracks = tracks.sort_values(["storm_id", "time"], kind="stable").reset_index(drop=True)
    _write_csv_atomic(tracks, path)
    return tracks


def write_ibtracs(tracks: pd.DataFrame, path: Path) -> Path:
    """Write ``tracks`` (project columns) as an IBTrACS-style CSV with its units row.

    Parameters
    ----------
    tracks: the project's track table (:data:`TRACK_COLUMNS`).
    path: output file (written atomically).

    Returns
    -------
    the path.
    """
    out = []
    for number, (sid, g) in enumerate(tracks.groupby("storm_id", sort=True), start=1):
        first = g.iloc[0]
        t0 = parse_time(first.time)
        lat0, lon0 = float(first.lat), float(first.lon) % 360.0
        ib_sid = f"{t0.year}{t0.dayofyr:03d}{'N' if lat0 >= 0 else 'S'}{round(abs(lat0)):02d}{round(lon0):03d}"
        for r in g.itertuples():
            t = parse_time(r.time)
            synoptic = t.hour % 6 == 0 and t.minute == 0
            wind_kt, pres_mb = round(r.max_wind_ms / KNOT), round(r.min_psl_pa / 100.0)
            lon = (float(r.lon) + 180.0) % 360.0 - 180.0
            out.append({
                "SID": ib_sid, "SEASON": t0.year, "NUMBER": number,
                "BASIN": IBTRACS_BASINS.get(r.basin, r.basin), "SUBBASIN": "MM", "NAME": str(sid).upper(),
                "ISO_TIME": t.strftime("%Y-%m-%d %H:%M:%S"), "NATURE": "TS",
                "LAT": f"{r.lat:.4f}", "LON": f"{lon:.4f}",
                "WMO_WIND": wind_kt if synoptic else " ", "WMO_PRES": pres_mb if synoptic else " ",
                "WMO_AGENCY": "synthetic" if synoptic else " ", "TRACK_TYPE": "main",
                "USA_WIND": wind_kt, "USA_PRES": pres_mb,
            })  # fmt: skip
    units = {c: _IBTRACS_UNITS.get(c, " ") for c in IBTRACS_COLUMNS}
    df = pd.DataFrame([units, *out], columns=list(IBTRACS_COLUMNS))
    _write_csv_atomic(df, path)
    return path


def read_given_tracks(source: str | os.PathLike | pd.DataFrame) -> pd.DataFrame:
    """Tracks to place storms on, as project columns (``max_wind_ms`` may be NaN).

    Parameters
    ----------
    source: a DataFrame or CSV path in the project's layout (:data:`TRACK_COLUMNS`; ``basin``
        and ``max_wind_ms`` optional) or IBTrACS's (``SID``, ``ISO_TIME``, ``LAT``, ``LON``,
        ``WMO_PRES`` or ``USA_PRES`` in hPa; a units row and blank cells allowed).

    Returns
    -------
    DataFrame with :data:`TRACK_COLUMNS`, ``lon`` in 0..360.
    """
    name = (
        "storm_tracks DataFrame"
        if isinstance(source, pd.DataFrame)
        else f"storm_tracks file {source}"
    )
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    else:
        if not Path(source).is_file():
            raise InputError(f"{name} does not exist")
        df = pd.read_csv(source, dtype=str, keep_default_na=False)
    if "SID" in df.columns and "ISO_TIME" in df.columns:
        num = {c: pd.to_numeric(df[c], errors="coerce") for c in ("LAT", "LON", "WMO_PRES", "USA_PRES",
                                                                   "WMO_WIND", "USA_WIND") if c in df}  # fmt: skip
        if "LAT" not in num or "LON" not in num:
            raise InputError(f"{name}: IBTrACS layout needs LAT and LON columns")
        pres = num.get("WMO_PRES", pd.Series(np.nan, index=df.index))
        pres = pres.fillna(num.get("USA_PRES", pd.Series(np.nan, index=df.index)))
        wind = num.get("WMO_WIND", pd.Series(np.nan, index=df.index))
        wind = wind.fillna(num.get("USA_WIND", pd.Series(np.nan, index=df.index)))
        basin = (
            df["BASIN"].astype(str).str.strip() if "BASIN" in df else pd.Series("", index=df.index)
        )
        df = pd.DataFrame(
            {
                "storm_id": df["SID"].astype(str).str.strip(),
                "basin": basin.map(lambda b: _FROM_IBTRACS.get(b, b)),
                "time": df["ISO_TIME"].astype(str).str.strip(),
                "lat": num["LAT"],
                "lon": num["LON"],
                "min_psl_pa": pres * 100.0,
                "max_wind_ms": wind * KNOT,
            }
        )[num["LAT"].notna()]  # fmt: skip  (drops the units row)
    missing = [c for c in ("storm_id", "time", "lat", "lon", "min_psl_pa") if c not in df.columns]
    if missing:
        raise InputError(
            f"{name} lacks column(s) {missing}; expected {list(TRACK_COLUMNS)} or IBTrACS's "
            "SID, ISO_TIME, LAT, LON, WMO_PRES/USA_PRES"
        )
    if "basin" not in df:
        df["basin"] = ""
    if "max_wind_ms" not in df:
        df["max_wind_ms"] = np.nan
    for c in ("lat", "lon", "min_psl_pa", "max_wind_ms"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    df = df[df.lat.notna() & df.lon.notna()].copy()
    if df.empty:
        raise InputError(f"{name} has no rows with a latitude and longitude")
    df["lon"] = df.lon % 360.0
    df["storm_id"] = df.storm_id.astype(str)
    return df[list(TRACK_COLUMNS)].reset_index(drop=True)


def storms_on_tracks(
    tracks: pd.DataFrame, t0: cftime.datetime, n_steps: int, stream: Callable[..., np.random.Generator],
    climate: Climate,
) -> list[Storm]:  # fmt: skip
    """Storms following given tracks, interpolated (linearly) to the run's 3-hourly steps.

    Vortex sizes are drawn per storm from ``stream("given", i)`` within the climate's ranges;
    the deficit is set in the run from the background at the centre and the given central
    pressure (:func:`fill_given`). Storms with no pressure at all are refused.
    """
    storms: list[Storm] = []
    for i, (sid, g) in enumerate(tracks.groupby("storm_id", sort=True)):
        try:
            hours = np.array([(parse_time(t) - t0).total_seconds() / 3600.0 for t in g.time])
        except ValueError as exc:
            raise InputError(f"storm_tracks: storm {sid}: {exc}") from None
        order = np.argsort(hours, kind="stable")
        hours = hours[order]
        lat = g.lat.to_numpy(float)[order]
        lon = np.rad2deg(np.unwrap(np.deg2rad(g.lon.to_numpy(float)[order])))
        psl = g.min_psl_pa.to_numpy(float)[order]
        ok = np.isfinite(psl)
        if not ok.any():
            raise InputError(
                f"storm_tracks: storm {sid} has no central pressure (min_psl_pa / *_PRES)"
            )
        first = max(math.ceil(hours[0] / STEP_HOURS - 1e-9), 0)
        last = min(math.floor(hours[-1] / STEP_HOURS + 1e-9), n_steps - 1)
        if last - first < 1:
            continue
        steps_h = np.arange(first, last + 1) * STEP_HOURS
        rng = stream("given", i)
        life = len(steps_h)
        hemisphere = 1 if float(np.mean(lat)) >= 0 else -1
        storm = Storm(
            storm_id=str(sid), basin=str(g.basin.iloc[0]), hemisphere=hemisphere, first_step=first,
            lat=np.interp(steps_h, hours, lat), lon=np.interp(steps_h, hours, lon) % 360.0,
            dp=np.zeros(life), rmax=np.full(life, rng.uniform(*climate.rmax_genesis_km) * 1e3),
            b=np.full(life, rng.uniform(1.0, 1.2)), r_out=rng.uniform(*climate.outer_radius_km) * 1e3,
            alpha=np.full(life, rng.uniform(0.25, 0.4)), r_broad=rng.uniform(*climate.broad_radius_km) * 1e3,
            target_psl=np.interp(steps_h, hours[ok], psl[ok]),
        )  # fmt: skip
        storm.rmax_range = (float(storm.rmax[0]), rng.uniform(*climate.rmax_peak_km) * 1e3)
        storm.b_range = (float(storm.b[0]), rng.uniform(1.3, 1.6))
        storm.alpha_peak = float(storm.alpha[0])
        storms.append(storm)
    return storms


def fill_given(storm: Storm, k: int, env_pa: float, climate: Climate) -> None:
    """Set a given-track storm's deficit, Rmax and B at step ``k`` from the environment PSL."""
    assert storm.target_psl is not None
    dp = max(env_pa - float(storm.target_psl[k]), 0.0)  # no low where the given pressure is higher
    lo, hi = climate.dp_genesis_hpa[0] * 100.0, climate.dp_peak_hpa[1] * 100.0
    x = min(max((dp - lo) / max(hi - lo, 1.0), 0.0), 1.0)
    r0, r1 = storm.rmax_range
    b0, b1 = storm.b_range
    storm.dp[k] = dp
    storm.rmax[k] = r0 - (r0 - r1) * x
    storm.b[k] = b0 + (b1 - b0) * x
    storm.alpha[k] = storm.alpha_peak + (ALPHA_WEAK - storm.alpha_peak) * (1.0 - x)
