"""The server's edge against hostile clients: request heads limited in size and time (issue 10)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from plexus.server import HeadHoldingTransport, raise_fd_limit
from tests.conftest import Upstreams, run_gateway, serve_app


@pytest.fixture
async def strict_gateway(upstreams: Upstreams) -> AsyncIterator[tuple[str, int]]:
    config = upstreams.config({"server": {"max_head_bytes": 8192, "head_timeout": 0.4}})
    async with run_gateway(config) as url:
        parts = urlsplit(url)
        yield parts.hostname or "", parts.port or 0


async def _exchange(address: tuple[str, int], *pieces: bytes, pause: float = 0) -> bytes:
    """Send `pieces` (stopping when the server closes) and read the answer."""
    reader, writer = await asyncio.open_connection(*address)
    received: list[bytes] = []

    async def read_all() -> None:
        with contextlib.suppress(ConnectionError):
            while chunk := await reader.read(65536):
                received.append(chunk)

    reading = asyncio.create_task(read_all())
    try:
        for piece in pieces:
            if reading.done():
                break  # the server answered and closed while we were still sending
            writer.write(piece)
            await writer.drain()
            if pause:
                await asyncio.sleep(pause)
    except ConnectionError:
        pass
    try:
        await asyncio.wait_for(reading, 5)
    finally:
        writer.close()
    return b"".join(received)


def _post(path: str, body: bytes, extra: bytes = b"") -> bytes:
    return (
        b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n%s"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s"
        % (path.encode(), extra, len(body), body)
    )


async def test_an_oversized_head_is_refused_with_431(strict_gateway: tuple[str, int]) -> None:
    started = time.perf_counter()
    huge = b"x-filler: " + b"a" * 1_000_000 + b"\r\n"
    answer = await _exchange(strict_gateway, _post("/v1/chat/completions", b"{}", huge))
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert time.perf_counter() - started < 2


async def test_a_big_body_in_the_same_read_as_the_head_is_no_big_head(
    strict_gateway: tuple[str, int],
) -> None:
    body = json.dumps(
        {"model": "chat-model", "messages": [{"role": "user", "content": "x" * 200_000}]}
    ).encode()
    answer = await _exchange(strict_gateway, _post("/v1/chat/completions", body))
    assert answer.startswith(b"HTTP/1.1 200 ")


async def test_a_head_dripped_slowly_is_cut_off_with_408(strict_gateway: tuple[str, int]) -> None:
    # Slowloris: a byte now and then kept the connection (and a worker's slot) forever.
    drip = [bytes([byte]) for byte in b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\n"]
    started = time.perf_counter()
    answer = await _exchange(strict_gateway, *drip, pause=0.05)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.perf_counter() - started < 3


async def test_a_silent_connection_is_closed_after_the_deadline(
    strict_gateway: tuple[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(*strict_gateway)
    try:
        assert (await asyncio.wait_for(reader.read(), 3)).startswith(b"HTTP/1.1 408 ")
    finally:
        writer.close()


async def test_keep_alive_requests_each_get_a_fresh_head_budget(
    strict_gateway: tuple[str, int],
) -> None:
    reader, writer = await asyncio.open_connection(*strict_gateway)
    padding = b"x-pad: " + b"p" * 5000 + b"\r\n"  # two of these would exceed 8 KiB together
    try:
        for _ in range(3):
            writer.write(b"GET /health HTTP/1.1\r\nhost: x\r\n" + padding + b"\r\n")
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 3)
            assert head.startswith(b"HTTP/1.1 200 ")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
            await asyncio.sleep(0.25)  # keep-alive gaps do not count against the head deadline
    finally:
        writer.close()


def test_the_open_file_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(1024, hard), hard))
        assert raise_fd_limit() == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


class _Wire:
    """A transport that records each write (what would be one system call)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0


async def test_an_answers_head_goes_out_with_its_body_in_one_write() -> None:
    wire = _Wire()
    transport = HeadHoldingTransport(wire, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    transport.write(b"{}")
    assert wire.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    await asyncio.sleep(0)
    transport.write(b"more")  # after the head, writes go straight through
    assert wire.writes[1:] == [b"more"]
    assert transport.get_write_buffer_size() == 0  # the rest is the connection's


async def test_a_head_without_its_body_yet_goes_out_on_the_loops_next_turn() -> None:
    # A stream's head must not wait for its first event, which may be minutes away.
    wire = _Wire()
    transport = HeadHoldingTransport(wire, asyncio.get_running_loop())  # type: ignore[arg-type]
    transport.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
    assert wire.writes == []
    await asyncio.sleep(0)
    assert wire.writes == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]
    held = HeadHoldingTransport(_Wire(), asyncio.get_running_loop())  # type: ignore[arg-type]
    held.write(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n")
    held.close()  # a close right after the head sends the head first
    assert held._transport.writes and held._transport.closed  # type: ignore[attr-defined]


async def test_a_streams_head_comes_before_a_slow_first_event(upstreams: Upstreams) -> None:
    async def slow_first_event(request: web.Request) -> web.StreamResponse:
        answer = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await answer.prepare(request)
        await asyncio.sleep(1.5)
        return answer

    app = web.Application()
    app.router.add_post("/v1/chat/completions", slow_first_event)
    async with serve_app(app) as upstream:
        provider = {"type": "chat", "api_base_url": upstream + "/v1", "api_key": "k"}
        config = upstreams.config({"providers": {"slow": {**provider, "models": ["m"]}}})
        async with run_gateway(config) as url, aiohttp.ClientSession() as session:
            body = {
                "model": "slow/m",
                "stream": True,
                "messages": [{"role": "user", "content": "hi"}],
            }
            started = time.perf_counter()
            async with session.post(url + "/v1/chat/completions", json=body) as response:
                assert response.status == 200
                assert time.perf_counter() - started < 1.0  # the head, long before any event
