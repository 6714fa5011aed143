"""Calendar-aware time parsing for user-facing time specs.

Times are always interpreted in the *data's* calendar (CAM5: ``noleap``) and
handled as :mod:`cftime` objects; differences are taken between cftime values,
never through ``numpy.datetime64`` (a ``noleap`` year has no 29 February).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import cftime
import numpy as np

from hurricane_ode.errors import InputError, InputTypeError

__all__ = [
    "parse_time", "parse_times", "hours_between", "to_cftime", "calendar_of", "time_key", "ISO_TIME",
]  # fmt: skip

#: ISO time ``YYYY-MM-DD[THH[:MM[:SS]]]`` (the one regex for user and CSV times)
ISO_TIME = _ISO = re.compile(
    r"^\s*(-?\d{1,4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2})(?::(\d{1,2})(?::(\d{1,2}))?)?)?\s*$"
)
_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|hr|hours?|m|min|minutes?|d|days?)\s*$", re.I)


def parse_time(
    text: str, calendar: str = "noleap", has_year_zero: bool | None = None
) -> cftime.datetime:
    """``'2005-08-28T06'``, ``'2005-08-28T06:30'`` or ``'2005-08-28 06:00:00'`` -> cftime.

    Parameters
    ----------
    text
        ISO time ``YYYY-MM-DD[THH[:MM[:SS]]]`` (``T`` or a space between date and time).
    calendar
        CF calendar of the result.
    has_year_zero
        Passed to :class:`cftime.datetime` when given.

    Returns
    -------
    cftime.datetime
    """
    m = _ISO.match(str(text))
    if not m:
        raise InputError(
            f"time '{text}' is not an ISO time; expected YYYY-MM-DD[THH[:MM[:SS]]], e.g. 2005-08-28T06"
        )
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        kw = {} if has_year_zero is None else {"has_year_zero": has_year_zero}
        return cftime.datetime(y, mo, d, h, mi, s, calendar=calendar, **kw)
    except ValueError as exc:
        raise InputError(f"time '{text}' does not exist in the '{calendar}' calendar: {exc}") from None


def _parse_step(text: str) -> timedelta:
    m = _STEP.match(text)
    if not m:
        raise InputError(f"time step '{text}' not understood; expected e.g. 3h, 90min or 1d")
    value, unit = float(m.group(1)), m.group(2).lower()
    if value <= 0:
        raise InputError(f"time step '{text}' must be positive")
    if unit.startswith("d"):
        return timedelta(days=value)
    if unit.startswith("m"):
        return timedelta(minutes=value)
    return timedelta(hours=value)


def parse_times(spec: str | Sequence[str], calendar: str = "noleap") -> list[cftime.datetime]:
    """Parse a comma list of ISO times and ``START/END/STEP`` ranges (END inclusive).

    >>> [str(t) for t in parse_times("2005-08-28T00/2005-08-28T06/3h,2005-08-29T00")]
    ['2005-08-28 00:00:00', '2005-08-28 03:00:00', '2005-08-28 06:00:00', '2005-08-29 00:00:00']
    """
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[cftime.datetime] = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if "/" in item:
            parts = item.split("/")
            if len(parts) != 3:
                raise InputError(f"time range '{item}' must be START/END/STEP, e.g. 2005-08-28T00/2005-08-29T00/3h")
            start, end, step = parse_time(parts[0], calendar), parse_time(parts[1], calendar), _parse_step(parts[2])
            if end < start:
                raise InputError(f"time range '{item}': END is before START")
            t = start
            while t <= end:
                out.append(t)
                t = t + step
        else:
            out.append(parse_time(item, calendar))
    if not out:
        raise InputError("no times given")
    return sorted(set(out))


def _one_time(v: Any, calendar: str) -> cftime.datetime:
    if isinstance(v, str):
        return parse_time(v, calendar)
    if isinstance(v, cftime.datetime):
        if v.calendar and calendar and v.calendar != calendar:
            raise InputError(f"time {v} is in calendar '{v.calendar}', the data uses '{calendar}'")
        return v
    if isinstance(v, np.datetime64 | _dt.datetime) or type(v).__name__ == "Timestamp":
        ts = v if isinstance(v, _dt.datetime) else _dt.datetime.fromisoformat(
            str(np.datetime_as_string(np.datetime64(v, "us")))
        )
        try:
            return cftime.datetime(ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second,
                                   ts.microsecond, calendar=calendar)  # fmt: skip
        except ValueError as exc:
            raise InputError(f"time {v} does not exist in the '{calendar}' calendar: {exc}") from None
    raise InputTypeError(
        f"cannot interpret {v!r} as a time in calendar '{calendar}'; give ISO strings, cftime, "
        "numpy.datetime64, pandas Timestamps or a DataArray of times"
    )


def to_cftime(values: Any, calendar: str) -> list[cftime.datetime]:
    """Times of any accepted kind -> cftime datetimes in ``calendar``.

    Parameters
    ----------
    values
        One time or an iterable / array / :class:`xarray.DataArray` of them: ISO strings,
        cftime datetimes (must already be in ``calendar``), ``numpy.datetime64``,
        ``datetime.datetime`` or pandas ``Timestamp`` (field by field, so 2005-08-28T06 stays
        2005-08-28T06 in any calendar; a date the calendar lacks is refused).
    calendar
        The data's CF calendar.

    Returns
    -------
    list of cftime.datetime
    """
    if hasattr(values, "dims") and hasattr(values, "values"):  # xarray.DataArray / Variable
        values = values.values
    if isinstance(values, str | cftime.datetime | np.datetime64 | _dt.datetime):
        values = [values]
    arr = np.asarray(values, dtype=object) if not isinstance(values, list) else values
    items = list(arr.ravel()) if isinstance(arr, np.ndarray) else list(arr)
    return [_one_time(v, calendar) for v in items]


def calendar_of(obj: Any, default: str = "standard") -> str:
    """The CF calendar of a Dataset, DataArray of times or sequence of times.

    Parameters
    ----------
    obj
        An :class:`xarray.Dataset` (its ``time``), a DataArray of times, or times.
    default
        Returned for ``numpy.datetime64`` times without a recorded calendar.

    Returns
    -------
    str
        From the time encoding, then the ``calendar`` attribute, then the values.
    """
    if hasattr(obj, "data_vars"):
        if "time" not in obj.variables:
            raise InputError("calendar_of: the dataset has no 'time' variable")
        obj = obj["time"]
    if hasattr(obj, "encoding"):
        cal = obj.encoding.get("calendar") or obj.attrs.get("calendar")
        if cal:
            return str(cal)
        obj = obj.values
    arr = np.asarray(obj)
    if arr.size and arr.dtype == object:
        cal = getattr(arr.ravel()[0], "calendar", None)
        if cal:
            return str(cal)
    return default


def hours_between(times: Any, origin: Any) -> np.ndarray:
    """Float hours from ``origin`` to each time, in the times' own calendar.

    Parameters
    ----------
    times
        cftime datetimes (any CF calendar: in ``noleap`` 28 Feb 21:00 -> 1 Mar 00:00 is 3 h),
        ``datetime.datetime`` objects or a ``numpy.datetime64`` array (already proleptic
        Gregorian; nothing is ever converted *to* datetime64).
    origin
        A time of the same kind.

    Returns
    -------
    numpy.ndarray
        float64, the shape of ``times``.
    """
    if hasattr(times, "dims") and hasattr(times, "values"):
        times = times.values
    arr = np.asarray(times) if not isinstance(times, list) else np.asarray(times, dtype=object)
    if np.issubdtype(arr.dtype, np.datetime64):
        if not isinstance(origin, np.datetime64 | _dt.datetime):
            raise InputTypeError(
                f"hours_between: times are numpy datetime64 but origin is {type(origin).__name__}"
            )
        return ((arr - np.datetime64(origin)) / np.timedelta64(1, "us")).astype(np.float64) / 3.6e9
    out = np.empty(arr.size, dtype=np.float64)
    for k, t in enumerate(arr.ravel()):
        try:
            delta = t - origin
        except TypeError as exc:
            raise InputError(
                f"hours_between: cannot subtract origin {origin!r} from time {t!r} "
                f"(both must be datetimes of the same calendar): {exc}"
            ) from exc
        if not isinstance(delta, _dt.timedelta):
            raise InputTypeError(f"hours_between: time {t!r} minus origin is not a timedelta ({delta!r})")
        out[k] = delta / _dt.timedelta(hours=1)
    return out.reshape(arr.shape)


def time_key(t: Any) -> str:
    """A calendar-agnostic key ``YYYY-MM-DDTHH:MM:SS`` for matching times across tables.

    Parameters
    ----------
    t : a cftime / datetime value, a ``numpy.datetime64`` or an ISO string
        (``YYYY-MM-DD HH:MM:SS`` or with ``T``).

    Returns
    -------
    str
        The time to the second, without any calendar arithmetic (a string is only trimmed).
    """
    if isinstance(t, str):
        return t.strip().replace(" ", "T")[:19]
    if isinstance(t, np.datetime64):
        return str(t.astype("datetime64[s]"))
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
