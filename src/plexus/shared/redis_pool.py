"""`RedisPool`: the limits' quota pool (limits-contract.md) shared by every replica through
Redis or Valkey. A lease is one atomic Lua call; the leases asked for at once go in one
pipelined round trip (a burst costs one wait, not one connection each). Give-backs and late
additions are summed in memory and sent in one pipelined batch every `FLUSH_INTERVAL`."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

import structlog
from redis.exceptions import NoScriptError

from plexus.limits.pool import PoolUnavailable
from plexus.shared.store import SharedStore

_log = structlog.get_logger("plexus.shared")

PREFIX = "plexus:q:"
FLUSH_INTERVAL = 0.15
BATCH = 200  # scripts per pipeline: a larger one could outlast the store's timeout
DEFAULT_TTL = 40 * 86400.0  # for a counter added to before any lease told its window's life

# Grant min(amount, limit - used), never less than 0; the key lives `ttl` past its last lease.
# Numbers go back as strings: Redis would truncate a Lua number to an integer.
_LEASE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if grant > 0 then
  used = tonumber(redis.call('INCRBYFLOAT', KEYS[1], grant))
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
else
  grant = 0
end
return {tostring(grant), tostring(used)}
"""

# Add a (possibly negative) delta, not below 0; a new key gets its window's life.
_ADD = """
local value = tonumber(redis.call('INCRBYFLOAT', KEYS[1], ARGV[1]))
if value < 0 then
  redis.call('SET', KEYS[1], '0', 'KEEPTTL')
  value = 0
end
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return tostring(value)
"""


class _Script:
    """A Lua script run by its SHA in pipelines, loaded when the server does not know it (a
    first use, or a restarted server)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()


_LEASE_SCRIPT = _Script(_LEASE)
_ADD_SCRIPT = _Script(_ADD)

_Call = tuple[str, tuple[float | int, ...]]  # a key and the script's arguments


class RedisPool:
    """Quota counters in Redis/Valkey under `plexus:q:<counter>:<window>`."""

    def __init__(self, store: SharedStore, flush_interval: float = FLUSH_INTERVAL) -> None:
        self.store = store
        store.scripts.extend([_LEASE, _ADD])
        self.flush_interval = flush_interval
        self._leases: list[tuple[_Call, asyncio.Future[Any]]] = []
        self._leasing: asyncio.Task[None] | None = None
        self._pending: dict[tuple[str, int], float] = {}
        self._seen: dict[str, tuple[int, float]] = {}  # counter → (window, cluster-wide total)
        self._ttls: dict[str, float] = {}  # counter → the ttl its last lease or seed gave
        self._flusher: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_every())

    async def close(self) -> None:
        """Stop flushing, then send what is pending (once, if the store answers)."""
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()

    async def lease(
        self, counter: str, window: int, amount: float, limit: float, ttl: float
    ) -> float:
        if not self.store.up:
            raise PoolUnavailable("shared state store unavailable")
        self._ttls[counter] = ttl
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._leases.append(((_key(counter, window), (amount, limit, _ms(ttl))), future))
        if self._leasing is None or self._leasing.done():
            self._leasing = asyncio.create_task(self._send_leases())
        reply = await future
        granted, used = float(reply[0]), float(reply[1])
        seen = self._seen.get(counter)
        if seen is None or seen[0] <= window:
            self._seen[counter] = (window, used)
        return granted

    def give_back(self, counter: str, window: int, amount: float) -> None:
        if amount > 0:
            self._queue(counter, window, -amount)

    def add(self, counter: str, window: int, amount: float) -> None:
        if amount > 0:
            self._queue(counter, window, amount)

    async def seed(self, counter: str, window: int, value: float, ttl: float) -> None:
        if not self.store.up:
            raise PoolUnavailable("shared state store unavailable")
        self._ttls[counter] = ttl
        command = self.store.client.set(_key(counter, window), repr(value), nx=True, px=_ms(ttl))
        try:
            await asyncio.wait_for(command, self.store.timeout)
        except Exception as error:
            self.store.lost(error)
            raise PoolUnavailable(f"shared state store: {type(error).__name__}") from error

    def used(self, counter: str, window: int) -> float | None:
        seen = self._seen.get(counter)
        if seen is None or seen[0] != window:
            return None
        return seen[1]

    async def flush(self) -> None:
        """Send every pending delta, pipelined (one round trip per `BATCH` counters); kept for
        the next try if the store does not answer."""
        if not self._pending or not self.store.up:
            return
        batch, self._pending = self._pending, {}
        calls: list[_Call] = [
            (_key(counter, window), (delta, _ms(self._ttls.get(counter, DEFAULT_TTL))))
            for (counter, window), delta in batch.items()
        ]
        try:
            replies = await self._run(_ADD_SCRIPT, calls)
        except Exception as error:
            for where, delta in batch.items():
                self._pending[where] = self._pending.get(where, 0.0) + delta
            self.store.lost(error)
            return
        for (counter, window), reply in zip(batch, replies, strict=True):
            seen = self._seen.get(counter)
            if seen is None or seen[0] <= window:
                self._seen[counter] = (window, float(reply))

    async def _send_leases(self) -> None:
        """Send the leases waiting, one pipeline at a time, until none is left; once the store
        is known to be away, the rest are refused at once rather than each timing out."""
        await asyncio.sleep(0)  # let the rest of a burst join this round trip
        while self._leases:
            batch, self._leases = self._leases, []
            try:
                if not self.store.up:
                    raise PoolUnavailable("shared state store unavailable")
                replies = await self._run(_LEASE_SCRIPT, [call for call, _ in batch])
            except Exception as error:
                unavailable = error
                if not isinstance(error, PoolUnavailable):
                    self.store.lost(error)
                    unavailable = PoolUnavailable(f"shared state store: {type(error).__name__}")
                for _, future in batch:
                    if not future.done():
                        future.set_exception(unavailable)
                continue
            for (_, future), reply in zip(batch, replies, strict=True):
                if not future.done():
                    future.set_result(reply)

    async def _run(self, script: _Script, calls: list[_Call]) -> list[Any]:
        """Run the script once per call, in pipelines of up to `BATCH` calls (two if the server
        must load it first), each within the store's timeout."""
        replies: list[Any] = []
        for start in range(0, len(calls), BATCH):
            chunk = calls[start : start + BATCH]
            replies += await asyncio.wait_for(self._run_loading(script, chunk), self.store.timeout)
        return replies

    async def _run_loading(self, script: _Script, calls: list[_Call]) -> list[Any]:
        replies = await self._pipeline(script, calls)
        if not any(isinstance(reply, NoScriptError) for reply in replies):
            return replies
        await self.store.client.script_load(script.text)
        # NOSCRIPT means it did not run: running those again counts nothing twice.
        again = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
        for i, reply in zip(
            again, await self._pipeline(script, [calls[i] for i in again]), strict=True
        ):
            replies[i] = reply
        return replies

    async def _pipeline(self, script: _Script, calls: list[_Call]) -> list[Any]:
        pipe = self.store.client.pipeline(transaction=False)
        for key, args in calls:
            pipe.evalsha(script.sha, 1, key, *args)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        for reply in replies:
            if isinstance(reply, Exception) and not isinstance(reply, NoScriptError):
                raise reply
        return replies

    def _queue(self, counter: str, window: int, delta: float) -> None:
        where = (counter, window)
        self._pending[where] = self._pending.get(where, 0.0) + delta

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            try:
                await self.flush()
            except Exception:  # never let the batch task die; the next tick tries again
                _log.exception("shared quota flush failed")


def _key(counter: str, window: int) -> str:
    return f"{PREFIX}{counter}:{window}"


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))
