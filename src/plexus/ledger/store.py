"""The usage store's front, in each worker's recorder process (recorder/): records go into a
bounded buffer without waiting; a writer thread flushes them in batches to the backend.

When the backend is down or slow the buffer absorbs the rows; beyond its bound rows are
counted as dropped, never waited for. A failed batch goes back to the buffer's head and is
retried with a growing pause. A batch the database refuses for its data (not for being down)
is split until the refused rows are found: those are counted as dropped, the rest written.
`close()` (SIGTERM, lifespan shutdown) flushes what is left.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Protocol

import structlog

from plexus.ledger.record import UsageRecord

_log = structlog.get_logger("plexus")
BATCH_ROWS = 500
PRUNE_EVERY = 3600.0  # seconds between retention passes
PRUNE_BUDGET = 0.5  # seconds of deleting per flush, so a long prune never holds up the rows
MAX_PAUSE = 30.0  # seconds between retries while the backend is down


class Refused(Exception):
    """The database refused a batch's data (not its availability): retrying it as is cannot
    help, and must not hold up the rows behind it."""


class Backend(Protocol):
    """Where batches go: SQLite or Postgres."""

    def open(self) -> None: ...

    def write(self, records: list[UsageRecord]) -> None: ...

    def prune(self, before: float) -> int:
        """Delete one slice of old rows; how many went (0: none is left)."""
        ...

    def close(self) -> None: ...


class UsageStore:
    """Takes records on the request path; writes them off it."""

    def __init__(
        self,
        backend: Backend,
        *,
        buffer_rows: int = 50_000,
        flush_seconds: float = 1.0,
        retention_days: float = 0.0,
    ) -> None:
        self.backend = backend
        self._buffer: deque[UsageRecord] = deque()
        self._limit = buffer_rows
        self._flush_seconds = flush_seconds
        self._retention = retention_days * 86400
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.written = 0
        self._writing = 0  # rows of the batch in the writer's hands
        # Two counters, each bumped by one thread only (`+=` across threads can lose counts).
        self._refused = 0  # by add(), on the request path: the buffer was full
        self._lost = 0  # by the writer: no room back for a failed batch, a row refused,
        # or rows left at shutdown
        self.failures = 0
        self.healthy = True

    @property
    def dropped(self) -> int:
        """Rows that will never be written."""
        return self._refused + self._lost

    @property
    def queued(self) -> int:
        """Rows not written yet: waiting, or in the batch being written."""
        return len(self._buffer) + self._writing

    @property
    def room(self) -> int:
        """Rows the buffer takes before it drops: while the writer works, a caller with more
        in hand had better wait for it than have them dropped."""
        return self._limit - len(self._buffer)

    def add(self, record: UsageRecord) -> None:
        """Take a record (never blocks); past the buffer's bound it is counted as dropped."""
        buffer = self._buffer
        if len(buffer) >= self._limit:
            self._refused += 1
            return
        buffer.append(record)
        if len(buffer) >= BATCH_ROWS:
            self._wake.set()

    def start(self) -> None:
        """Start the writer thread."""
        self._thread = threading.Thread(target=self._run, name="usage-writer", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Flush what is buffered (within `timeout`) and stop the writer."""
        self._stopping = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        thread.join(timeout)
        if thread.is_alive():
            _log.warning("usage writer still busy at shutdown", queued=self.queued)
        elif self._buffer:  # the store was down: what is left is lost, and counted
            _log.warning("usage rows not written at shutdown", rows=len(self._buffer))
            self._lost += len(self._buffer)
            self._buffer.clear()

    def _run(self) -> None:
        pause = self._flush_seconds
        next_prune = time.monotonic()
        while True:
            self._wake.wait(pause)
            self._wake.clear()
            stopping = self._stopping  # read before the flush: rows added meanwhile are flushed
            try:
                self._flush()
                if self._retention and time.monotonic() >= next_prune and self._prune():
                    next_prune = time.monotonic() + PRUNE_EVERY
                pause, self.healthy = self._flush_seconds, True
            except Exception as error:  # the store is down or refused: keep the rows, retry later
                self.failures += 1
                if self.healthy:
                    _log.warning("usage store unavailable, rows kept in memory", error=str(error))
                self.healthy = False
                pause = min(MAX_PAUSE, max(pause * 2, self._flush_seconds))
                if self._stopping:  # no retry once shutdown has begun: it must end in bounds
                    break
            if stopping and not self._buffer:
                break
        self.backend.close()

    def _prune(self) -> bool:
        """Delete old rows a slice at a time, for PRUNE_BUDGET at most: True once none is left
        (else the next pass, after a flush, goes on)."""
        before = time.time() - self._retention
        deadline = time.monotonic() + PRUNE_BUDGET
        while self.backend.prune(before):
            if time.monotonic() >= deadline:
                return False
        return True

    def _flush(self) -> None:
        buffer = self._buffer
        while buffer:
            # Counted before the rows leave the buffer: `queued` never dips while they are written.
            self._writing = min(BATCH_ROWS, len(buffer))
            try:
                self._write([buffer.popleft() for _ in range(self._writing)])
            finally:
                self._writing = 0

    def _write(self, batch: list[UsageRecord]) -> None:
        """Write a batch; split the parts the database refuses until the bad rows are found."""
        parts, refused, reason = [batch], list[str](), ""
        try:
            while parts:
                part = parts.pop()
                try:
                    self.backend.write(part)
                except Refused as error:
                    if len(part) == 1:
                        self._lost += 1
                        self._writing -= 1
                        refused.append(part[0].request_id)
                        reason = str(error)
                    else:
                        half = len(part) // 2
                        parts += [part[half:], part[:half]]  # the first half is tried first
                    continue
                except BaseException:
                    self._requeue(part + [row for rest in reversed(parts) for row in rest])
                    raise
                self.written += len(part)
                self._writing -= len(part)
        finally:
            if refused:  # one line per batch, however many of its rows were refused
                _log.warning(
                    "usage rows refused by the database", request_ids=refused, error=reason
                )

    def _requeue(self, batch: list[UsageRecord]) -> None:
        """Put a failed batch back at the head, as far as the bound allows."""
        room = max(0, self._limit - len(self._buffer))
        self._lost += max(0, len(batch) - room)
        self._buffer.extendleft(reversed(batch[:room]))
        self._writing = 0
