"""With several workers, every scrape reports the whole server (issue 12): whichever worker
answers, `/metrics` sums every worker's counters."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Upstreams, start_plexus, until_healthy
from tests.ports import free_port

pytestmark = pytest.mark.slow


async def _requests_total(session: aiohttp.ClientSession, url: str) -> float:
    async with session.get(url + "/metrics") as answer:
        text = await answer.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "plexus_requests_total"
    )


async def test_two_workers_report_the_whole_server(upstreams: Upstreams, tmp_path: Path) -> None:
    # A snapshot left by an earlier run of the server: its counters are not this run's.
    earlier = tmp_path / "data" / "metrics" / "4194305.json"
    earlier.parent.mkdir(parents=True)
    earlier.write_text('{"written": 1.0, "requests": {"chat|m|mock|2xx": 1000}}')
    port = free_port()
    config = tmp_path / "plexus.yaml"
    base_url = upstreams.base_url("chat")
    config.write_text(
        f"server: {{workers: 2, data_dir: {tmp_path / 'data'}}}\n"
        "providers:\n"
        f"  mock: {{type: chat, api_base_url: '{base_url}', api_key: upstream-key}}\n"
        "models:\n  m: {targets: [{provider: mock, model: up}]}\n"
    )
    process = await start_plexus(config, port, tmp_path / "gateway.log")
    url = f"http://127.0.0.1:{port}"
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    try:
        async with aiohttp.ClientSession() as session:
            await until_healthy(url, workers=2)
            sent = 60
            for _ in range(sent):  # new connections: the kernel spreads them over the workers
                async with (
                    aiohttp.ClientSession() as one,
                    one.post(url + "/v1/chat/completions", json=body) as answer,
                ):
                    assert answer.status == 200
            await asyncio.sleep(2.5)  # every worker has written its snapshot since
            totals = [await _requests_total(session, url) for _ in range(6)]
    finally:
        process.terminate()
        await process.wait()
    assert totals == [sent] * 6
