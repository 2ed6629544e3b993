"""The recorder: each worker hands its finished requests to a process of its own (child.py),
which writes their usage rows and exports their spans. On the worker's event loop a finished
request costs an append to a list; every `FLUSH_SECONDS` the list goes to the child as one
message (~1 µs a request). Writing rows and making spans (tens of µs a request) would
otherwise take the worker's GIL from its requests, and a writer thread in the worker also
makes the event loop hand the GIL over and wait for it back.

The child reports its counters twice a second; the worker's gauges (rows queued and dropped,
the store's health, spans exported and dropped) add them to its own. A child that ends
without being asked to is started again, after a pause that doubles up to `MAX_PAUSE`: what it
had taken and not yet written or exported is counted as dropped, and the requests that finish
meanwhile wait in the worker, up to the store's buffer, beyond which they are dropped and
counted. `close()` sends what is left and waits for the child to write and export it.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time

import structlog

from plexus.config import Config
from plexus.ledger.record import UsageRecord
from plexus.recorder.wire import Batch, Finished, Providers, Start, Status, decode_status, frame
from plexus.tracing.context import TraceContext

__all__ = ["Recorder", "open_recorder"]

_log = structlog.get_logger("plexus")
FLUSH_SECONDS = 0.05
BATCH = 1024  # finished requests per line
PIPE_BYTES = 16 * 1024 * 1024  # unread bytes in the child's stdin beyond which sending waits
MAX_PAUSE = 30.0  # seconds between restarts of a child that keeps ending
# Finished requests the worker holds at least while its child cannot take them (it restarts):
# the store's buffer is the child's, and a small one must not drop what is only in transit.
HELD = 10_000
CLOSE_SECONDS = 15.0  # the store's and the exporter's deadlines, and the child's own start
COMMAND = (sys.executable, "-m", "plexus.recorder")


class Recorder:
    """A worker's side of its recorder process."""

    def __init__(self, start: Start, limit: int) -> None:
        self._start = start
        self.stores = start.usage is not None  # whether records go to a usage store
        self._limit = max(limit, HELD)  # finished requests held while the child cannot take them
        self._pending: list[Finished] = []
        self._pending_spans = 0  # the spans of the pending requests
        self._providers = Providers({})
        self._child: asyncio.subprocess.Process | None = None
        self._status = Status()  # the running child's last report
        self._store_up = True
        self._reading: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        # Sent to the running child: rows (with a store) and spans (a sampled request has one
        # and one per upstream attempt).
        self._rows_sent = self._spans_sent = 0
        # Earlier children's final counts, and what the worker itself dropped.
        self._written = self._rows_dropped = self._spans_exported = self._spans_dropped = 0

    @property
    def queued(self) -> int:
        """Usage rows not written yet, here or in the child."""
        status = self._status
        in_child = self._rows_sent - status.written - status.rows_dropped
        return (len(self._pending) if self.stores else 0) + in_child

    @property
    def dropped(self) -> int:
        """Usage rows that will never be written."""
        return self._rows_dropped + self._status.rows_dropped

    @property
    def written(self) -> int:
        """Usage rows written."""
        return self._written + self._status.written

    @property
    def healthy(self) -> bool:
        """Whether the store took the last rows; False while a child that ended is started
        again."""
        return self._store_up

    @property
    def spans_exported(self) -> int:
        """Spans the collector took."""
        return self._spans_exported + self._status.spans_exported

    @property
    def spans_dropped(self) -> int:
        """Spans lost: a buffer was full, the collector refused them, or a child ended."""
        return self._spans_dropped + self._status.spans_dropped

    def add(self, record: UsageRecord, traced: TraceContext | None) -> None:
        """Take a finished request (never blocks); past the bound it is counted as dropped."""
        if traced is None and not self.stores:
            return
        spans = 1 + len(traced.calls) if traced is not None else 0
        pending = self._pending
        if len(pending) >= self._limit:
            self._rows_dropped += self.stores
            self._spans_dropped += spans
            return
        pending.append(Finished(record, traced))
        self._pending_spans += spans

    def configure(self, providers: dict[str, str]) -> None:
        """Take a (re)loaded config's gen_ai.provider.name of each provider."""
        self._providers = Providers(providers)
        if self._child is not None and self._child.stdin is not None:
            self._child.stdin.write(frame(self._providers))

    def start(self) -> None:
        """Start the child, and the task that feeds it and starts it again if it ends."""
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Send what is left; wait (within `CLOSE_SECONDS`) for the child to record it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        child = self._child
        if child is None:
            self._lose_pending()
            return
        assert child.stdin is not None
        if not self._rows_sent and not self._spans_sent and not self._pending:
            child.kill()  # nothing to record: no need to wait for it to start
        else:
            self._send(child)
        child.stdin.close()  # its end of file: the child flushes and ends
        try:
            await asyncio.wait_for(self._ended(child), CLOSE_SECONDS)
        except TimeoutError:
            _log.warning("the recorder did not finish in time; stopped", queued=self.queued)
            child.kill()
            await child.wait()
        self._child_ended()
        self._lose_pending()  # a child that had died: what it was never sent is lost too

    async def _run(self) -> None:
        pause = 1.0
        while True:
            started = time.monotonic()
            child = await self._spawn()
            if child is not None:
                await self._feed(child)
                await child.wait()
                assert child.stdin is not None
                child.stdin.close()
                self._child_ended()
                self._store_up = False
                _log.warning("the recorder ended; starting it again", code=child.returncode)
            if time.monotonic() - started > MAX_PAUSE:  # it ran a while: not a crash loop
                pause = 1.0
            await asyncio.sleep(pause)
            pause = min(MAX_PAUSE, pause * 2)

    async def _spawn(self) -> asyncio.subprocess.Process | None:
        try:
            child = await asyncio.create_subprocess_exec(
                *COMMAND,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,  # a terminal's Ctrl-C is the worker's to handle
            )
        except OSError as error:
            _log.warning("cannot start the recorder", error=str(error))
            return None
        assert child.stdin is not None
        child.stdin.write(frame(self._start) + frame(self._providers))
        self._child, self._status = child, Status()
        self._reading = asyncio.create_task(self._read(child))
        return child

    async def _feed(self, child: asyncio.subprocess.Process) -> None:
        """Send what finished, every FLUSH_SECONDS, until the child ends."""
        reading = self._reading
        assert reading is not None
        while not reading.done():
            await asyncio.wait((reading,), timeout=FLUSH_SECONDS)
            self._send(child)

    def _send(self, child: asyncio.subprocess.Process) -> None:
        """Write what is pending to the child, unless its stdin is full (the child is stuck)."""
        stdin = child.stdin
        pending = self._pending
        if not pending or stdin is None or stdin.is_closing():
            return
        if stdin.transport.get_write_buffer_size() > PIPE_BYTES:
            return  # kept, and dropped past the bound: the child is not reading
        for start in range(0, len(pending), BATCH):
            stdin.write(frame(Batch(pending[start : start + BATCH])))
        self._rows_sent += len(pending) if self.stores else 0
        self._spans_sent += self._pending_spans
        pending.clear()
        self._pending_spans = 0

    async def _read(self, child: asyncio.subprocess.Process) -> None:
        """Take the child's reports until its stdout ends."""
        assert child.stdout is not None
        while line := await child.stdout.readline():
            with contextlib.suppress(ValueError):  # not a report: ignored
                self._status = decode_status(line)
                self._store_up = self._status.store_up

    async def _ended(self, child: asyncio.subprocess.Process) -> None:
        if self._reading is not None:
            await self._reading
        await child.wait()

    def _child_ended(self) -> None:
        """Fold the child's last report in; what it took and did not record is lost."""
        status = self._status
        self._written += status.written
        lost_rows = self._rows_sent - status.written - status.rows_dropped
        self._rows_dropped += status.rows_dropped + lost_rows
        self._spans_exported += status.spans_exported
        lost_spans = self._spans_sent - status.spans_exported - status.spans_dropped
        self._spans_dropped += status.spans_dropped + max(0, lost_spans)
        if lost_rows or lost_spans > 0:
            _log.warning("the recorder ended before recording everything",
                         rows_lost=lost_rows, spans_lost=max(0, lost_spans))  # fmt: skip
        self._child, self._status = None, Status()
        self._rows_sent = self._spans_sent = 0

    def _lose_pending(self) -> None:
        self._rows_dropped += len(self._pending) if self.stores else 0
        self._spans_dropped += self._pending_spans
        self._pending.clear()
        self._pending_spans = 0


def open_recorder(config: Config) -> Recorder | None:
    """The recorder of a config, not started and without providers yet (`configure`); None
    when it has neither store nor traces."""
    usage, tracing = config.usage, config.tracing
    stores, traces = usage.database != "none", bool(tracing.endpoint)
    if not stores and not traces:
        return None
    start = Start(
        usage if stores else None,
        config.server.data_dir,
        tracing if traces else None,
        config.server.log_format,
    )
    return Recorder(start, usage.buffer_rows if stores else tracing.queue_requests)
