"""Budget periods in UTC: which one a moment is in (its id, the pool's window), and its bounds."""

from __future__ import annotations

import datetime
from typing import Literal, NamedTuple

Period = Literal["day", "week", "month", "once"]
DAY = 86400.0
ONCE_TTL = 10 * 365 * DAY  # a `once` budget's spend is kept as long as anything


class Span(NamedTuple):
    """One period: its id, where it starts and where it ends (None: never)."""

    id: int
    start: float
    end: float | None


def span_of(period: Period, now: float) -> Span:
    """The period of kind `period` that `now` (Unix seconds) falls in."""
    days = int(now // DAY)
    match period:
        case "day":
            return Span(days, days * DAY, (days + 1) * DAY)
        case "week":  # ISO weeks, from Monday; 1970-01-01 was a Thursday
            week = (days + 3) // 7
            start = (week * 7 - 3) * DAY
            return Span(week, start, start + 7 * DAY)
        case "month":
            date = datetime.datetime.fromtimestamp(now, datetime.UTC)
            first = datetime.datetime(date.year, date.month, 1, tzinfo=datetime.UTC)
            following = datetime.datetime(
                date.year + date.month // 12, date.month % 12 + 1, 1, tzinfo=datetime.UTC
            )
            return Span(date.year * 12 + date.month - 1, first.timestamp(), following.timestamp())
        case _:
            return Span(0, 0.0, None)
