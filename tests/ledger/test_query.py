"""Usage queries over a real SQLite store: periods and groups from the roll-up, percentiles
per bucket, the request log paged by (time, id), one request with its trail, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from plexus.ledger.query import Filters, Queries, decode_cursor, parse_time
from plexus.ledger.readers import SQLiteReader, StoreUnavailable
from plexus.ledger.record import Attempt, UsageRecord
from plexus.ledger.sqlite import SQLiteBackend

MONDAY = datetime(2025, 5, 5, tzinfo=UTC).timestamp()  # a Monday, 00:00 UTC


def record(n: int, at: float, **fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "request_id": f"r{n}", "time": at, "client_api": "chat", "key": "alice",
        "alias": "coder", "provider": "p", "upstream_model": "m", "status": 200,
        "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.5, "duration_ms": float(n),
        "ttft_ms": float(n) / 2,
    }  # fmt: skip
    values.update(fields)
    return UsageRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def queries(tmp_path: Path) -> Queries:
    backend = SQLiteBackend(tmp_path / "usage.db")
    records = [record(n, MONDAY + n * 60) for n in range(1, 101)]  # 100 minutes from Monday 0:00
    records.append(record(101, MONDAY + 86400 * 8, key="bob", cost_usd=None, status=502))
    records.append(record(102, MONDAY + 86400 * 30, alias="other", provider="q"))  # June
    backend.write(records)
    backend.close()
    return Queries(SQLiteReader(tmp_path / "usage.db"))


async def test_usage_by_period_and_group(queries: Queries) -> None:
    end = MONDAY + 86400 * 40
    hours = await queries.usage(MONDAY, end, "hour", "none")
    assert [(r.period, r.requests) for r in hours[:2]] == [
        ("2025-05-05T00:00:00Z", 59), ("2025-05-05T01:00:00Z", 41)]  # fmt: skip
    weeks = await queries.usage(MONDAY, end, "week", "key")
    assert [(r.period, r.group, r.requests, r.unpriced, r.errors) for r in weeks] == [
        ("2025-05-05T00:00:00Z", "alice", 100, 0, 0),
        ("2025-05-12T00:00:00Z", "bob", 1, 1, 1),
        ("2025-06-02T00:00:00Z", "alice", 1, 0, 0),
    ]
    months = await queries.usage(MONDAY, end, "month", "alias")
    assert [(r.period, r.group, r.requests, r.cost_usd) for r in months] == [
        ("2025-05-01T00:00:00Z", "coder", 101, 50.0),
        ("2025-06-01T00:00:00Z", "other", 1, 0.5),
    ]
    total = await queries.usage(MONDAY, end, "total", "provider")
    assert [(r.group, r.requests, r.input_tokens) for r in total] == [
        ("p", 101, 1010),
        ("q", 1, 10),
    ]


async def test_overview_percentiles_by_nearest_rank(queries: Queries) -> None:
    overview = await queries.overview(MONDAY, MONDAY + 7200, 3600)
    first, second = overview.series
    # Minutes 1..59 in the first hour: durations 1..59 ms; ranks ceil(.5*59)=30, ceil(.95*59)=57.
    assert (first.requests, first.p50_ms, first.p95_ms) == (59, 30.0, 57.0)
    assert (first.ttft_p50_ms, first.ttft_p95_ms) == (15.0, 28.5)
    assert (second.requests, second.p50_ms, second.p95_ms) == (41, 80.0, 98.0)
    assert overview.totals.requests == 100 and overview.totals.p50_ms == 50.0
    assert overview.top.aliases[0].name == "coder" and overview.top.aliases[0].requests == 100
    empty = await queries.overview(MONDAY - 600, MONDAY, 60)
    assert len(empty.series) == 10 and empty.series[0].p50_ms is None


async def test_request_log_pages_newest_first(queries: Queries) -> None:
    filters = Filters(since=MONDAY, until=MONDAY + 86400 * 40)
    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = await queries.requests(filters, 30, cursor)
        seen += [item.request_id for item in page]
        if cursor is None:
            break
    assert seen == [f"r{n}" for n in range(102, 0, -1)]
    errors, _ = await queries.requests(Filters(**{**msgspec.structs.asdict(filters),
                                                  "status": "5xx"}), 10, None)  # fmt: skip
    assert [item.request_id for item in errors] == ["r101"]
    bob, _ = await queries.requests(Filters(since=0, until=2e9, key="bob"), 10, None)
    assert [item.key for item in bob] == ["bob"]
    with pytest.raises(ValueError, match="cursor"):
        decode_cursor("not-a-cursor")


async def test_one_request_with_its_trail(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "usage.db")
    trail = [Attempt("a", "m1", "down", 503, 4.0), Attempt("b", "m2", None, 200, 9.5)]
    backend.write([record(1, MONDAY, trail=trail, attempts=2)])
    backend.close()
    queries = Queries(SQLiteReader(tmp_path / "usage.db"))
    found = await queries.request("r1")
    assert found is not None and found.attempts == 2
    assert msgspec.to_builtins(found.trail) == [
        {"provider": "a", "model": "m1", "status": 503, "error": "down", "duration_ms": 4.0},
        {"provider": "b", "model": "m2", "status": 200, "error": None, "duration_ms": 9.5},
    ]
    assert await queries.request("nope") is None
    await queries.audit(MONDAY, "admin", "config.put", "config", b'{"changed":["models.x"]}')
    (entry,) = await queries.audit_log(10, None)
    assert (entry.actor, entry.action, bytes(entry.detail)) == (
        "admin", "config.put", b'{"changed":["models.x"]}')  # fmt: skip


async def test_a_missing_store_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="no usage store"):
        await Queries(SQLiteReader(tmp_path / "none.db")).usage(0, 1, "day", "none")


def test_times_are_parsed_from_spans_iso_and_seconds() -> None:
    now = 1_000_000.0
    assert parse_time("24h", now) == parse_time("-24h", now) == now - 86400
    assert parse_time("90m", now) == now - 5400
    assert parse_time("12345.5", now) == 12345.5
    assert parse_time("2025-05-05", now) == MONDAY
    assert parse_time("2025-05-05T02:00:00+02:00", now) == MONDAY
    with pytest.raises(ValueError, match="span"):
        parse_time("yesterday", now)
