"""Targets' cooldowns broadcast between replicas on `plexus:cooldowns`: a replica that sees a
target fail tells the others, which cool it too, and the same for a recovery. Publishing is
queued (never awaited by a request); a message from this process is ignored."""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import msgspec
import structlog

from plexus.health import Health
from plexus.shared.store import SharedStore

_log = structlog.get_logger("plexus.shared")

CHANNEL = "plexus:cooldowns"
QUEUE_LIMIT = 1024  # past this, changes are dropped: cooldowns are short-lived hints
RESUBSCRIBE_DELAY = 0.2


class CooldownMessage(msgspec.Struct, array_like=True):
    origin: str
    provider: str
    model: str
    seconds: float | None  # None: the target recovered
    failures: int


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(CooldownMessage).decode


class CooldownBroadcast:
    """Publishes this process's cooldown changes and applies the other processes' ones."""

    def __init__(self, store: SharedStore, health: Health) -> None:
        self.store = store
        self.health = health
        self.origin = secrets.token_hex(8)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_LIMIT)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.health.on_change = self._changed
        self._tasks = [
            asyncio.create_task(self._publish()),
            asyncio.create_task(self._subscribe()),
        ]

    async def close(self) -> None:
        self.health.on_change = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _changed(self, key: tuple[str, str], seconds: float | None, failures: int) -> None:
        if not self.store.up:
            return  # nobody to tell; the others will see the target fail themselves
        message = CooldownMessage(self.origin, key[0], key[1], seconds, failures)
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(_encode(message))

    async def _publish(self) -> None:
        client = self.store.client
        while True:
            batch = [await self._queue.get()]
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            pipe = client.pipeline(transaction=False)
            for payload in batch:
                pipe.publish(CHANNEL, payload)
            try:
                await asyncio.wait_for(pipe.execute(), self.store.timeout)
            except Exception as error:
                self.store.lost(error)

    async def _subscribe(self) -> None:
        while True:
            if not self.store.up:
                await asyncio.sleep(RESUBSCRIBE_DELAY)
                continue
            pubsub = self.store.client.pubsub(ignore_subscribe_messages=True)
            try:
                await asyncio.wait_for(pubsub.subscribe(CHANNEL), self.store.timeout)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._apply(message["data"])
            except Exception as error:
                self.store.lost(error)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]
            await asyncio.sleep(RESUBSCRIBE_DELAY)

    def _apply(self, data: bytes) -> None:
        try:
            message = _decode(data)
        except msgspec.DecodeError:
            _log.warning("ignored a malformed cooldown message", channel=CHANNEL)
            return
        if message.origin == self.origin:
            return
        key = (message.provider, message.model)
        if message.seconds is None:
            self.health.recovered_elsewhere(key)
        else:
            self.health.failed_elsewhere(key, message.seconds, message.failures)
