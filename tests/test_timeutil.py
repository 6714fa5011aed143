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
