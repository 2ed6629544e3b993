"""The keys the admin API stored, brought to the request path: loaded from the usage store at
start, then a cheap marker polled every second off the request path, the rows read again only
when it changed. A store that cannot answer leaves the last keys known in force (a warning once,
a note when it is back); a worker that starts with the store down serves the config's keys
until the store answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import structlog

from plexus.ledger.key_rows import KeyRow, KeyRows
from plexus.ledger.readers import StoreUnavailable
from plexus.limits.keys import HashedKey, KeyPolicy

_log = structlog.get_logger("plexus")
POLL_SECONDS = 1.0
FIRST_LOAD_SECONDS = 5.0  # how long a start waits for the store before going on without it
POLL_TIMEOUT = 5.0  # a hung store costs the poller this long per try, never the poller itself


class StoredKeys:
    """The stored keys this worker knows, and the poller that keeps them current."""

    def __init__(
        self,
        rows: KeyRows,
        apply: Callable[[list[HashedKey]], None],
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.rows = rows
        self.keys: list[HashedKey] = []
        # Set when the store could not answer at start: whether keys exist is then unknown,
        # and a gateway without config keys must not be open meanwhile.
        self.unknown = False
        self._apply = apply
        self._poll_seconds = poll_seconds
        self._marker: tuple[Any, ...] | None = None
        self._reading = asyncio.Lock()  # a load and its apply, one at a time, in order
        self._task: asyncio.Task[None] | None = None
        self._reachable = True

    async def start(self) -> None:
        """Load the keys (waiting a little for the store), then poll."""
        try:
            await asyncio.wait_for(self.refresh(), FIRST_LOAD_SECONDS)
        except (StoreUnavailable, TimeoutError) as error:
            self.unknown = True
            self._apply(self.keys)
            self._unreachable(error)
        self._task = asyncio.create_task(self._poll())

    async def stop(self) -> None:
        """Stop polling and release the store's connections."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        # Whatever the store says on the way out, the shutdown goes on (the usage rows
        # are flushed after this).
        with contextlib.suppress(Exception):
            await self.rows.reader.close()

    async def refresh(self) -> None:
        """Read every key and apply them now (after a change this worker made: before it
        answers); StoreUnavailable when the store cannot answer."""
        async with self._reading:
            marker = await self.rows.marker()
            rows = await self.rows.all()
            self._marker = marker
            self.keys = hashed_keys(rows)
            self.unknown = False
            self._apply(self.keys)
        self._reached()

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_seconds)
            try:
                await asyncio.wait_for(self._check(), POLL_TIMEOUT)
            except (StoreUnavailable, TimeoutError) as error:
                self._unreachable(error)
            except Exception:  # never let the poller die: the keys in force stay
                _log.exception("stored keys: poll failed")

    async def _check(self) -> None:
        """Read the rows again only when the marker moved (or none was ever read)."""
        if self._marker is None or await self.rows.marker() != self._marker:
            await self.refresh()
        else:
            self._reached()

    def _unreachable(self, error: Exception) -> None:
        if self._reachable:
            known = len(self.keys) if self._marker is not None else "none yet"
            _log.warning("stored keys: the store cannot answer, keeping the keys known",
                         keys=known, error=str(error) or type(error).__name__)  # fmt: skip
        self._reachable = False

    def _reached(self) -> None:
        if not self._reachable:
            _log.info("stored keys: the store answers again", keys=len(self.keys))
        self._reachable = True


def hashed_keys(rows: list[KeyRow], now: float | None = None) -> list[HashedKey]:
    """The request path's view of the rows: each key's secret hash, and a rotated-out one
    while its grace lasts."""
    moment = now if now is not None else time.time()
    keys = []
    for row in rows:
        policy = KeyPolicy.from_config(row.name, row.policy)
        keys.append(HashedKey(row.secret_hash, policy))
        until = row.previous_until
        if row.previous_hash is not None and until is not None and until > moment:
            keys.append(HashedKey(row.previous_hash, policy, until))
    return keys
