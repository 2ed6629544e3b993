"""The Responses store (`responses.store`): responses kept in the usage database so that
`previous_response_id` and `GET/DELETE /v1/responses/{id}` work whatever provider served them.

Nothing here is awaited by a request that does not use the store. A kept response goes into an
in-memory map (so a retrieval right after creation finds it) and one thread writes it; reads and
deletions are queued to that same thread, in order, and awaited with a timeout, so a store that
is down or slow costs a 503, never a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import structlog

from plexus.errors import GatewayError

_log = structlog.get_logger("plexus")
MAX_CHAIN = 10_000  # links followed back from one response
MAX_PAUSE = 30.0  # seconds between retries while the database is down
PRUNE_EVERY = 3600.0  # seconds between retention passes
SETTLE_STEP = 0.02  # seconds between looks for an answer another worker is writing


class StoredResponse(msgspec.Struct, frozen=True):
    """One kept response: the turn's own input items and the Response object, as the client's
    Responses JSON, and the response it continued."""

    id: str
    key: str  # the gateway key that created it ("" when the API is open)
    created_at: float
    model: str  # the model name the client asked for
    provider: str
    previous_id: str | None
    input: str  # a JSON array of input items
    response: str  # the JSON Response object

    @property
    def size(self) -> int:
        """Roughly what it holds in memory."""
        return len(self.input) + len(self.response) + 200


@dataclass(frozen=True, slots=True)
class Chain:
    """A response and those it continued, newest first; `missing` names the first link that
    is no longer kept (deleted or expired), if any."""

    links: list[StoredResponse]
    missing: str | None = None


class ResponseRows(Protocol):
    """Where kept responses live: SQLite or Postgres (response_rows.py); used from the store's
    thread only."""

    def open(self) -> None: ...

    def save(self, rows: list[StoredResponse]) -> None: ...

    def chain(self, response_id: str, key: str, limit: int) -> list[StoredResponse]: ...

    def delete(self, response_id: str, key: str) -> bool: ...

    def expire(self, before: float) -> int: ...

    def close(self) -> None: ...


class StoreUnavailable(GatewayError):
    """The Responses store did not answer in time or failed."""

    status = 503
    kind = "overloaded"


@dataclass(slots=True)
class _Call:
    """A read or a deletion for the thread, settled on the event loop."""

    work: Any  # Callable[[ResponseRows], object]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class ResponseStore:
    """Keeps responses without waiting; reads them back and deletes them within a timeout."""

    def __init__(
        self,
        rows: ResponseRows,
        *,
        retention_days: float = 30.0,
        buffer_bytes: int = 64 * 1024 * 1024,
        timeout: float = 5.0,
        settle_seconds: float = 0.5,
    ) -> None:
        self.rows = rows
        self._settle_seconds = settle_seconds
        self._retention = retention_days * 86400
        self._limit = buffer_bytes
        self._timeout = timeout
        self._pending: dict[str, StoredResponse] = {}  # kept, not yet written
        self._pending_bytes = 0
        self._lock = threading.Lock()
        self._queue: deque[StoredResponse | _Call] = deque()
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.written = 0
        self.dropped = 0
        self.healthy = True

    def keep(self, row: StoredResponse) -> None:
        """Take a response to write (never blocks); beyond the buffer it is counted as dropped."""
        with self._lock:
            if self._pending_bytes + row.size > self._limit:
                self.dropped += 1  # the thread says so in the log
            else:
                self._pending[row.id] = row
                self._pending_bytes += row.size
                self._queue.append(row)
        self._wake.set()

    async def get(
        self, response_id: str, key: str, *, settle: bool = False
    ) -> StoredResponse | None:
        """The response `key` kept under `response_id`, if any (`settle`: see `chain`)."""
        chain = await self.chain(response_id, key, limit=1, settle=settle)
        return chain.links[0] if chain.links else None

    async def chain(
        self, response_id: str, key: str, limit: int = MAX_CHAIN, *, settle: bool = False
    ) -> Chain:
        """`response_id` and the responses it continued, newest first, as far as `limit`.
        With `settle`, an id found nowhere is looked for again for `settle_seconds`: another
        worker may have sent that answer and not yet written it."""
        chain = await self._chain(response_id, key, limit)
        deadline = time.monotonic() + self._settle_seconds
        while settle and not chain.links and time.monotonic() < deadline:
            await asyncio.sleep(SETTLE_STEP)
            chain = await self._chain(response_id, key, limit)
        return chain

    async def _chain(self, response_id: str, key: str, limit: int) -> Chain:
        links: list[StoredResponse] = []
        wanted: str | None = response_id
        while wanted is not None and len(links) < limit:
            row = self._pending.get(wanted)
            if row is None:
                break
            if row.key != key:
                return Chain([], response_id)
            links.append(row)
            wanted = row.previous_id
        if wanted is not None and len(links) < limit:
            more: list[StoredResponse] = await self._call(
                lambda rows: rows.chain(wanted, key, limit - len(links))
            )
            links.extend(more)
            if more:
                wanted = more[-1].previous_id
        if self._retention:  # expired ones are gone even before the next retention pass
            cutoff = time.time() - self._retention
            for position, link in enumerate(links):
                if link.created_at < cutoff:
                    return Chain(links[:position], link.id)
        complete = wanted is None or len(links) >= limit
        return Chain(links, None if complete else wanted)

    async def delete(self, response_id: str, key: str, *, settle: bool = False) -> bool:
        """Delete what `key` kept under `response_id`; False when there was nothing
        (`settle`: see `chain`)."""
        deadline = time.monotonic() + self._settle_seconds
        while True:
            deleted: bool = await self._call(lambda rows: rows.delete(response_id, key))
            if deleted or not settle or time.monotonic() >= deadline:
                return deleted
            await asyncio.sleep(SETTLE_STEP)

    async def _call(self, work: Any) -> Any:
        """Run `work(rows)` on the store's thread, after the writes queued before it."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        with self._lock:
            self._queue.append(_Call(work, future, loop))
        self._wake.set()
        try:
            return await asyncio.wait_for(future, self._timeout)
        except TimeoutError as error:
            raise StoreUnavailable("the responses store did not answer in time") from error

    def start(self) -> None:
        """Start the thread that writes, reads and deletes."""
        self._thread = threading.Thread(target=self._run, name="responses-store", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is waiting (within `timeout`) and stop the thread."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        retry = 0.0  # seconds before the next attempt while the database is down
        next_prune = time.monotonic()
        reported = 0  # responses dropped and logged so far
        while True:
            self._wake.wait(retry or PRUNE_EVERY)
            self._wake.clear()
            stopping = self._stopping
            if self.dropped != reported:
                reported = self.dropped
                _log.warning("responses not kept: the buffer is full", dropped=reported)
            try:
                self._drain()
                if self._retention and time.monotonic() >= next_prune:
                    self.rows.expire(time.time() - self._retention)
                    next_prune = time.monotonic() + PRUNE_EVERY
                retry, self.healthy = 0.0, True
            except Exception as error:  # down: keep the rows, retry with a growing pause
                if self.healthy:
                    _log.warning("responses store unavailable", error=str(error))
                self.healthy = False
                retry = min(MAX_PAUSE, max(0.5, retry * 2))
                if stopping:
                    break
            if stopping and not self._queue:
                break
        self.rows.close()

    def _drain(self) -> None:
        """Everything queued, in order: each run of writes in one transaction, then a call."""
        queue = self._queue
        while queue:
            head = queue[0]
            if isinstance(head, _Call):
                # Looked at before it is taken: requests keep responses meanwhile.
                queue.popleft()
                self._settle(head)
                continue
            batch: list[StoredResponse] = []
            while queue and isinstance(queue[0], StoredResponse):
                batch.append(queue.popleft())  # type: ignore[arg-type]
            self._save(batch)

    def _save(self, batch: list[StoredResponse]) -> None:
        try:
            self.rows.save(batch)
        except Exception as error:
            # Kept for the next attempt; the calls waiting behind them fail now (a deletion
            # must not run before the write of what it deletes), rather than at their timeout.
            with self._lock:
                calls = [call for call in self._queue if isinstance(call, _Call)]
                rows = [row for row in self._queue if isinstance(row, StoredResponse)]
                self._queue.clear()
                self._queue.extend(batch + rows)
            for call in calls:
                _settle_soon(call, _unavailable(error))
            raise
        self.written += len(batch)
        with self._lock:
            for row in batch:
                if self._pending.get(row.id) is row:
                    del self._pending[row.id]
                    self._pending_bytes -= row.size

    def _settle(self, call: _Call) -> None:
        try:
            result = call.work(self.rows)
        except Exception as error:
            _log.warning("responses store read failed", error=str(error))
            self.healthy = False
            _settle_soon(call, _unavailable(error))
            return
        _settle_soon(call, result)


def _unavailable(error: Exception) -> StoreUnavailable:
    return StoreUnavailable(f"the responses store is unavailable ({type(error).__name__})")


def _settle_soon(call: _Call, outcome: object) -> None:
    """Settle a call's future on its loop, from the store's thread."""
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
        call.loop.call_soon_threadsafe(_settle_future, call.future, outcome)


def _settle_future(future: asyncio.Future[Any], outcome: object) -> None:
    if future.done():  # the request gave up waiting
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
