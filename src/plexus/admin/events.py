"""Live events: every finished request's record, pushed to the admin API's SSE subscribers.

The request path pays only when someone listens: one append per subscriber to a bounded queue.
A subscriber that reads too slowly loses records beyond its bound, never slows a request, and is
told how many it lost (`event: dropped`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import msgspec

from plexus import http
from plexus.admin.call import Call
from plexus.ledger.query import view
from plexus.ledger.record import UsageRecord

if TYPE_CHECKING:
    from plexus.admin.api import AdminApi

QUEUE_LIMIT = 1000  # records held for one subscriber
KEEPALIVE = b": keep-alive\n\n"


class Subscriber:
    """One live stream's queue of records and its count of those it lost."""

    __slots__ = ("dropped", "limit", "queue", "wake")

    def __init__(self, limit: int) -> None:
        self.queue: deque[UsageRecord] = deque()
        self.limit = limit
        self.dropped = 0
        self.wake = asyncio.Event()


class EventHub:
    """The subscribers of the live stream."""

    def __init__(self, limit: int = QUEUE_LIMIT) -> None:
        self.subscribers: list[Subscriber] = []
        self.limit = limit

    def publish(self, record: UsageRecord) -> None:
        """Queue `record` for every subscriber (never waits; counts what does not fit)."""
        for subscriber in self.subscribers:
            if len(subscriber.queue) >= subscriber.limit:
                subscriber.dropped += 1
                continue
            subscriber.queue.append(record)
            subscriber.wake.set()

    def subscribe(self) -> Subscriber:
        """A new subscriber."""
        subscriber = Subscriber(self.limit)
        self.subscribers = [*self.subscribers, subscriber]
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Stop queueing for `subscriber`."""
        self.subscribers = [s for s in self.subscribers if s is not subscriber]


def frames(subscriber: Subscriber) -> bytes:
    """The SSE frames of what `subscriber` has waiting, and of what it lost."""
    out = []
    queue = subscriber.queue
    while queue:
        data = msgspec.json.encode(view(queue.popleft()))
        out.append(b"event: request\ndata: " + data + b"\n\n")
    if subscriber.dropped:
        data = msgspec.json.encode({"dropped": subscriber.dropped})
        out.append(b"event: dropped\ndata: " + data + b"\n\n")
        subscriber.dropped = 0
    return b"".join(out)


async def stream_events(admin: AdminApi, call: Call) -> None:
    """`GET /events`: the live stream, until the client goes away."""
    subscriber = admin.events.subscribe()
    writer = call.writer
    try:
        await writer.start_stream()
        with http.CancelOnDisconnect(call.receive) as watch:
            try:
                await _pump(subscriber, writer.chunk, admin.keepalive_seconds)
            except asyncio.CancelledError:
                if not watch.disconnected:
                    raise
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
    finally:
        admin.events.unsubscribe(subscriber)


async def _pump(
    subscriber: Subscriber, send: Callable[[bytes], Awaitable[None]], keepalive: float
) -> None:
    while True:
        try:
            async with asyncio.timeout(keepalive):
                await subscriber.wake.wait()
        except TimeoutError:
            await send(KEEPALIVE)
            continue
        subscriber.wake.clear()
        data = frames(subscriber)
        if data:
            await send(data)
