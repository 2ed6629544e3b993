"""Budget periods start and end at UTC calendar boundaries."""

from __future__ import annotations

import datetime

from plexus.limits.periods import span_of


def _at(*parts: int) -> float:
    return datetime.datetime(*parts, tzinfo=datetime.UTC).timestamp()  # type: ignore[arg-type,misc]


def test_day_week_month_and_once() -> None:
    now = _at(2026, 12, 3, 13, 45)  # a Thursday
    day, week, month, once = (span_of(p, now) for p in ("day", "week", "month", "once"))
    assert (day.start, day.end) == (_at(2026, 12, 3), _at(2026, 12, 4))
    assert (week.start, week.end) == (_at(2026, 11, 30), _at(2026, 12, 7))
    assert (month.start, month.end) == (_at(2026, 12, 1), _at(2027, 1, 1))
    assert (once.id, once.start, once.end) == (0, 0.0, None)
    assert span_of("month", _at(2027, 1, 1)).id == month.id + 1
    assert span_of("week", _at(2026, 12, 7)).id == week.id + 1
    assert span_of("week", _at(2026, 12, 6, 23, 59)).id == week.id
