"""The recorder process (`python -m plexus.recorder`, started by each worker): it reads the
finished requests its worker sends, writes their usage rows (ledger/store.py, whose writer
thread is here) and makes and exports their spans (tracing/export.py). The worker's event
loop only queues and encodes; the rest happens here, on another core when there is one.

It ends when its stdin closes: the worker is closing (it flushes what it holds, within the
store's and the exporter's deadlines) or is gone. It is in a session of its own, so a
terminal's Ctrl-C reaches the worker, which ends it in order, and not it directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import BinaryIO

import msgspec
import structlog

from plexus.ledger import UsageStore, open_store
from plexus.log import configure_logging
from plexus.recorder.wire import (
    HEAD_BYTES,
    Batch,
    Providers,
    Start,
    Status,
    ToChild,
    decode_message,
    encode_status,
)
from plexus.redact import Redactor
from plexus.tracing.export import Exporter, open_exporter
from plexus.upstream.client import Upstream

_log = structlog.get_logger("plexus")
STATUS_SECONDS = 0.5
ROOM_SECONDS = 0.01


class Recording:
    """The child's store and exporter, and its counters."""

    def __init__(self, store: UsageStore | None, exporter: Exporter | None) -> None:
        self.store = store
        self.exporter = exporter
        self.received = 0

    async def take(self, batch: Batch) -> None:
        """Queue a batch's rows and spans. While the store is healthy, rows its buffer has no
        room for wait for its writer (a burst is not dropped; meanwhile the pipe, then the
        worker, hold what follows); a store that is down drops beyond its buffer, as it says."""
        store, exporter = self.store, self.exporter
        finished = batch.finished
        if exporter is not None:
            for one in finished:
                if one.traced is not None:
                    exporter.add((one.record, one.traced))
        if store is not None:
            done = 0
            while done < len(finished):
                if not store.healthy:  # its buffer takes what it can, and counts the rest
                    part = finished[done:]
                elif store.room > 0:
                    part = finished[done : done + store.room]
                else:
                    await asyncio.sleep(ROOM_SECONDS)
                    continue
                for one in part:
                    store.add(one.record)
                done += len(part)
        self.received += len(finished)

    def status(self) -> Status:
        """The counters, for the worker."""
        found = Status(received=self.received)
        if self.store is not None:
            found.written, found.rows_queued = self.store.written, self.store.queued
            found.rows_dropped, found.store_up = self.store.dropped, self.store.healthy
        if self.exporter is not None:
            found.spans_exported = self.exporter.exported
            found.spans_dropped = self.exporter.dropped + self.exporter.failed
        return found


async def record(messages: asyncio.StreamReader, out: BinaryIO) -> None:
    """Record what `messages` brings until it ends, reporting on `out`."""
    start = await _next(messages)
    if not isinstance(start, Start):
        raise SystemExit("the recorder's first message must be its start")
    configure_logging(start.log_format)
    recording = _open(start)
    upstream = Upstream()
    if recording.exporter is not None:
        assert start.tracing is not None
        upstream.redactor = Redactor(start.tracing.headers.values())
        await upstream.start()
        recording.exporter.start(upstream)
    reporting = asyncio.create_task(_report(recording, out))
    try:
        while message := await _next(messages):
            if isinstance(message, Batch):
                await recording.take(message)
            elif isinstance(message, Providers) and recording.exporter is not None:
                recording.exporter.providers = message.names
    finally:
        reporting.cancel()
        if recording.exporter is not None:
            await recording.exporter.close()
        await upstream.close()
        if recording.store is not None:
            await asyncio.to_thread(recording.store.close)
        _write(out, recording.status())


async def _next(messages: asyncio.StreamReader) -> ToChild | None:
    """The next message; None at the end of the stream."""
    try:
        head = await messages.readexactly(HEAD_BYTES)
        return decode_message(await messages.readexactly(int.from_bytes(head)))
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise SystemExit("the recorder's worker ended in the middle of a message") from error
        return None


def _open(start: Start) -> Recording:
    store = open_store(start.usage, start.data_dir) if start.usage is not None else None
    if store is not None:
        store.start()  # its writer connects on its first batch (the worker migrated)
    exporter = open_exporter(start.tracing) if start.tracing is not None else None
    return Recording(store, exporter)


async def _report(recording: Recording, out: BinaryIO) -> None:
    while True:
        _write(out, recording.status())
        await asyncio.sleep(STATUS_SECONDS)


def _write(out: BinaryIO, status: Status) -> None:
    with contextlib.suppress(BrokenPipeError):  # the worker is gone: nobody to tell
        out.write(encode_status(status) + b"\n")
        out.flush()


async def main() -> None:
    """Read stdin, report on stdout."""
    loop = asyncio.get_running_loop()
    messages = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(messages), sys.stdin.buffer)
    try:
        await record(messages, sys.stdout.buffer)
    except msgspec.DecodeError as error:  # a worker of another version: say so, and stop
        raise SystemExit(f"the recorder cannot read its worker's message: {error}") from error
