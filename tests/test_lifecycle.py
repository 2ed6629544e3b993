"""Config reload, graceful shutdown, and no leaks after many aborted streams (issue 4)."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from plexus import reload
from plexus.app import Gateway
from plexus.config import load_config
from tests.conftest import run_gateway, serve_app

CHUNK = {
    "id": "c",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "m",
    "choices": [{"index": 0, "delta": {"content": "tick "}, "finish_reason": None}],
}
DONE_CHUNK = {**CHUNK, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}


@pytest.fixture
async def ticking_upstream() -> AsyncIterator[str]:
    """A chat upstream streaming `n` events (query `?n=`, default 10) every `gap` seconds."""

    async def handler(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        count, gap = int(body.get("n", 10)), float(body.get("gap", 0.05))
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            for _ in range(count):
                await response.write(b"data: " + json.dumps(CHUNK).encode() + b"\n\n")
                await asyncio.sleep(gap)
            await response.write(b"data: " + json.dumps(DONE_CHUNK).encode() + b"\n\n")
            await response.write(b"data: [DONE]\n\n")
        except ConnectionResetError:
            pass
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", handler)
    async with serve_app(app) as url:
        yield url + "/v1"


def write_config(path: Path, upstream: str, alias: str) -> None:
    path.write_text(
        "providers:\n"
        f"  up: {{type: chat, api_base_url: '{upstream}', api_key: k}}\n"
        "models:\n"
        f"  {alias}: {{targets: [{{provider: up, model: m}}]}}\n"
    )


async def model_ids(url: str) -> list[str]:
    async with aiohttp.ClientSession() as session, session.get(url + "/v1/models") as response:
        listing = await response.json()
    return [entry["id"] for entry in listing["data"]]


async def wait_for(url: str, model: str) -> bool:
    for _ in range(50):
        if model in await model_ids(url):
            return True
        await asyncio.sleep(0.05)
    return False


async def test_changed_file_is_reloaded_and_bad_file_rejected(
    tmp_path: Path, ticking_upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reload, "POLL_SECONDS", 0.05)
    path = tmp_path / "plexus.yaml"
    write_config(path, ticking_upstream, "first")
    gateway = Gateway(load_config(path), str(path))
    async with run_gateway(gateway.config, gateway) as url:
        assert "first" in await model_ids(url)
        await asyncio.sleep(0.05)  # a distinct modification time
        write_config(path, ticking_upstream, "second")
        assert await wait_for(url, "second")
        path.write_text("providers: {broken: {type: nope}}\n")
        await asyncio.sleep(0.3)
        assert "second" in await model_ids(url)  # the old config stays in force
        write_config(path, ticking_upstream, "third")
        os.kill(os.getpid(), signal.SIGHUP)
        assert await wait_for(url, "third")


async def test_reload_keeps_in_flight_streams(
    tmp_path: Path, ticking_upstream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reload, "POLL_SECONDS", 0.05)
    path = tmp_path / "plexus.yaml"
    write_config(path, ticking_upstream, "first")
    gateway = Gateway(load_config(path), str(path))
    body = {"model": "first", "stream": True, "messages": [], "n": 8, "gap": 0.05}
    async with run_gateway(gateway.config, gateway) as url, aiohttp.ClientSession() as session:
        async with session.post(url + "/v1/chat/completions", json=body) as response:
            await response.content.readany()
            write_config(path, ticking_upstream, "second")
            text = (await response.read()).decode()
        assert text.rstrip().endswith("data: [DONE]")
        assert await wait_for(url, "second")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_sigterm_lets_streams_finish(tmp_path: Path, ticking_upstream: str) -> None:
    path = tmp_path / "plexus.yaml"
    write_config(path, ticking_upstream, "slow")
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "plexus.cli", "serve", "--config", str(path), "--port", str(port),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(200):
                try:
                    async with session.get(url + "/health") as health:
                        if health.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.05)
            body = {"model": "slow", "stream": True, "messages": [], "n": 10, "gap": 0.1}
            async with session.post(url + "/v1/chat/completions", json=body) as response:
                first = await response.content.readany()
                process.send_signal(signal.SIGTERM)
                text = (first + await response.read()).decode()
        assert text.count("tick") == 10
        assert text.rstrip().endswith("data: [DONE]")
        assert await asyncio.wait_for(process.wait(), timeout=10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_thousand_aborted_streams_leak_nothing(tmp_path: Path, ticking_upstream: str) -> None:
    path = tmp_path / "plexus.yaml"
    write_config(path, ticking_upstream, "slow")
    gateway = Gateway(load_config(path))
    body = {"model": "slow", "stream": True, "messages": [], "n": 200, "gap": 0.01}

    async def abort_one(session: aiohttp.ClientSession, url: str) -> None:
        response = await session.post(url + "/v1/chat/completions", json=body)
        await response.content.readany()
        response.close()

    async with run_gateway(gateway.config, gateway) as url:
        connector = aiohttp.TCPConnector(limit=50, force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            await asyncio.gather(*(abort_one(session, url) for _ in range(100)))
            await asyncio.sleep(0.3)
            gc.collect()
            tasks_before = len(asyncio.all_tasks())
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            for _ in range(9):
                await asyncio.gather(*(abort_one(session, url) for _ in range(100)))
            await asyncio.sleep(0.5)
            gc.collect()
        assert gateway.upstream.pool.busy_count == 0  # every connection was returned or closed
        assert len(asyncio.all_tasks()) <= tasks_before + 2
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert rss_after - rss_before < 30_000  # KiB: no growth with the number of streams
