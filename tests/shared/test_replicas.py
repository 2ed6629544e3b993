"""The topology of deploy/compose.yaml with processes: two `plexus serve` with the same config,
one Valkey and one usage store between them, behind nginx run with deploy/nginx.conf. Requests
spread over both; Valkey killed mid-run and started again loses no request, and each replica
shows the loss and the recovery."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from plexus.shared.cooldowns import CHANNEL
from tests.conftest import Upstreams, start_plexus
from tests.mocks.base import Reply
from tests.ports import free_port
from tests.shared.valkey import Valkey

pytestmark = pytest.mark.slow

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
DEPLOY = Path(__file__).parents[2] / "deploy"

_NGINX_MAIN = """
daemon off;
worker_processes 1;
pid {root}/nginx.pid;
error_log stderr error;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    include {root}/plexus.conf;
}}
"""


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
        self.process = await start_plexus(self.config, self.port, self.log, env)

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    async def metric(self, session: aiohttp.ClientSession, name: str) -> float:
        """The sum of a metric's samples on this replica."""
        async with session.get(self.url + "/metrics") as answer:
            text = await answer.text()
        values = [
            float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name)
        ]
        assert values, f"no {name}"
        return sum(values)

    async def shared_up(self, session: aiohttp.ClientSession) -> int:
        return int(await self.metric(session, "plexus_shared_state_up "))


def _nginx_files(replicas: list[Replica], directory: Path) -> tuple[str, int]:
    """deploy/nginx.conf with the replicas' loopback ports for their compose names, in a main
    config of its own; nginx's binary and port."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        pytest.fail("nginx is not installed: make system-deps installs Debian's nginx-light")
    directory.mkdir(parents=True)
    port = free_port()
    site = (DEPLOY / "nginx.conf").read_text().replace("listen 80;", f"listen 127.0.0.1:{port};")
    for number, replica in enumerate(replicas, 1):
        site = site.replace(f"plexus-{number}:4000", f"127.0.0.1:{replica.port}")
    (directory / "plexus.conf").write_text(site)
    # As root, nginx's workers would run as www-data, who cannot read pytest's 0700 directories.
    user = "user root;\n" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(user + _NGINX_MAIN.format(root=directory))
    return binary, port


@contextlib.asynccontextmanager
async def nginx_in_front(replicas: list[Replica], directory: Path) -> AsyncIterator[str]:
    """nginx run with deploy/nginx.conf in front of the replicas; its URL."""
    binary, port = _nginx_files(replicas, directory)
    process = await asyncio.create_subprocess_exec(
        binary, "-p", str(directory), "-c", str(directory / "nginx.conf"), "-e", "stderr",
    )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        await process.wait()


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


async def _within(seconds: float, read: Callable[[], Awaitable[float]], value: float) -> bool:
    """Whether `read()` gives `value` within `seconds`."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        if await read() == value:
            return True
        await asyncio.sleep(0.02)
    return False


async def _until_shared(replicas: list[Replica], session: aiohttp.ClientSession, up: int) -> None:
    for _ in range(100):
        if [await r.shared_up(session) for r in replicas] == [up] * len(replicas):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"plexus_shared_state_up never became {up} on every replica")


def _two_replicas(upstreams: Upstreams, valkey: Valkey, tmp_path: Path) -> list[Replica]:
    """Two replicas of one config: the same Valkey, the same usage store (a SQLite file)."""
    config = tmp_path / "plexus.yaml"
    config.write_text(
        f"server: {{redis_url: '{valkey.url}'}}\n"
        f"usage: {{database: 'sqlite:///{tmp_path / 'usage.db'}'}}\n"
        "providers:\n"
        f"  mock: {{type: chat, api_base_url: '{upstreams.base_url('chat')}', "
        "api_key: upstream-key}\n"
        "models:\n  m: {targets: [{provider: mock, model: up}]}\n"
    )
    return [Replica(config, tmp_path / f"replica-{n}") for n in (1, 2)]


async def test_a_cooldown_and_its_end_reach_the_other_replica(
    upstreams: Upstreams, valkey: Valkey, tmp_path: Path
) -> None:
    first, second = replicas = _two_replicas(upstreams, valkey, tmp_path)
    cooling = 'plexus_target_cooling{provider="mock",model="up"} '
    try:
        for replica in replicas:
            await replica.start()
        async with aiohttp.ClientSession() as session:
            for replica in replicas:
                await _wait_for(replica, session)
            await _until_shared(replicas, session, 1)
            await valkey.until_subscribed(CHANNEL, 2)
            upstreams.states["chat"].reply = Reply(error_status=503, error_message="down")
            for _ in range(3):  # three failures on the first replica: a cooldown of 4 s or more
                async with session.post(first.url + "/v1/chat/completions", json=BODY) as answer:
                    assert answer.status == 503
            assert await _within(2.0, lambda: second.metric(session, cooling), 1)
            upstreams.states["chat"].reply = Reply()
            async with session.post(first.url + "/v1/chat/completions", json=BODY) as answer:
                assert answer.status == 200
            # Ended by the first replica's word, before its own 4 s cooldown would end.
            assert await _within(3.0, lambda: second.metric(session, cooling), 0)
    finally:
        for replica in replicas:
            await replica.stop()


async def test_two_replicas_lose_no_request_when_valkey_dies(
    upstreams: Upstreams, valkey: Valkey, tmp_path: Path
) -> None:
    replicas = _two_replicas(upstreams, valkey, tmp_path)
    statuses: list[int] = []
    balancer = ""

    async def send(session: aiohttp.ClientSession, count: int) -> None:
        async def one() -> None:
            async with session.post(balancer + "/v1/chat/completions", json=BODY) as answer:
                statuses.append(answer.status)

        await asyncio.gather(*(one() for _ in range(count)))

    try:
        for replica in replicas:
            await replica.start()
        async with (
            nginx_in_front(replicas, tmp_path / "nginx") as balancer,
            aiohttp.ClientSession() as session,
        ):
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
            served = [await r.metric(session, "plexus_requests_total{") for r in replicas]
    finally:
        for replica in replicas:
            await replica.stop()
    assert statuses == [200] * 240
    assert sum(served) == 240
    assert min(served) >= 80, f"nginx spread {served} over the two replicas"
    with sqlite3.connect(tmp_path / "usage.db") as db:
        (rows,) = db.execute("SELECT count(*) FROM requests WHERE status = 200").fetchone()
    assert rows == 240
    for replica in replicas:
        log = replica.log.read_text()
        assert "shared state store connected" in log
        assert "shared state store lost" in log
        assert "shared state store back" in log
