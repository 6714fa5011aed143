"""Best-track readers: IBTrACS CSV (units row, blanks, basin "NA"), tracks.csv, huracanpy Datasets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from hurricane_ode.verification.besttrack import KNOT_MS, read_tracks, to_calendar

IBTRACS = """SID,SEASON,NUMBER,BASIN,SUBBASIN,NAME,ISO_TIME,NATURE,LAT,LON,WMO_WIND,WMO_PRES,WMO_AGENCY,TRACK_TYPE,USA_WIND,USA_PRES
 ,Year, , , , , ,  ,degrees_north,degrees_east,kts,mb, , ,kts,mb
2005236N23285,2005,57,NA,GM,KATRINA,2005-08-28 18:00:00,TS,25.70,-87.70,145,905,hurdat_atl,main,145,902
2005236N23285,2005,57,NA,GM,KATRINA,2005-08-29 00:00:00,TS,26.90,-89.00, , ,hurdat_atl,main,140,908
2005236N23285,2005,57,NA,GM,KATRINA,2005-08-29 06:00:00,TS,28.20,-89.60, , ,hurdat_atl,main, ,
2008060S15050,2008,9,SI,MM,IVAN,2008-02-29 00:00:00,TS,-17.00,49.50,80,960,reunion,main,85,958
"""


def test_ibtracs_csv_units_row_blanks_and_na_basin(tmp_path):
    p = tmp_path / "ibtracs.csv"
    p.write_text(IBTRACS)
    t = read_tracks(p)
    assert list(t.columns[:7]) == ["storm_id", "basin", "time", "lat", "lon", "min_psl_pa", "max_wind_ms"]
    assert len(t) == 4  # the units row is gone
    assert t["basin"].tolist()[:3] == ["NA", "NA", "NA"]  # North Atlantic, not a missing value
    assert t["storm_id"].iloc[0] == "2005236N23285" and t["name"].iloc[0] == "KATRINA"
    assert t["time"].tolist()[0] == "2005-08-28T18:00:00"
    assert t["lon"].iloc[0] == pytest.approx(-87.7)  # the file's longitude convention is kept
    # WMO first, USA where WMO is blank, NaN where both are blank
    assert t["min_psl_pa"].tolist()[:2] == pytest.approx([90500.0, 90800.0])
    assert np.isnan(t["min_psl_pa"].iloc[2]) and np.isnan(t["max_wind_ms"].iloc[2])
    assert t["max_wind_ms"].iloc[1] == pytest.approx(140 * KNOT_MS)


def test_calendar_drops_29_february_in_noleap(tmp_path):
    p = tmp_path / "ibtracs.csv"
    p.write_text(IBTRACS)
    t = read_tracks(p)
    kept, dropped = to_calendar(t, "noleap")
    assert dropped == 1 and len(kept) == 3
    assert kept["cftime"].iloc[0].calendar == "noleap"
    assert to_calendar(t, "standard")[1] == 0


def test_project_tracks_csv_and_huracanpy_dataset(tmp_path):
    df = pd.DataFrame({"storm_id": ["natl_001"] * 2, "basin": ["natl"] * 2,
                       "time": ["2005-08-01T00:00:00", "2005-08-01T03:00:00"],
                       "lat": [15.0, 15.5], "lon": [300.0, 299.0],
                       "min_psl_pa": [100500.0, ""], "max_wind_ms": [20.0, 21.0]})
    p = tmp_path / "tracks.csv"
    df.to_csv(p, index=False)
    t = read_tracks(p)
    assert t["storm_id"].tolist() == ["natl_001", "natl_001"]
    assert t["min_psl_pa"].iloc[0] == 100500.0 and np.isnan(t["min_psl_pa"].iloc[1])
    ds = xr.Dataset({"track_id": ("record", [7, 7]), "time": ("record", pd.to_datetime(df["time"])),
                     "lat": ("record", [15.0, 15.5]), "lon": ("record", [-60.0, -61.0]),
                     "slp": ("record", [1005.0, 1003.0])})
    h = read_tracks(ds)
    assert h["min_psl_pa"].tolist() == [100500.0, 100300.0] and h["time"].iloc[1] == "2005-08-01T03:00:00"


def test_bad_tracks_are_named(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="x.csv: columns .*missing"):
        read_tracks(p)
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        read_tracks(tmp_path / "nope.csv")
