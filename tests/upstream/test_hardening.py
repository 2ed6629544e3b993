"""Hostile upstreams against the HTTP client: each test is a defect found by attacking the
gateway (issue 10) and fails without its fix."""

from __future__ import annotations

import asyncio
import errno
import gzip
import logging
import time
from typing import Any

import pytest

from plexus.config import TimeoutConfig
from plexus.errors import Overloaded, UpstreamTimeout, UpstreamUnreachable
from plexus.upstream import httpclient
from plexus.upstream.client import Upstream
from tests.upstream.servers import Server, answer, read_request, until


def replying(raw: bytes, then_close: bool = True) -> Any:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if await read_request(reader) is None:
            return
        writer.write(raw)
        await writer.drain()
        if not then_close:
            await asyncio.sleep(3600)

    return handler


async def get(url: str) -> httpclient.Response:
    return await httpclient.Pool().request("POST", url, {}, b"{}", 2.0, 2.0)


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"".join(b"x-many: v\r\n" for _ in range(200)), "more than 128 fields"),
        (b"x-long: " + b"v" * 70_000 + b"\r\n", "larger than 65536 bytes"),
    ],
)
async def test_an_oversized_answer_head_is_refused(head: bytes, reason: str) -> None:
    async with Server(replying(b"HTTP/1.1 200 OK\r\n" + head + b"\r\n")).running() as url:
        with pytest.raises(httpclient.ConnectionBroken, match=reason):
            await get(url)


async def test_a_megabyte_of_header_lines_does_not_freeze_the_loop() -> None:
    # ~1.3 MB of repeated lines froze a worker for 10-14 s (joined quadratically).
    lines = b"".join(b"set-cookie: %d\r\n" % n for n in range(100_000))
    started = time.perf_counter()
    async with Server(replying(b"HTTP/1.1 200 OK\r\n" + lines + b"\r\n")).running() as url:
        with pytest.raises(httpclient.ConnectionBroken):
            await get(url)
    assert time.perf_counter() - started < 2


async def test_repeated_fields_are_joined_once_in_order() -> None:
    head = b"".join(b"x-seen: %d\r\n" % n for n in range(100))
    async with Server(replying(answer(b"ok", head))).running() as url:
        response = await get(url)
        assert response.headers["x-seen"] == ", ".join(str(n) for n in range(100))
        assert await response.read() == b"ok"


async def test_capitalised_chunked_cut_short_is_broken_not_complete() -> None:
    raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n5\r\nhello\r\n"
    async with Server(replying(raw)).running() as url:
        response = await get(url)
        with pytest.raises(httpclient.ConnectionBroken):
            await response.read()


async def test_trailers_do_not_rewrite_the_head() -> None:
    raw = (
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: application/json\r\n"
        b"\r\n2\r\n{}\r\n0\r\ncontent-type: text/evil\r\nx-trailer: 1\r\n\r\n"
    )
    async with Server(replying(raw, then_close=False)).running() as url:
        response = await get(url)
        assert await response.read() == b"{}"
        assert response.headers["content-type"] == "application/json"
        assert "x-trailer" not in response.headers


async def test_bytes_after_an_answer_in_the_same_read_drop_the_connection() -> None:
    server = Server(replying(answer(b"one") + answer(b"smuggled"), then_close=False))
    async with server.running() as url:
        pool = httpclient.Pool()
        response = await pool.request("POST", url, {}, b"{}", 2.0, 2.0)
        assert await response.read() == b"one"
        await until(lambda: pool.idle_count == 0 and response.connection.closed)


async def test_switching_protocols_is_an_error_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    raw = b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        async with Server(replying(raw + b"\x81\x00", then_close=False)).running() as url:
            with pytest.raises(httpclient.ConnectionBroken, match="101"):
                await get(url)
    assert not [r for r in caplog.records if "Fatal" in r.getMessage()]


async def test_a_gzip_bomb_is_refused_while_inflating() -> None:
    bomb = gzip.compress(b"\0" * 20_000_000)  # ~20 KB that would inflate a thousandfold
    raw = answer(bomb, b"content-encoding: gzip\r\n")
    async with Server(replying(raw)).running() as url:
        response = await get(url)
        with pytest.raises(httpclient.ConnectionBroken, match="inflates"):
            await response.read()


async def test_ordinary_gzip_still_inflates() -> None:
    text = b'{"text": "' + b"the quick brown fox " * 500 + b'"}'
    async with Server(
        replying(answer(gzip.compress(text), b"content-encoding: gzip\r\n"))
    ).running() as url:
        assert await (await get(url)).read() == text


async def test_a_non_streamed_answer_above_the_limit_is_refused() -> None:
    upstream = Upstream()
    upstream.set_limits(max_answer_bytes=1000, max_per_origin=8)
    await upstream.start()
    try:
        async with Server(replying(answer(b"x" * 5000))).running() as url:
            with pytest.raises(UpstreamUnreachable, match="larger than 1000 bytes"):
                await upstream.full(url, {}, b"{}", TimeoutConfig())
    finally:
        await upstream.close()


async def _stalled_stream(
    upstream: Upstream, url: str, timeouts: TimeoutConfig
) -> tuple[int, float]:
    """Pings counted and seconds until the idle timeout of a stream that goes silent."""
    started = asyncio.get_running_loop().time()
    pings = 0
    async with upstream.stream(url, {}, b"{}", timeouts) as response:
        with pytest.raises(UpstreamTimeout):
            async for chunk in response.chunks():
                pings += chunk == b""
    return pings, asyncio.get_running_loop().time() - started


async def test_stalled_streams_always_get_their_pings_and_idle_timeout() -> None:
    # Under uvloop 2-20% of stalled streams never got their timeout: timers fire early there.
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    first = b"d\r\ndata: first\n\n\r\n"
    upstream = Upstream()
    await upstream.start()
    timeouts = TimeoutConfig(idle=0.35, ping=0.1)  # not whole seconds, on purpose
    try:
        async with Server(replying(head + first, then_close=False)).running() as url:
            results = await asyncio.wait_for(
                asyncio.gather(*(_stalled_stream(upstream, url, timeouts) for _ in range(40))), 10
            )
    finally:
        await upstream.close()
    for pings, seconds in results:
        assert pings >= 2 and 0.33 <= seconds < 1.5


async def test_a_stream_with_pings_off_still_times_out() -> None:
    head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    upstream = Upstream()
    await upstream.start()
    try:
        async with Server(replying(head, then_close=False)).running() as url:
            pings, seconds = await _stalled_stream(upstream, url, TimeoutConfig(idle=0.2, ping=0))
    finally:
        await upstream.close()
    assert pings == 0 and seconds < 1.5


async def test_out_of_descriptors_is_the_gateways_problem_not_the_providers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def exhausted(*args: Any, **kwargs: Any) -> Any:
        raise OSError(errno.EMFILE, "Too many open files")

    upstream = Upstream()
    await upstream.start()
    monkeypatch.setattr(asyncio.get_running_loop(), "create_connection", exhausted)
    try:
        with pytest.raises(Overloaded) as caught:
            await upstream.full("http://127.0.0.1:9/v1/x", {}, b"{}", TimeoutConfig())
    finally:
        await upstream.close()
    assert caught.value.status == 503 and "127.0.0.1" not in caught.value.message


async def test_connection_errors_keep_addresses_out_of_the_message() -> None:
    upstream = Upstream()
    await upstream.start()
    try:
        with pytest.raises(UpstreamUnreachable) as caught:
            await upstream.full("http://127.0.0.1:9/v1/x", {}, b"{}", TimeoutConfig(connect=2))
    finally:
        await upstream.close()
    assert "127.0.0.1" not in caught.value.message and "Errno" not in caught.value.message
    assert caught.value.detail is not None and "127.0.0.1:9" in caught.value.detail


async def test_connections_per_origin_are_capped_and_a_waiter_gets_a_freed_one() -> None:
    release = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader) is not None:
            await release.wait()
            writer.write(answer(b"ok"))
            await writer.drain()

    server = Server(slow)
    pool = httpclient.Pool(max_per_origin=2)
    async with server.running() as url:
        busy = [asyncio.create_task(pool.request("POST", url, {}, b"{}", 5, 5)) for _ in range(2)]
        await until(lambda: server.connections == 2)
        with pytest.raises(httpclient.PoolFull):
            await pool.request("POST", url, {}, b"{}", 0.2, 5)
        third = asyncio.create_task(pool.request("POST", url, {}, b"{}", 5, 5))
        await asyncio.sleep(0.05)
        release.set()
        for task in busy:
            assert await (await task).read() == b"ok"
        assert await (await third).read() == b"ok"
    assert server.connections == 2  # the third request waited for a connection, opened none


async def test_a_pinned_address_connects_there_with_the_name_in_host() -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if request is not None:
            seen.append(request[0])
            writer.write(answer(b"ok"))

    server = Server(record)
    async with server.running():
        url = f"http://images.example.invalid:{server.port}/cat.png"
        response = await httpclient.Pool().request("GET", url, {}, b"", 2, 2, address="127.0.0.1")
        assert await response.read() == b"ok"
    assert b"host: images.example.invalid:" in seen[0]
