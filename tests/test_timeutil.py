import cftime
import pytest

from hurricane_ode.timeutil import hours_between, parse_time, parse_times


def test_ranges_and_lists_in_noleap():
    ts = parse_times("2005-02-28T18/2005-03-01T03/3h,2005-03-02T00", "noleap")
    assert [str(t) for t in ts] == [
        "2005-02-28 18:00:00",
        "2005-02-28 21:00:00",
        "2005-03-01 00:00:00",
        "2005-03-01 03:00:00",
        "2005-03-02 00:00:00",
    ]
    # No 29 February in noleap: Feb 28 21:00 -> Mar 1 00:00 is 3 hours.
    assert hours_between(ts[1:3], ts[1]).tolist() == [0.0, 3.0]


def test_fractional_steps_are_kept():
    ts = parse_times("2005-08-28T00/2005-08-28T03/90min", "noleap")
    assert hours_between(ts, ts[0]).tolist() == [0.0, 1.5, 3.0]


@pytest.mark.parametrize(
    "spec, match",
    [
        ("2005-13-01", "does not exist"),
        ("yesterday", "not an ISO time"),
        ("2005-08-28T00/2005-08-27T00/3h", "END is before START"),
        ("2005-08-28T00/2005-08-29T00/3 parsecs", "not understood"),
        ("2005-08-28T00/2005-08-29T00", "START/END/STEP"),
    ],
)
def test_bad_specs_are_explained(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_times(spec, "noleap")


def test_feb29_refused_in_noleap_but_fine_in_gregorian():
    with pytest.raises(ValueError, match="noleap"):
        parse_time("2004-02-29", "noleap")
    assert parse_time("2004-02-29", "standard") == cftime.datetime(2004, 2, 29, calendar="standard")


def test_to_cftime_accepts_every_kind_of_time():
    import datetime as dt

    import cftime
    import numpy as np
    import pandas as pd
    import xarray as xr

    from hurricane_ode.timeutil import to_cftime

    want = cftime.datetime(2005, 8, 28, 6, calendar="noleap")
    kinds = [
        "2005-08-28T06", want, np.datetime64("2005-08-28T06:00"), pd.Timestamp("2005-08-28 06:00"),
        dt.datetime(2005, 8, 28, 6),
    ]  # fmt: skip
    for kind in kinds:
        assert to_cftime(kind, "noleap") == [want], kind
    da = xr.DataArray(pd.to_datetime(["2005-08-28T06", "2005-08-28T09"]), dims="time")
    assert to_cftime(da, "noleap") == [want, want + dt.timedelta(hours=3)]
    with pytest.raises(ValueError, match="does not exist in the 'noleap' calendar"):
        to_cftime(np.datetime64("2004-02-29T00"), "noleap")
    with pytest.raises(TypeError, match="DataArray of times"):
        to_cftime([3.5], "noleap")


def test_calendar_of_and_hours_between_datetime64():
    import numpy as np
    import xarray as xr

    from hurricane_ode.timeutil import calendar_of, hours_between

    times = xr.date_range("2005-02-28", periods=3, freq="3h", calendar="noleap", use_cftime=True)
    ds = xr.Dataset(coords={"time": times})
    assert calendar_of(ds) == calendar_of(ds.time) == calendar_of(list(times)) == "noleap"
    t64 = np.array(["2005-01-01T00", "2005-01-01T06"], dtype="datetime64[ns]")
    assert calendar_of(t64) == "standard"
    assert hours_between(t64, t64[0]).tolist() == [0.0, 6.0]


def test_timeutil_imports_no_domain_module():
    import subprocess
    import sys

    code = "import sys, hurricane_ode.timeutil; print(any(m.startswith('hurricane_ode.data') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cache_dir_empty_env_is_unset(monkeypatch, tmp_path):
    from pathlib import Path

    from hurricane_ode.paths import cache_dir

    monkeypatch.setenv("HURRICANE_ODE_CACHE", "")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == Path(tmp_path) / ".cache" / "hurricane_ode"
    monkeypatch.setenv("HURRICANE_ODE_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c" and (tmp_path / "c").is_dir()
