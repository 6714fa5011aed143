"""Calendar-aware time parsing for user-facing time specs.

Times are always interpreted in the *data's* calendar (CAM5: ``noleap``) and
handled as :mod:`cftime` objects; differences are taken between cftime values,
never through ``numpy.datetime64`` (a ``noleap`` year has no 29 February).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta

import cftime
import numpy as np

__all__ = ["parse_time", "parse_times", "hours_between", "to_cftime"]

_ISO = re.compile(
    r"^\s*(\d{1,4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2})(?::(\d{1,2})(?::(\d{1,2}))?)?)?\s*$"
)
_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(h|hr|hours?|m|min|minutes?|d|days?)\s*$", re.I)


def parse_time(text: str, calendar: str = "noleap") -> cftime.datetime:
    """``'2005-08-28T06'``, ``'2005-08-28T06:30'`` or ``'2005-08-28 06:00:00'`` -> cftime in ``calendar``."""
    m = _ISO.match(str(text))
    if not m:
        raise ValueError(
            f"time '{text}' is not an ISO time; expected YYYY-MM-DD[THH[:MM[:SS]]], e.g. 2005-08-28T06"
        )
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        return cftime.datetime(y, mo, d, h, mi, s, calendar=calendar)
    except ValueError as exc:
        raise ValueError(f"time '{text}' does not exist in the '{calendar}' calendar: {exc}") from None


def _parse_step(text: str) -> timedelta:
    m = _STEP.match(text)
    if not m:
        raise ValueError(f"time step '{text}' not understood; expected e.g. 3h, 90min or 1d")
    value, unit = float(m.group(1)), m.group(2).lower()
    if value <= 0:
        raise ValueError(f"time step '{text}' must be positive")
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
                raise ValueError(f"time range '{item}' must be START/END/STEP, e.g. 2005-08-28T00/2005-08-29T00/3h")
            start, end, step = parse_time(parts[0], calendar), parse_time(parts[1], calendar), _parse_step(parts[2])
            if end < start:
                raise ValueError(f"time range '{item}': END is before START")
            t = start
            while t <= end:
                out.append(t)
                t = t + step
        else:
            out.append(parse_time(item, calendar))
    if not out:
        raise ValueError("no times given")
    return sorted(set(out))


def to_cftime(values: Iterable, calendar: str) -> list[cftime.datetime]:
    """cftime objects / ISO strings -> cftime datetimes in ``calendar``."""
    out = []
    for v in values:
        if isinstance(v, str):
            out.append(parse_time(v, calendar))
        elif isinstance(v, cftime.datetime):
            if v.calendar and calendar and v.calendar != calendar:
                raise ValueError(f"time {v} is in calendar '{v.calendar}', the data uses '{calendar}'")
            out.append(v)
        else:
            raise TypeError(f"cannot interpret {v!r} as a time in calendar '{calendar}'; give ISO strings or cftime")
    return out


def hours_between(times: Sequence[cftime.datetime], origin: cftime.datetime) -> np.ndarray:
    """Float hours from ``origin`` to each time, computed in the times' own calendar.

    The same arithmetic as :func:`hurricane_ode.data.sampling.hours_since` (one implementation).
    """
    from hurricane_ode.data.sampling import hours_since

    return hours_since(list(times), origin)
