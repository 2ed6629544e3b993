"""The embedded usage store: rows written off the request path, rolled up by the hour, kept
through outages within a bound, flushed at shutdown, pruned by age."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from plexus.ledger.migrate import SchemaTooNew
from plexus.ledger.record import UsageRecord
from plexus.ledger.sqlite import SQLiteBackend
from plexus.ledger.store import UsageStore


def record(n: int, **fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "request_id": f"r{n}", "time": 1_700_000_000.0 + n, "client_api": "chat", "key": "alice",
        "alias": "coder", "provider": "p", "upstream_model": "m", "status": 200,
        "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001, "duration_ms": 12.5,
    }  # fmt: skip
    values.update(fields)
    return UsageRecord(**values)  # type: ignore[arg-type]


def rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as db:
        return db.execute(sql).fetchall()


def test_rows_and_the_hourly_rollup_are_written(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    store = UsageStore(SQLiteBackend(path), flush_seconds=0.05)
    store.start()
    for n in range(1200):  # more than one batch
        store.add(
            record(n, status=500 if n % 100 == 0 else 200, cost_usd=None if n == 7 else 0.001)
        )
    store.close()
    assert store.written == 1200 and store.dropped == 0
    assert rows(path, "SELECT COUNT(*), SUM(input_tokens) FROM requests") == [(1200, 12000)]
    hourly = rows(path, "SELECT SUM(requests), SUM(errors), SUM(unpriced), ROUND(SUM(cost_usd), 6) "
                        "FROM usage_hourly")  # fmt: skip
    assert hourly == [(1200, 12, 1, round(1199 * 0.001, 6))]


def test_a_batch_is_a_few_statements_whatever_its_size(tmp_path: Path) -> None:
    # executemany ran one statement per row, each giving the GIL back and waiting for it again:
    # behind a busy event loop the writer wrote a seventh of 3k rows/s. And each batch size
    # must not be a statement of its own, or the statement cache fills with huge statements.
    backend = SQLiteBackend(tmp_path / "usage.db")
    backend.open()
    statements: list[str] = []
    assert backend._db is not None
    backend._db.set_trace_callback(statements.append)
    written, shapes = 0, set[int]()
    for size in (1, 3, 249, 500, 257):
        backend.write([record(written + n, input_tokens=written + n) for n in range(size)])
        inserts = [s for s in statements if s.startswith("INSERT INTO requests")]
        assert len(inserts) <= 16, (size, len(inserts))
        shapes |= {insert.count("), (") + 1 for insert in inserts}  # rows per statement
        written += size
        statements.clear()
    backend.close()
    stored = rows(tmp_path / "usage.db", "SELECT request_id, input_tokens FROM requests")
    assert stored == [(f"r{n}", n) for n in range(written)]
    assert len(shapes) <= 5


def test_several_workers_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    stores = [UsageStore(SQLiteBackend(path), flush_seconds=0.01) for _ in range(3)]
    for store in stores:
        store.start()
    for n in range(300):
        stores[n % 3].add(record(n))
    for store in stores:
        store.close()
    assert rows(path, "SELECT COUNT(*) FROM requests") == [(300,)]
    assert rows(path, "SELECT requests FROM usage_hourly") == [(300,)]


class Broken:
    """A backend that is down until told otherwise."""

    def __init__(self, inner: SQLiteBackend) -> None:
        self.inner, self.down, self.attempts = inner, True, 0

    def open(self) -> None:
        self.inner.open()

    def write(self, records: list[UsageRecord]) -> None:
        self.attempts += 1
        if self.down:
            raise OSError("the store is down")
        self.inner.write(records)

    def prune(self, before: float) -> int:
        return self.inner.prune(before)

    def close(self) -> None:
        self.inner.close()


def test_an_outage_keeps_rows_within_the_bound_and_counts_the_rest(tmp_path: Path) -> None:
    backend = Broken(SQLiteBackend(tmp_path / "usage.db"))
    store = UsageStore(backend, buffer_rows=100, flush_seconds=0.01)
    store.start()
    for n in range(150):
        store.add(record(n))  # never blocks, whatever the store does
    deadline = time.monotonic() + 5
    while backend.attempts < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert store.dropped == 50 and store.queued == 100 and not store.healthy
    backend.down = False
    store.close()  # back up: what was kept is flushed
    assert store.written == 100
    assert rows(tmp_path / "usage.db", "SELECT COUNT(*) FROM requests") == [(100,)]


class Slow:
    """A backend whose writes wait until they are let through."""

    def __init__(self, inner: SQLiteBackend) -> None:
        self.inner, self.writing, self.through = inner, threading.Event(), threading.Event()

    def open(self) -> None:
        self.inner.open()

    def write(self, records: list[UsageRecord]) -> None:
        self.writing.set()
        self.through.wait(5)
        self.inner.write(records)

    def prune(self, before: float) -> int:
        return self.inner.prune(before)

    def close(self) -> None:
        self.inner.close()


def test_rows_being_written_are_still_queued(tmp_path: Path) -> None:
    # The queued gauge used to read 0 while a batch was in the writer's hands.
    backend = Slow(SQLiteBackend(tmp_path / "usage.db"))
    store = UsageStore(backend, flush_seconds=0.01)
    for n in range(10):
        store.add(record(n))
    store.start()
    assert backend.writing.wait(5)
    assert (store.queued, store.written) == (10, 0)
    backend.through.set()
    store.close()
    assert (store.queued, store.written) == (0, 10)


def test_a_row_sqlite_refuses_costs_only_itself(tmp_path: Path) -> None:
    # An upstream reporting more tokens than 64 bits hold: before, its batch failed forever
    # and every row behind it was dropped.
    path = tmp_path / "usage.db"
    store = UsageStore(SQLiteBackend(path), flush_seconds=0.01)
    store.start()
    for n in range(100):
        store.add(record(n, output_tokens=2**64 if n == 42 else 5))
    deadline = time.monotonic() + 5
    while store.written + store.dropped < 100 and time.monotonic() < deadline:
        time.sleep(0.01)
    store.add(record(100))
    store.close()
    assert (store.written, store.dropped, store.healthy) == (100, 1, True)
    assert rows(path, "SELECT COUNT(*) FROM requests WHERE request_id = 'r42'") == [(0,)]
    assert rows(path, "SELECT SUM(requests) FROM usage_hourly") == [(100,)]


def test_old_rows_are_pruned(tmp_path: Path) -> None:
    backend = SQLiteBackend(tmp_path / "usage.db")
    backend.open()
    now = time.time()
    backend.write([record(1, time=now - 10 * 86400), record(2, time=now)])
    assert backend.prune(now - 86400) == 1
    assert rows(tmp_path / "usage.db", "SELECT request_id FROM requests") == [("r2",)]
    backend.close()


def test_a_database_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    backend = SQLiteBackend(path)
    backend.open()
    backend.close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO schema_version VALUES (999)")
    with pytest.raises(SchemaTooNew, match="999"):
        SQLiteBackend(path).open()
