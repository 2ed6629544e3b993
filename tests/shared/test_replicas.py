"""Two `plexus serve` processes with the same config, one Valkey and one usage store between
them, as behind a load balancer: requests spread over both; Valkey killed mid-run and started
again loses no request, and each replica shows the loss and the recovery."""

from __future__ import annotations

import asyncio
import itertools
import os
import sqlite3
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Upstreams
from tests.shared.valkey import Valkey, free_port

pytestmark = pytest.mark.slow

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


class Replica:
    """One `plexus serve` process; its log goes to a file the test reads."""

    def __init__(self, config: Path, directory: Path) -> None:
        self.config = config
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = directory / "stderr.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PLEXUS_DATA_DIR": str(self.directory / "data")}
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "plexus.cli", "serve", "--config", str(self.config),
                "--port", str(self.port), env=env, stdout=log, stderr=log,
            )  # fmt: skip

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def shared_up(self, session: aiohttp.ClientSession) -> int:
        async with session.get(self.url + "/metrics") as answer:
            for line in (await answer.text()).splitlines():
                if line.startswith("plexus_shared_state_up "):
                    return int(line.split()[1])
        raise AssertionError("no plexus_shared_state_up")


async def _wait_for(replica: Replica, session: aiohttp.ClientSession) -> None:
    for _ in range(200):
        try:
            async with session.get(replica.url + "/health") as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"replica did not start: {replica.log.read_text()}")


async def _until_shared(replicas: list[Replica], session: aiohttp.ClientSession, up: int) -> None:
    for _ in range(100):
        if [await r.shared_up(session) for r in replicas] == [up] * len(replicas):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"plexus_shared_state_up never became {up} on every replica")


async def test_two_replicas_lose_no_request_when_valkey_dies(
    upstreams: Upstreams, valkey: Valkey, tmp_path: Path
) -> None:
    config = tmp_path / "plexus.yaml"
    config.write_text(
        f"server: {{redis_url: '{valkey.url}'}}\n"
        f"usage: {{database: 'sqlite:///{tmp_path / 'usage.db'}'}}\n"
        "providers:\n"
        f"  mock: {{type: chat, api_base_url: '{upstreams.base_url('chat')}', "
        "api_key: upstream-key}\n"
        "models:\n  m: {targets: [{provider: mock, model: up}]}\n"
    )
    replicas = [Replica(config, tmp_path / f"replica-{n}") for n in (1, 2)]
    statuses: list[int] = []
    next_replica = itertools.cycle(replicas)  # the load balancer: round robin

    async def send(session: aiohttp.ClientSession, count: int) -> None:
        async def one() -> None:
            replica = next(next_replica)
            async with session.post(replica.url + "/v1/chat/completions", json=BODY) as answer:
                statuses.append(answer.status)

        await asyncio.gather(*(one() for _ in range(count)))

    try:
        for replica in replicas:
            await replica.start()
        async with aiohttp.ClientSession() as session:
            for replica in replicas:
                await _wait_for(replica, session)
            await _until_shared(replicas, session, 1)
            await send(session, 60)
            await valkey.kill()
            await send(session, 60)  # the first ones meet the loss
            await _until_shared(replicas, session, 0)
            await send(session, 60)
            await valkey.start()
            await _until_shared(replicas, session, 1)
            await send(session, 60)
    finally:
        for replica in replicas:
            await replica.stop()
    assert statuses == [200] * 240
    with sqlite3.connect(tmp_path / "usage.db") as db:
        (rows,) = db.execute("SELECT count(*) FROM requests WHERE status = 200").fetchone()
    assert rows == 240
    for replica in replicas:
        log = replica.log.read_text()
        assert "shared state store connected" in log
        assert "shared state store lost" in log
        assert "shared state store back" in log
