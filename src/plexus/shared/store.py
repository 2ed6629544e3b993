"""The connection to Redis or Valkey, watched: short timeouts, reconnection with backoff, a
warning on loss and on recovery, and `up` for the metric `plexus_shared_state_up`."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

_log = structlog.get_logger("plexus.shared")

TIMEOUT = 0.25  # a command that takes longer counts as the store being away
CONNECTIONS = 64  # commands in flight at once; more wait for a free connection (in the timeout)
PING_INTERVAL = 1.0
BACKOFF_FIRST = 0.1
BACKOFF_MAX = 5.0


class SharedStore:
    """One client for a replica's shared state. Users call `lost()` when a command fails so
    the next ones fail at once rather than each waiting out a timeout; the watcher pings with
    backoff until the store answers again."""

    def __init__(self, url: str, timeout: float = TIMEOUT) -> None:
        self.url = url
        self.timeout = timeout
        # No retries inside the client: a request must not wait on several timeouts in a row.
        self._connections = connections = BlockingConnectionPool.from_url(
            url,
            max_connections=CONNECTIONS,
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 0),
        )
        self.client = Redis(connection_pool=connections)
        self.up = False
        self.scripts: list[str] = []  # Lua loaded on every (re)connection, before it counts as up
        self._said_down = False
        self._woken = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Try the store once (a replica starts whether or not it answers), then watch it."""
        await self._ping()
        if not self.up:
            self._say_down("unreachable at start")
        else:
            _log.info("shared state store connected: limits and cooldowns are cluster-wide")
        self._watcher = asyncio.create_task(self._watch())

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        await self.client.aclose()
        await self._connections.disconnect()  # a pool passed in is not closed with the client

    def lost(self, error: BaseException) -> None:
        """A command failed: mark the store down and wake the watcher."""
        if self.up:
            self.up = False
            self._say_down(f"{type(error).__name__}: {error}")
        self._woken.set()

    def _say_down(self, why: str) -> None:
        if not self._said_down:
            self._said_down = True
            _log.warning(
                "shared state store lost: limits and cooldowns hold per replica until it is back",
                url=_without_password(self.url),
                error=why,
            )

    async def _ping(self) -> None:
        try:
            await asyncio.wait_for(self.client.ping(), self.timeout)
            if not self.up:  # a new or restarted server: teach it the scripts first
                for script in self.scripts:
                    await asyncio.wait_for(self.client.script_load(script), self.timeout)
        except Exception as error:  # any failure means away; the watcher tries again
            self.lost(error)
            return
        if not self.up:
            self.up = True
            if self._said_down:
                self._said_down = False
                _log.warning("shared state store back: limits and cooldowns are shared again")

    async def _watch(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            self._woken.clear()
            if self.up:
                backoff = BACKOFF_FIRST
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._woken.wait(), PING_INTERVAL)
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            await self._ping()


def _without_password(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rsplit('@', 1)[1]}"
