"""The Responses store's own guarantees: a kept response is readable at once, written off the
request path, scoped by key, expired after its retention, and a store that is down costs a
503 within the timeout, never a hang."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import structlog.testing

from plexus.ledger.response_rows import SQLiteResponses
from plexus.ledger.responses import ResponseStore, StoredResponse, StoreUnavailable


def response(
    n: int, previous: int | None = None, age: float = 0.0, key: str = "alice"
) -> StoredResponse:
    previous_id = None if previous is None else f"resp_{previous}"
    return StoredResponse(
        f"resp_{n}", key, time.time() - age, "m", "p", previous_id, "[]", f'{{"id":"resp_{n}"}}'
    )


async def written(store: ResponseStore, count: int) -> None:
    for _ in range(200):
        if store.written >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{store.written} of {count} written")


async def test_a_chain_is_read_back_in_memory_and_from_the_file(tmp_path: Path) -> None:
    store = ResponseStore(SQLiteResponses(tmp_path / "usage.db"))
    store.keep(response(1))
    store.keep(response(2, previous=1))
    # Before any write: the worker's own memory answers.
    assert [link.id for link in (await store.chain("resp_2", "alice")).links] == [
        "resp_2",
        "resp_1",
    ]
    store.start()
    await written(store, 2)
    store.keep(response(3, previous=2))  # in memory, continuing rows in the file
    chain = await store.chain("resp_3", "alice")
    assert [link.id for link in chain.links] == ["resp_3", "resp_2", "resp_1"]
    assert chain.missing is None
    assert (await store.chain("resp_3", "bob")).links == []  # another key's: not there
    assert await store.delete("resp_2", "alice")
    broken = await store.chain("resp_3", "alice")
    assert [link.id for link in broken.links] == ["resp_3"] and broken.missing == "resp_2"
    store.close()
    # Another worker (a fresh store on the same file) sees what was written.
    other = ResponseStore(SQLiteResponses(tmp_path / "usage.db"))
    other.start()
    assert (await other.get("resp_3", "alice")) is not None
    other.close()


async def test_responses_past_their_retention_are_gone(tmp_path: Path) -> None:
    rows = SQLiteResponses(tmp_path / "usage.db")
    store = ResponseStore(rows, retention_days=1)
    store.keep(response(1, age=2 * 86400))
    store.keep(response(2, previous=1, age=10))
    # Not readable even before a retention pass deletes it.
    assert (await store.chain("resp_2", "alice")).missing == "resp_1"
    assert await store.get("resp_1", "alice") is None
    store.start()  # the first pass runs with the first write
    await written(store, 2)
    for _ in range(100):
        if not rows.chain("resp_1", "alice", 1):
            break
        await asyncio.sleep(0.01)
    assert rows.chain("resp_1", "alice", 1) == []
    assert [link.id for link in rows.chain("resp_2", "alice", 1)] == ["resp_2"]
    store.close()


async def test_a_store_that_is_down_answers_503_and_keeps_within_its_buffer(
    tmp_path: Path,
) -> None:
    (tmp_path / "usage.db").mkdir()  # a directory where the file should be: cannot open
    store = ResponseStore(SQLiteResponses(tmp_path / "usage.db"), buffer_bytes=1000, timeout=1)
    with structlog.testing.capture_logs() as logs:
        store.start()
        started = time.perf_counter()
        for n in range(10):  # never blocks; beyond the buffer, counted and logged
            store.keep(response(n))
        assert time.perf_counter() - started < 0.05
        assert store.dropped > 0
        assert (await store.get("resp_0", "alice")) is not None  # still held in memory
        with pytest.raises(StoreUnavailable):
            await store.get("resp_99", "alice")
        await asyncio.to_thread(store.close, 1.0)
    assert store.written == 0
    dropped = [log for log in logs if log["event"] == "responses not kept: the buffer is full"]
    assert dropped and dropped[-1]["dropped"] == store.dropped


class KeepsDuringASave(SQLiteResponses):
    """Rows whose first save sees another response kept meanwhile (a request on the loop)."""

    store: ResponseStore

    def save(self, rows: list[StoredResponse]) -> None:
        if rows[0].id == "resp_1":
            self.store.keep(response(2))
        super().save(rows)


async def test_a_response_kept_during_a_write_is_written_too(tmp_path: Path) -> None:
    # It was once taken for a read by the thread, lost, and held in memory for ever.
    rows = KeepsDuringASave(tmp_path / "usage.db")
    store = rows.store = ResponseStore(rows)
    store.start()
    store.keep(response(1))
    await written(store, 2)
    assert store.healthy
    assert [row.id for row in rows.chain("resp_2", "alice", 1)] == ["resp_2"]
    store.close()


def test_a_large_batch_is_a_few_statements_and_keeps_the_last_copy(tmp_path: Path) -> None:
    rows = SQLiteResponses(tmp_path / "usage.db")
    rows.open()
    statements: list[str] = []
    assert rows._db is not None
    rows._db.set_trace_callback(statements.append)
    batch = [response(n) for n in range(300)]
    batch.append(response(7, key="bob"))  # kept twice in one batch: the later copy wins
    rows.save(batch)
    assert len([s for s in statements if s.startswith("INSERT OR REPLACE")]) <= 16
    assert rows.chain("resp_7", "bob", 5)[0].key == "bob"
    assert rows.chain("resp_7", "alice", 5) == []
    assert len(rows.chain("resp_299", "alice", 5)) == 1
    rows.close()
