"""Questions asked of the usage store, by the admin API and by `plexus usage`: usage by period
and group (from the hourly roll-up), the overview series with latency percentiles, the request
log paged newest first, one request, and the audit log. One SQL text serves both dialects."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec

from plexus.ledger.readers import Reader, Row
from plexus.ledger.record import Attempt, UsageRecord

Period = Literal["hour", "day", "week", "month", "total"]
GroupBy = Literal["key", "alias", "provider", "model", "none"]
_GROUP_COLUMN = {"key": "key", "alias": "alias", "provider": "provider", "model": "upstream_model"}
_MONDAY = 4 * 86400  # 1970-01-05, the first Monday after the epoch
_BUCKET = {
    "hour": "hour",
    "day": "(hour / 86400) * 86400",
    "month": "(hour / 86400) * 86400",  # days, folded into calendar months afterwards
    "week": f"hour - (hour - {_MONDAY}) % 604800",
    "total": "0",
}
_SUMS = ("requests", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
         "cache_write_tokens", "reasoning_tokens", "cost_usd", "unpriced")  # fmt: skip
_FLOOR = {"sqlite": "CAST(({}) AS INTEGER)", "postgres": "FLOOR({})::BIGINT"}
_ERROR = "(status >= 400 OR status = 0)"
_STATUS = {
    "2xx": "status >= 200 AND status < 300",
    "3xx": "status >= 300 AND status < 400",
    "4xx": "status >= 400 AND status < 500",
    "5xx": "status >= 500",
    "error": _ERROR,
}
TOP_LIMIT = 10
RECORD_COLUMNS = tuple(UsageRecord.__struct_fields__)


class UsageRow(msgspec.Struct):
    """Usage of one group in one period (hour-aligned: the roll-up's grain)."""

    period: str  # ISO start, UTC
    group: str
    requests: int = 0
    errors: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0  # of the priced requests
    unpriced: int = 0  # requests without a price, not in cost_usd


class Point(msgspec.Struct):
    """One bucket of the overview (or its totals, `t` being the window's start)."""

    t: float
    requests: int = 0
    errors: int = 0
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    p50_ms: float | None = None
    p95_ms: float | None = None
    ttft_p50_ms: float | None = None
    ttft_p95_ms: float | None = None


class TopEntry(msgspec.Struct):
    """A name among the busiest of its kind in the window."""

    name: str
    requests: int
    cost_usd: float


class Top(msgspec.Struct):
    """The busiest aliases, keys, providers and models."""

    aliases: list[TopEntry]
    keys: list[TopEntry]
    providers: list[TopEntry]
    models: list[TopEntry]


class Overview(msgspec.Struct):
    """Traffic over time, its totals and the busiest names."""

    series: list[Point]
    totals: Point
    top: Top


class TrailStep(msgspec.Struct):
    """One target a request tried."""

    provider: str
    model: str
    status: int
    error: str | None
    duration_ms: float


RequestView = msgspec.defstruct(
    "RequestView",
    [
        (f.name, list[TrailStep] | msgspec.UnsetType, msgspec.UNSET)
        if f.name == "trail"
        else (f.name, f.type, msgspec.NODEFAULT)
        for f in msgspec.structs.fields(UsageRecord)
    ],
    kw_only=True,
    module=__name__,
)
RequestView.__doc__ = "A request as stored: the usage record; `trail` in a single request's view."


class AuditEntry(msgspec.Struct):
    """One change made through the admin API."""

    id: int
    time: float
    actor: str
    action: str
    target: str
    detail: msgspec.Raw  # JSON object, never a secret


class Filters(msgspec.Struct, kw_only=True):
    """What the request log is narrowed to."""

    since: float
    until: float
    key: str | None = None
    alias: str | None = None
    provider: str | None = None
    status: str | None = None  # 2xx 3xx 4xx 5xx error, or one status


def view(record: UsageRecord, with_trail: bool = True) -> Any:
    """The API's view of a record (trail steps as objects)."""
    values = {name: getattr(record, name) for name in RECORD_COLUMNS}
    values["trail"] = [_step(a) for a in record.trail] if with_trail else msgspec.UNSET
    return RequestView(**values)


def _step(attempt: Attempt) -> TrailStep:
    return TrailStep(attempt.provider, attempt.model, attempt.status, attempt.error,
                     attempt.duration_ms)  # fmt: skip


class Queries:
    """The questions, over one store's reader."""

    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self._floor = _FLOOR[reader.dialect]

    async def usage(
        self, since: float, until: float, period: Period, by: GroupBy
    ) -> list[UsageRow]:
        """Usage per period × group over whole hours overlapping [since, until)."""
        group = _GROUP_COLUMN.get(by, "''")
        sums = ", ".join(f"SUM({name})" for name in _SUMS)
        sql = (
            f"SELECT {_BUCKET[period]} AS b, {group} AS g, {sums} FROM usage_hourly "
            "WHERE hour >= ? AND hour < ? GROUP BY b, g ORDER BY b, g"
        )
        start = int(since // 3600 * 3600)
        rows = await self.reader.fetch(sql, (start, until))
        merged: dict[tuple[str, str], UsageRow] = {}
        for b, g, *sums_row in rows:
            label = _iso(start) if period == "total" else _period_start(int(b), period)
            row = merged.get((label, g))
            if row is None:
                row = merged[label, g] = UsageRow(label, g)
            for name, value in zip(_SUMS, sums_row, strict=True):
                kind = float if name == "cost_usd" else int
                setattr(row, name, getattr(row, name) + kind(value or 0))
        return sorted(merged.values(), key=lambda r: (r.period, r.group))

    async def overview(self, since: float, until: float, bucket: float) -> Overview:
        """Per-bucket counts, sums and percentiles over [since, until), totals and top names."""
        count = int(-(-(until - since) // bucket))
        series = [Point(since + n * bucket) for n in range(count)]
        for b, requests, errors, cost, inputs, outputs, cached in await self._counts(
            since, until, bucket
        ):
            if 0 <= b < count:
                point = series[b]
                point.requests, point.errors, point.cost_usd = requests, int(errors), cost or 0.0
                point.input_tokens, point.output_tokens = int(inputs or 0), int(outputs or 0)
                point.cache_read_tokens = int(cached or 0)
        await self._percentiles(series, since, until, bucket)
        totals = Point(since)
        for point in series:
            for name in ("requests", "errors", "cost_usd", "input_tokens", "output_tokens",
                         "cache_read_tokens"):  # fmt: skip
                setattr(totals, name, getattr(totals, name) + getattr(point, name))
        await self._percentiles([totals], since, until, until - since)
        top = Top(*[await self._top(c, since, until) for c in
                    ("alias", "key", "provider", "upstream_model")])  # fmt: skip
        return Overview(series, totals, top)

    async def _counts(self, since: float, until: float, bucket: float) -> list[Row]:
        b = self._floor.format("(time - ?) / ?")
        sql = (
            f"SELECT {b} AS b, COUNT(*), SUM(CASE WHEN {_ERROR} THEN 1 ELSE 0 END), "
            "SUM(cost_usd), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens) "
            "FROM requests WHERE time >= ? AND time < ? GROUP BY b"
        )
        return await self.reader.fetch(sql, (since, float(bucket), since, until))

    async def _percentiles(
        self, points: list[Point], since: float, until: float, bucket: float
    ) -> None:
        """p50 and p95 by nearest rank, computed in the database (window functions)."""
        for column, low, high in (("duration_ms", "p50_ms", "p95_ms"),
                                  ("ttft_ms", "ttft_p50_ms", "ttft_p95_ms")):  # fmt: skip
            b = self._floor.format("(time - ?) / ?")
            sql = (
                "SELECT b, n, rn, v FROM (SELECT b, v, ROW_NUMBER() OVER (PARTITION BY b "
                "ORDER BY v) AS rn, COUNT(*) OVER (PARTITION BY b) AS n FROM "
                f"(SELECT {b} AS b, {column} AS v FROM requests WHERE time >= ? AND time < ? "
                f"AND status > 0 AND status < 400 AND {column} IS NOT NULL) AS w) AS r "
                "WHERE rn = (n * 50 + 99) / 100 OR rn = (n * 95 + 99) / 100"
            )
            for b_value, n, rn, value in await self.reader.fetch(
                sql, (since, float(bucket), since, until)
            ):
                if not 0 <= b_value < len(points):
                    continue
                if rn == (n * 50 + 99) // 100:
                    setattr(points[b_value], low, value)
                if rn == (n * 95 + 99) // 100:
                    setattr(points[b_value], high, value)

    async def _top(self, column: str, since: float, until: float) -> list[TopEntry]:
        sql = (
            f"SELECT {column}, COUNT(*) AS n, SUM(cost_usd) FROM requests "
            f"WHERE time >= ? AND time < ? AND {column} != '' "
            f"GROUP BY {column} ORDER BY n DESC, {column} LIMIT {TOP_LIMIT}"
        )
        rows = await self.reader.fetch(sql, (since, until))
        return [TopEntry(name, count, cost or 0.0) for name, count, cost in rows]

    async def requests(
        self, filters: Filters, limit: int, cursor: str | None
    ) -> tuple[list[Any], str | None]:
        """A page of the request log, newest first, and the cursor of the next page."""
        where, params = ["time >= ?", "time < ?"], [filters.since, filters.until]
        for column in ("key", "alias", "provider"):
            value = getattr(filters, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if filters.status is not None:
            where.append(status_condition(filters.status, params))
        if cursor is not None:
            time, row_id = decode_cursor(cursor)
            where.append("(time < ? OR (time = ? AND id < ?))")
            params += [time, time, row_id]
        sql = (
            f"SELECT id, {', '.join(RECORD_COLUMNS)} FROM requests WHERE {' AND '.join(where)} "
            "ORDER BY time DESC, id DESC LIMIT ?"
        )
        rows = await self.reader.fetch(sql, (*params, limit + 1))
        page = [_record_view(row[1:], with_trail=False) for row in rows[:limit]]
        following = None
        if len(rows) > limit:
            last = rows[limit - 1]
            following = encode_cursor(last[1 + RECORD_COLUMNS.index("time")], last[0])
        return page, following

    async def request(self, request_id: str) -> Any | None:
        """The newest request with this id (a client may send its own ids twice), or None."""
        sql = (
            f"SELECT {', '.join(RECORD_COLUMNS)} FROM requests WHERE request_id = ? "
            "ORDER BY time DESC, id DESC LIMIT 1"
        )
        rows = await self.reader.fetch(sql, (request_id,))
        return _record_view(rows[0], with_trail=True) if rows else None

    async def audit(self, now: float, actor: str, action: str, target: str, detail: bytes) -> None:
        """Append a row to the audit log."""
        sql = "INSERT INTO audit (time, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)"
        await self.reader.execute(sql, (now, actor, action, target, detail.decode()))

    async def audit_log(self, limit: int, before: int | None) -> list[AuditEntry]:
        """The newest audit rows (older than id `before` when given)."""
        where = "WHERE id < ? " if before is not None else ""
        params: tuple[Any, ...] = (before, limit) if before is not None else (limit,)
        sql = (
            "SELECT id, time, actor, action, target, detail FROM audit "
            f"{where}ORDER BY id DESC LIMIT ?"
        )
        rows = await self.reader.fetch(sql, params)
        return [
            AuditEntry(row_id, time, actor, action, target, msgspec.Raw(detail.encode()))
            for row_id, time, actor, action, target, detail in rows
        ]


def _record_view(row: Row, with_trail: bool) -> Any:
    values = dict(zip(RECORD_COLUMNS, row, strict=True))
    trail = values.pop("trail")
    record = msgspec.convert(values, UsageRecord, strict=False)
    if trail and with_trail:
        record.trail = msgspec.json.decode(trail, type=list[Attempt])
    return view(record, with_trail)


def status_condition(status: str, params: list[Any]) -> str:
    """The SQL condition of a `status` filter: a class (`4xx`), `error`, or one status."""
    condition = _STATUS.get(status)
    if condition is not None:
        return condition
    if not status.isdigit():
        raise ValueError(f"status: expected 2xx, 3xx, 4xx, 5xx, error or a number, not {status!r}")
    params.append(int(status))
    return "status = ?"


def encode_cursor(time: float, row_id: int) -> str:
    """An opaque cursor for the page after the row at (`time`, `row_id`)."""
    return base64.urlsafe_b64encode(f"{time!r},{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, int]:
    """The (time, id) a cursor stands for; ValueError when it is not one of ours."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        time, row_id = text.split(",")
        return float(time), int(row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise ValueError("cursor: not a cursor this API gave") from error


_SPAN = re.compile(r"^-?(\d+(?:\.\d+)?)([smhdw])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_time(text: str, now: float) -> float:
    """Unix seconds from Unix seconds, ISO 8601 (UTC unless it says), or a span back from now
    (`24h`, `-7d`, `90m`); ValueError otherwise."""
    text = text.strip()
    span = _SPAN.match(text)
    if span is not None:
        return now - float(span.group(1)) * _UNIT[span.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"expected Unix seconds, ISO 8601 or a span like 24h: {text!r}") from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _period_start(bucket: int, period: Period) -> str:
    if period != "month":
        return _iso(bucket)
    day = datetime.fromtimestamp(bucket, UTC)
    return day.strftime("%Y-%m-01T00:00:00Z")
