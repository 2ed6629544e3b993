"""What a replica shares when `server.redis_url` is set: the store, the quota pool and the
cooldown broadcast, started and stopped with the gateway."""

from __future__ import annotations

from plexus.health import Health
from plexus.shared.cooldowns import CooldownBroadcast
from plexus.shared.redis_pool import RedisPool
from plexus.shared.store import SharedStore


class Shared:
    """The shared state of one gateway process."""

    def __init__(self, url: str, health: Health) -> None:
        self.store = SharedStore(url)
        self.pool = RedisPool(self.store)
        self.cooldowns = CooldownBroadcast(self.store, health)

    @property
    def up(self) -> bool:
        return self.store.up

    async def start(self) -> None:
        await self.store.start()
        self.pool.start()
        self.cooldowns.start()

    async def close(self) -> None:
        await self.cooldowns.close()
        await self.pool.close()
        await self.store.close()
