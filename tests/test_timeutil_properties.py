"""Property-based tests (hypothesis) of the time-spec parser in hurricane_ode.timeutil."""

from __future__ import annotations

from datetime import timedelta

import cftime
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hurricane_ode.timeutil import parse_time, parse_times  # noqa: E402

CALENDARS = ["noleap", "360_day", "all_leap", "standard", "proleptic_gregorian"]
FAST = settings(max_examples=60, deadline=None)


@st.composite
def times(draw, calendar=None):
    """A valid cftime datetime (whole seconds) in a drawn or given calendar."""
    cal = calendar or draw(st.sampled_from(CALENDARS))
    year = draw(st.integers(1850, 2100))
    month = draw(st.integers(1, 12))
    base = cftime.datetime(year, month, 1, calendar=cal)
    n_days = cftime.datetime(year + month // 12, month % 12 + 1, 1, calendar=cal) - base
    day = draw(st.integers(1, n_days.days))
    return cftime.datetime(year, month, day, draw(st.integers(0, 23)), draw(st.integers(0, 59)),
                           draw(st.integers(0, 59)), calendar=cal)  # fmt: skip


def iso(t: cftime.datetime, sep: str = "T", precision: str = "s") -> str:
    text = f"{t.year:04d}-{t.month:02d}-{t.day:02d}{sep}{t.hour:02d}"
    if precision in ("m", "s"):
        text += f":{t.minute:02d}"
    if precision == "s":
        text += f":{t.second:02d}"
    return text


@FAST
@given(times(), st.sampled_from(["T", " "]))
def test_iso_round_trip_in_every_calendar(t, sep):
    back = parse_time(iso(t, sep), t.calendar)
    assert back == t and back.calendar == t.calendar


@FAST
@given(times(), st.sampled_from(["h", "m", "s"]))
def test_missing_fields_are_zero(t, precision):
    back = parse_time(iso(t, precision=precision), t.calendar)
    assert (back.year, back.month, back.day, back.hour) == (t.year, t.month, t.day, t.hour)
    assert back.minute == (t.minute if precision != "h" else 0)
    assert back.second == (t.second if precision == "s" else 0)


@FAST
@given(times(calendar="noleap"), st.integers(1, 48), st.integers(0, 40))
def test_range_is_start_to_end_inclusive_in_equal_steps(start, step_h, n):
    end = start + timedelta(hours=step_h * n)
    out = parse_times(f"{iso(start)}/{iso(end)}/{step_h}h", "noleap")
    assert out[0] == start and out[-1] == end and len(out) == n + 1
    assert all(b - a == timedelta(hours=step_h) for a, b in zip(out, out[1:]))


@FAST
@given(times(calendar="noleap"), st.integers(1, 600), st.integers(1, 3000))
def test_range_never_passes_end(start, step_min, span_min):
    end = start + timedelta(minutes=span_min)
    out = parse_times(f"{iso(start)}/{iso(end)}/{step_min}min", "noleap")
    assert out[0] == start and out[-1] <= end < out[-1] + timedelta(minutes=step_min)


@FAST
@given(st.lists(times(calendar="360_day"), min_size=1, max_size=8), st.randoms())
def test_comma_list_is_sorted_and_unique_whatever_the_order(ts, rnd):
    items = [iso(t) for t in ts] * 2
    rnd.shuffle(items)
    assert parse_times(",".join(items), "360_day") == sorted(set(ts))
    assert parse_times(items, "360_day") == sorted(set(ts))  # a sequence works like a comma list


@FAST
@given(st.integers(1850, 2100), st.sampled_from([(2, 29, "noleap"), (2, 30, "standard"), (2, 31, "360_day"),
                                                 (4, 31, "noleap"), (13, 1, "noleap")]))  # fmt: skip
def test_dates_missing_from_the_calendar_are_refused_naming_the_text(year, mdc):
    month, day, cal = mdc
    text = f"{year:04d}-{month:02d}-{day:02d}T00"
    with pytest.raises(ValueError, match=f"time '{text}'"):
        parse_time(text, cal)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_any_text_parses_or_raises_value_error(text):
    try:
        out = parse_times(text, "noleap")
    except ValueError as exc:
        assert str(exc)  # a message, never an empty one
    else:
        assert out == sorted(set(out)) and all(isinstance(t, cftime.datetime) for t in out)


@FAST
@given(st.integers(-1000, 0), st.sampled_from(["h", "min", "d"]))
def test_non_positive_steps_are_refused(value, unit):
    with pytest.raises(ValueError, match="time step"):
        parse_times(f"2005-08-01T00/2005-08-02T00/{value}{unit}", "noleap")
