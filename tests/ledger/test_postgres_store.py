"""The usage store on a real Postgres: migrations once under the advisory lock, a database
newer than the code refused, COPY batches and the hourly roll-up adding up across writers,
rows Postgres refuses split out, retention in slices between flushes, NULLs, and the bounded
buffer through a dead, a restarted and a hung server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import pytest

from plexus.ledger import postgres
from plexus.ledger import store as store_module
from plexus.ledger.migrate import SchemaTooNew, migrations
from plexus.ledger.postgres import PostgresBackend
from plexus.ledger.record import UsageRecord
from plexus.ledger.store import BATCH_ROWS, UsageStore
from tests.pg import PostgresServer, PostgresTemplate

pytestmark = pytest.mark.slow

HOUR = 1_700_000_000.0 // 3600 * 3600


def record(n: int, **fields: object) -> UsageRecord:
    values: dict[str, object] = {
        "request_id": f"r{n}", "time": HOUR + n % 7200, "client_api": "chat", "key": "alice",
        "alias": "coder", "provider": "p", "upstream_model": "m", "status": 200,
        "input_tokens": 10, "output_tokens": 5, "cost_usd": 0.001, "duration_ms": 12.5,
    }  # fmt: skip
    values.update(fields)
    return UsageRecord(**values)  # type: ignore[arg-type]


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    """The rows of one query, on a connection of its own."""
    return asyncio.run(_fetch(url, sql))


async def _fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    db = await asyncpg.connect(url)
    try:
        return [tuple(row) for row in await db.fetch(sql)]
    finally:
        await db.close()


def wait_until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def in_threads(count: int, work: Callable[[int], None]) -> None:
    """Run `work(i)` in `count` threads started together; re-raise the first failure."""
    start, failures = threading.Barrier(count), []

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


@pytest.fixture
def own_server(postgres_template: PostgresTemplate) -> Iterator[PostgresServer]:
    """A server of the test's own, to kill, freeze and restart."""
    server = postgres_template.spawn()
    yield server
    server.stop()


def test_replicas_opening_together_migrate_once(pg_url: str) -> None:
    backends = [PostgresBackend(pg_url) for _ in range(6)]
    started = time.perf_counter()
    in_threads(len(backends), lambda i: backends[i].open())
    print(f"6 replicas opened (migrated once) in {(time.perf_counter() - started) * 1000:.0f} ms")
    for backend in backends:
        backend.close()
    versions = fetch(pg_url, "SELECT version FROM schema_version ORDER BY version")
    assert versions == [(version,) for version, _ in migrations("postgres")]


def test_a_database_newer_than_the_code_is_refused(pg_url: str) -> None:
    backend = PostgresBackend(pg_url)
    backend.open()
    backend.close()
    fetch(pg_url, "INSERT INTO schema_version VALUES (999)")
    refused = PostgresBackend(pg_url)
    with pytest.raises(SchemaTooNew, match=r"schema version 999, newer than this Plexus"):
        refused.open()
    # The refused connection is not kept open (nor reused for writes later).
    sessions = fetch(
        pg_url, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )  # fmt: skip
    assert sessions == [(0,)]
    with pytest.raises(SchemaTooNew):
        refused.write([record(1)])
    refused.close()


def test_a_failed_migration_leaves_no_connection_to_write_on(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [(1, "CREATE TABLE requests (id BIGSERIAL PRIMARY KEY); SELEC 1")]
    monkeypatch.setattr(postgres, "pending", lambda dialect, current: broken)
    backend = PostgresBackend(pg_url)
    with pytest.raises(asyncpg.PostgresSyntaxError):
        backend.open()
    sessions = fetch(
        pg_url, "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )  # fmt: skip
    assert sessions == [(0,)]
    with pytest.raises(asyncpg.PostgresSyntaxError):  # tried again, never written unmigrated
        backend.write([record(1)])
    backend.close()


def test_batches_from_two_writers_add_up_in_the_rollup(pg_url: str) -> None:
    stores = [UsageStore(PostgresBackend(pg_url), flush_seconds=0.01) for _ in range(2)]
    for store in stores:
        store.start()
    sent = [
        record(
            n,
            alias=f"alias-{n % 3}",
            status=500 if n % 50 == 0 else 200,
            input_tokens=None if n % 10 == 0 else n % 13,
            cost_usd=None if n % 40 == 0 else 0.001,
        )
        for n in range(2400)  # several batches each, over two hours and three aliases
    ]
    for n, one in enumerate(sent):
        stores[n % 2].add(one)
    for store in stores:
        store.close()
    assert [store.written for store in stores] == [1200, 1200]
    assert fetch(pg_url, "SELECT COUNT(*), SUM(input_tokens) FROM requests") == [
        (2400, sum(one.input_tokens or 0 for one in sent))
    ]
    hourly = fetch(
        pg_url, "SELECT hour, alias, requests, errors, input_tokens, output_tokens, unpriced, "
        "ROUND(cost_usd::numeric, 6) FROM usage_hourly ORDER BY hour, alias"
    )  # fmt: skip
    expected: dict[tuple[int, str], Counter[str]] = {}
    for one in sent:
        sums = expected.setdefault((int(one.time // 3600 * 3600), one.alias), Counter())
        sums.update(
            requests=1, errors=one.status >= 400, input=one.input_tokens or 0, output=5,
            unpriced=one.cost_usd is None, priced=one.cost_usd is not None,
        )  # fmt: skip
    assert [(h, a, r, e, i, o, u, float(c)) for h, a, r, e, i, o, u, c in hourly] == [
        (hour, alias, s["requests"], s["errors"], s["input"], s["output"], s["unpriced"],
         round(s["priced"] * 0.001, 6))
        for (hour, alias), s in sorted(expected.items())
    ]  # fmt: skip


def test_writers_adding_to_the_same_rollup_rows_never_deadlock(pg_url: str) -> None:
    # Each batch touches 20 roll-up rows; one writer meets them in the opposite order.
    batch = [record(n, alias=f"alias-{n:02}") for n in range(20)]
    backends = [PostgresBackend(pg_url) for _ in range(2)]
    for backend in backends:
        backend.open()

    def write(i: int) -> None:
        for _ in range(40):
            backends[i].write(batch if i == 0 else batch[::-1])

    in_threads(2, write)  # a deadlock aborts one writer's batch with DeadlockDetectedError
    for backend in backends:
        backend.close()


def test_null_tokens_and_cost_are_stored_as_null(pg_url: str) -> None:
    backend = PostgresBackend(pg_url)
    empty = {name: None for name in ("input_tokens", "output_tokens", "cache_read_tokens",
             "cache_write_tokens", "reasoning_tokens", "cost_usd", "ttfb_ms")}  # fmt: skip
    backend.write([record(1, status=502, error_kind="unreachable", **empty)])
    backend.close()
    row = fetch(
        pg_url, "SELECT input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, "
        "reasoning_tokens, cost_usd, ttfb_ms, error_kind FROM requests"
    )  # fmt: skip
    assert row == [(None, None, None, None, None, None, None, "unreachable")]
    hourly = fetch(pg_url, "SELECT requests, errors, input_tokens, unpriced, cost_usd "
                                 "FROM usage_hourly")  # fmt: skip
    assert hourly == [(1, 1, 0, 1, 0.0)]


def test_a_nul_in_text_is_stored_replaced(pg_url: str) -> None:
    # Postgres's text holds no NUL; a client's model name may (JSON allows "\u0000").
    backend = PostgresBackend(pg_url)
    backend.write([record(1, alias="gpt\x00x"), record(2, alias="fine")])
    backend.close()
    assert fetch(pg_url, "SELECT alias FROM requests ORDER BY id") == [("gpt\ufffdx",), ("fine",)]
    assert fetch(pg_url, "SELECT alias FROM usage_hourly ORDER BY alias") == [
        ("fine",),
        ("gpt\ufffdx",),
    ]


def test_a_row_postgres_refuses_costs_only_itself(pg_url: str) -> None:
    store = UsageStore(PostgresBackend(pg_url), flush_seconds=0.01)
    store.start()
    bad = {7: {"output_tokens": 2**63}, 300: {"attempts": 2**40}}  # beyond BIGINT, INTEGER
    for n in range(BATCH_ROWS):
        store.add(record(n, **bad.get(n, {})))
    wait_until(lambda: store.written + store.dropped == BATCH_ROWS)
    store.add(record(BATCH_ROWS))  # and the rows behind them go on
    wait_until(lambda: store.written == BATCH_ROWS - 1)
    store.close()
    assert (store.dropped, store.healthy) == (2, True)
    assert fetch(pg_url, "SELECT COUNT(*) FROM requests WHERE request_id IN ('r7', 'r300')") == [
        (0,)
    ]
    assert fetch(pg_url, "SELECT COUNT(*) FROM requests") == [(BATCH_ROWS - 1,)]
    assert fetch(pg_url, "SELECT SUM(requests) FROM usage_hourly") == [(BATCH_ROWS - 1,)]


def test_batches_are_written_at_thousands_of_rows_a_second(pg_url: str) -> None:
    backend = PostgresBackend(pg_url)
    backend.open()
    rows = [
        record(n, request_id=f"{n:08x}-{n}", user_agent="openai-python/2.0") for n in range(20_000)
    ]
    started, cpu = time.perf_counter(), time.thread_time()
    for start in range(0, len(rows), BATCH_ROWS):
        backend.write(rows[start : start + BATCH_ROWS])
    elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
    backend.close()
    print(
        f"{len(rows) / elapsed:,.0f} rows/s in batches of {BATCH_ROWS}, "
        f"{cpu / len(rows) * 1e6:.1f} us of the writer's CPU a row"
    )
    assert fetch(pg_url, "SELECT COUNT(*) FROM requests") == [(len(rows),)]
    assert len(rows) / elapsed > 5000  # far above any one gateway's request rate


def test_the_store_prunes_past_its_retention(pg_url: str) -> None:
    now = time.time()
    store = UsageStore(PostgresBackend(pg_url), flush_seconds=0.01, retention_days=1)
    for n in range(5):
        store.add(record(n, time=now - 3 * 86400))
    store.add(record(9, time=now))
    store.start()  # its first pass writes, then prunes
    wait_until(lambda: store.written == 6)
    store.close()
    assert fetch(pg_url, "SELECT request_id FROM requests") == [("r9",)]
    assert fetch(pg_url, "SELECT SUM(requests) FROM usage_hourly") == [(1,)]


def test_old_rows_are_pruned_in_slices(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(postgres, "PRUNE_SLICE", 3)
    backend = PostgresBackend(pg_url)
    now = time.time()
    old = [record(n, time=now - 10 * 86400 + n) for n in range(10)]
    backend.write([*old, record(99, time=now)])
    assert backend.prune(now - 86400) == 3
    assert fetch(pg_url, "SELECT COUNT(*) FROM usage_hourly") == [(2,)]  # not before the end
    assert [backend.prune(now - 86400) for _ in range(4)] == [3, 3, 1, 0]
    backend.close()
    assert fetch(pg_url, "SELECT request_id FROM requests") == [("r99",)]
    assert fetch(pg_url, "SELECT requests FROM usage_hourly") == [(1,)]


class Recording:
    """A backend that notes every write and prune; the first prune lets a request arrive."""

    def __init__(self, inner: PostgresBackend, arriving: Callable[[], None]) -> None:
        self.inner, self.arriving, self.calls = inner, arriving, list[tuple[str, int]]()

    def open(self) -> None:
        self.inner.open()

    def write(self, records: list[UsageRecord]) -> None:
        self.inner.write(records)
        self.calls.append(("write", len(records)))

    def prune(self, before: float) -> int:
        if not any(call == "prune" for call, _ in self.calls):
            self.arriving()
        gone = self.inner.prune(before)
        self.calls.append(("prune", gone))
        return gone

    def close(self) -> None:
        self.inner.close()


def test_a_long_prune_lets_the_writer_flush_between_slices(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgres, "PRUNE_SLICE", 2)
    monkeypatch.setattr(store_module, "PRUNE_BUDGET", 0.0)  # one slice per pass
    now = time.time()
    backend = Recording(PostgresBackend(pg_url), lambda: store.add(record(99, time=now)))
    store = UsageStore(backend, flush_seconds=0.01, retention_days=1)
    for n in range(6):
        store.add(record(n, time=now - 3 * 86400))
    store.start()
    wait_until(lambda: ("prune", 0) in backend.calls)
    store.close()
    # The request that arrived during the first slice was written before the prune ended.
    assert backend.calls == [
        ("write", 6), ("prune", 2), ("write", 1), ("prune", 2), ("prune", 2), ("prune", 0)
    ]  # fmt: skip
    assert fetch(pg_url, "SELECT request_id FROM requests") == [("r99",)]


def test_a_dead_server_fills_the_buffer_and_a_restart_drains_it(
    own_server: PostgresServer,
) -> None:
    url = own_server.url()
    store = UsageStore(PostgresBackend(url), buffer_rows=100, flush_seconds=0.01)
    store.start()
    store.add(record(0))
    wait_until(lambda: store.written == 1)
    own_server.kill()
    for n in range(1, 151):
        store.add(record(n))  # never blocks
    wait_until(lambda: not store.healthy and store.queued == 100)
    assert (store.written, store.queued, store.dropped) == (1, 100, 50)
    own_server.start()
    wait_until(lambda: store.written == 101, seconds=30)  # the writer reconnects by itself
    store.close()
    assert store.written + store.dropped == 151 and store.healthy
    assert fetch(url, "SELECT COUNT(*) FROM requests") == [(101,)]
    assert fetch(url, "SELECT SUM(requests) FROM usage_hourly") == [(101,)]


def test_a_hung_server_never_holds_the_writer(own_server: PostgresServer) -> None:
    url = own_server.url()
    store = UsageStore(PostgresBackend(url, timeout=0.5), buffer_rows=100, flush_seconds=0.01)
    store.start()
    store.add(record(0))
    wait_until(lambda: store.written == 1)
    own_server.freeze()  # the open connection now hangs: no error, no answer
    for n in range(1, 21):
        store.add(record(n))
    wait_until(lambda: not store.healthy, seconds=5)
    own_server.thaw()
    wait_until(lambda: store.written == 21, seconds=30)  # and reconnects once it answers again
    own_server.freeze()
    for n in range(21, 31):
        store.add(record(n))
    started = time.monotonic()
    store.close()  # SIGTERM with the server hung: bounded, and what is lost is counted
    assert time.monotonic() - started < 2.0
    assert (store.written, store.dropped, store.queued) == (21, 10, 0)
    own_server.thaw()
    assert fetch(url, "SELECT COUNT(*) FROM requests") == [(21,)]
