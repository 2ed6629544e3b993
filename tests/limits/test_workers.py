"""With several workers and no shared pool, each worker enforces its share of a key's limit
(the limit / workers, rounded up) and the start log says so."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from tests.conftest import Upstreams, start_plexus, until_healthy
from tests.ports import free_port

pytestmark = pytest.mark.slow


async def test_two_workers_each_enforce_half(upstreams: Upstreams, tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "plexus.yaml"
    base_url = upstreams.base_url("chat")
    # 1 rpm over hour-long windows is 60 a window: 30 for each worker.
    config.write_text(
        f"server: {{workers: 2, limit_window: 3600, data_dir: {tmp_path / 'data'},"
        " log_format: json}\n"
        "keys:\n  alice: {secret: sk-alice, rpm: 1}\n"
        "providers:\n"
        f"  mock: {{type: chat, api_base_url: '{base_url}', api_key: upstream-key}}\n"
        "models:\n  m: {targets: [{provider: mock, model: up}]}\n"
    )
    log = tmp_path / "gateway.log"
    process = await start_plexus(config, port, log)
    url = f"http://127.0.0.1:{port}"
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    statuses: list[int] = []
    try:
        await until_healthy(url, workers=2)
        headers = {"authorization": "Bearer sk-alice"}
        for _ in range(120):  # new connections: the kernel spreads them over the workers
            async with (
                aiohttp.ClientSession() as one,
                one.post(url + "/v1/chat/completions", json=body, headers=headers) as answer,
            ):
                statuses.append(answer.status)
    finally:
        process.terminate()
        await process.wait()
    admitted = statuses.count(200)
    assert statuses.count(429) == len(statuses) - admitted
    assert 30 < admitted <= 60  # both workers served, neither past its share of 30
    assert log.read_text().count("limits are per worker") == 2
