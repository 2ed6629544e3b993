"""The span exporter, in the recorder process: finished requests go into a bounded buffer
without waiting; a background task makes their spans, encodes them in batches and POSTs them to
the OTLP/HTTP endpoint through Plexus's own HTTP client.

The task builds and encodes a few requests' spans at a time and then lets the event loop run:
a batch is tens of milliseconds of Python, which must not hold up in one piece the reading of
what the worker sends. Beyond the buffer's bound a
request's spans are counted as dropped, never waited for. A batch the collector refuses for now
(429, 502, 503, 504, or no connection) is retried after its `Retry-After`, else after a
doubling pause, a few times; then it is dropped and counted. Any other refusal drops it at once
(OTLP/HTTP spec, "Failures"). `close()` exports what is left within a deadline of a few
seconds, so a dead collector never holds a shutdown up.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections import deque
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version

import structlog

from plexus.config import TimeoutConfig, TracingConfig
from plexus.errors import GatewayError
from plexus.ledger.record import UsageRecord
from plexus.tracing.context import TraceContext
from plexus.tracing.otlp import CONTENT_TYPE, Encoder
from plexus.tracing.span import Attributes, encode_spans
from plexus.upstream.client import Upstream

_log = structlog.get_logger("plexus")
RETRYABLE_STATUS = frozenset((429, 502, 503, 504))
MAX_TRIES = 5  # per batch
MAX_PAUSE = 30.0  # seconds, even when Retry-After asks for more
SLICE = 16  # requests whose spans are made between two turns of the event loop
CLOSE_SECONDS = 3.0  # what `close` gives the last export

# A finished request: its record and trace context.
Finished = tuple[UsageRecord, TraceContext]


class Exporter:
    """Takes finished requests without waiting; exports their spans in the background."""

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str],
        encoder: Encoder,
        *,
        queue_requests: int,
        batch_requests: int,
        flush_seconds: float,
        timeout: float,
    ) -> None:
        self._endpoint = endpoint
        self._headers = {**headers, "content-type": CONTENT_TYPE}
        self._encoder = encoder
        self._buffer: deque[Finished] = deque()
        self._limit = queue_requests
        self._batch = batch_requests
        self._flush_seconds = flush_seconds
        self._timeouts = TimeoutConfig(connect=timeout, first_byte=timeout, idle=timeout)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()  # set by `close`: cuts a retry's pause short
        self._sending = 0  # spans of the batch being sent
        self._task: asyncio.Task[None] | None = None
        self._upstream: Upstream | None = None
        self.providers: Mapping[str, str] = {}  # gen_ai.provider.name by provider name
        self.exported = 0
        # Spans (not requests) lost: the buffer was full, or the collector refused them or
        # could not be reached.
        self.dropped = 0
        self.failed = 0
        self.healthy = True

    @property
    def queued(self) -> int:
        """Requests whose spans wait for the exporter."""
        return len(self._buffer)

    def add(self, finished: Finished) -> None:
        """Take a finished request (never blocks); past the bound it is counted as dropped."""
        buffer = self._buffer
        if len(buffer) >= self._limit:
            self.dropped += _span_count(finished)
            return
        buffer.append(finished)
        if len(buffer) >= self._batch:
            self._wake.set()

    def start(self, upstream: Upstream) -> None:
        """Start the background task, which sends through `upstream`."""
        self._upstream = upstream
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        """Export what is buffered within `CLOSE_SECONDS`, drop the rest, stop the task."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, CLOSE_SECONDS)  # cancels it on timeout
        self.failed += self._sending
        while self._buffer:
            self.failed += _span_count(self._buffer.popleft())

    async def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._flush_seconds)
            self._wake.clear()
            await self._guarded()
        await self._guarded()

    async def _guarded(self) -> None:
        try:
            await self._export_buffered()
        except Exception:  # the task's boundary: a bug here must not end tracing for good
            _log.exception("trace export failed")

    async def _export_buffered(self) -> None:
        buffer = self._buffer
        while buffer:
            spans: list[bytes] = []
            for taken in range(min(self._batch, len(buffer))):
                if taken and not taken % SLICE:
                    await asyncio.sleep(0)  # let requests run
                record, context = buffer.popleft()
                spans += encode_spans(record, context, self.providers)
                self._sending = len(spans)
            if await self._send(self._encoder.body(spans)):
                self.exported += len(spans)
                self.healthy = True
            else:
                self.failed += len(spans)
            self._sending = 0

    async def _send(self, body: bytes) -> bool:
        """POST one batch, retrying what the collector may take later; whether it took it."""
        pause = 1.0
        for attempt in range(1, MAX_TRIES + 1):
            retry_after, error = await self._post(body)
            if error is None:
                return True
            if retry_after is None or attempt == MAX_TRIES or self._stop.is_set():
                self._report(error)
                return False
            wait = min(retry_after if retry_after >= 0 else pause, MAX_PAUSE)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), wait)
            pause *= 2
        return False

    async def _post(self, body: bytes) -> tuple[float | None, str | None]:
        """(None, None) when exported; else the retry delay (-1: the exporter's own pause;
        None: do not retry) and what went wrong."""
        assert self._upstream is not None
        try:
            answer = await self._upstream.full(self._endpoint, self._headers, body, self._timeouts)
        except GatewayError as error:  # refused, reset, timed out
            return -1.0, error.detail or error.message
        if answer.status < 300:
            return None, None
        if answer.status in RETRYABLE_STATUS:
            return _retry_after(answer.headers.get("retry-after")), f"HTTP {answer.status}"
        return None, f"HTTP {answer.status}"

    def _report(self, error: str) -> None:
        if self.healthy:
            _log.warning("trace export failed, spans dropped", error=error)
        self.healthy = False


def _span_count(finished: Finished) -> int:
    """The spans of a finished request: its own and its upstream calls'."""
    return 1 + len(finished[1].calls)


def _retry_after(value: str | None) -> float:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date); -1 if none."""
    if not value:
        return -1.0
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return -1.0
    return max(0.0, when.timestamp() - time.time())


def open_exporter(config: TracingConfig) -> Exporter:
    """The span exporter of a tracing config (the recorder process's), not started."""
    plexus_version = _version()
    resource: Attributes = [
        ("service.name", config.service_name),
        ("service.version", plexus_version),
        ("telemetry.sdk.name", "plexus"),
        ("telemetry.sdk.language", "python"),
        ("telemetry.sdk.version", plexus_version),
    ]
    return Exporter(
        config.endpoint,
        config.headers,
        Encoder(resource, "plexus", plexus_version),
        queue_requests=config.queue_requests,
        batch_requests=config.batch_requests,
        flush_seconds=config.flush_seconds,
        timeout=config.timeout,
    )


def _version() -> str:
    try:
        return version("plexus")
    except PackageNotFoundError:
        return "unknown"
