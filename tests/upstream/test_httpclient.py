"""The upstream HTTP client against raw loopback servers that misbehave on purpose."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import pytest

from plexus.upstream import httpclient
from tests.upstream.servers import (
    Handler,
    Server,
    answer,
    echo_forever,
    read_request,
    self_signed,
    until,
)


async def post(pool: httpclient.Pool, url: str, body: bytes = b"{}") -> tuple[int, bytes]:
    response = await pool.request("POST", url, {"content-type": "application/json"}, body, 5)
    return response.status, await response.read()


async def test_sequential_requests_reuse_one_connection() -> None:
    server = Server(echo_forever)
    pool = httpclient.Pool()
    async with server.running() as url:
        for i in range(5):
            assert await post(pool, url, b'{"i":%d}' % i) == (200, b'{"i":%d}' % i)
        assert server.connections == 1
        assert pool.idle_count == 1 and pool.busy_count == 0
        await pool.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nhello",  # delimited by the close
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
        b"HTTP/1.1 200 OK\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n%s"
        % (len(gzip.compress(b"hello")), gzip.compress(b"hello")),
    ],
    ids=["chunked", "close-delimited", "interim-100", "gzip"],
)
async def test_bodies_however_framed(raw: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(raw)
        await writer.drain()
        if b"connection: close" in raw:
            writer.close()
        else:
            await read_request(reader)

    pool = httpclient.Pool()
    async with Server(handler).running() as url:
        assert await post(pool, url) == (200, b"hello")
        await pool.close()


async def two_posts_need_two_connections(handler: Handler, pause: float) -> None:
    """Two posts `pause` s apart each get their own answer, the second on a new connection."""
    server = Server(handler)
    pool = httpclient.Pool()
    async with server.running() as url:
        assert await post(pool, url, b"1") == (200, b"1")
        await asyncio.sleep(pause)
        assert await post(pool, url, b"2") == (200, b"2")
        assert server.connections == 2
        await pool.close()


async def test_a_connection_the_server_closed_meanwhile_is_replaced() -> None:
    async def one_answer_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        request = await read_request(reader)
        assert request is not None
        writer.write(answer(request[1]))  # says keep-alive, then closes anyway
        await writer.drain()

    await two_posts_need_two_connections(one_answer_then_close, pause=0.05)


async def test_a_connection_that_broke_mid_answer_is_an_error_not_a_retry() -> None:
    async def half_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\npartial")
        await writer.drain()

    server = Server(half_answer)
    pool = httpclient.Pool()
    async with server.running() as url:
        response = await pool.request("POST", url, {}, b"{}", 5)
        with pytest.raises(httpclient.ConnectionBroken):
            await response.read()
        assert server.connections == 1
        assert pool.busy_count == 0


async def test_cancelling_a_request_drops_its_connection() -> None:
    received = asyncio.Event()

    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        received.set()
        await reader.read()  # returns once the client closed its side

    server = Server(never_answers)
    pool = httpclient.Pool()
    async with server.running() as url:
        task = asyncio.ensure_future(post(pool, url))
        await asyncio.wait_for(received.wait(), 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await until(lambda: pool.busy_count == 0)
        assert pool.idle_count == 0


async def test_a_slow_reader_pauses_the_socket_and_loses_nothing() -> None:
    size = 8 << 20

    async def big(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % size)
        for _ in range(size >> 16):
            writer.write(b"x" * (1 << 16))
            await writer.drain()
        await read_request(reader)

    pool = httpclient.Pool()
    async with Server(big).running() as url:
        response = await pool.request("POST", url, {}, b"{}", 5)
        connection = response.connection
        await asyncio.sleep(0.2)  # let the body pile up unread
        assert connection._paused
        assert connection._buffered < 2 * (1 << 20) + (1 << 17)
        assert len(await response.read()) == size
        await pool.close()


async def test_header_injection_is_refused() -> None:
    pool = httpclient.Pool()
    with pytest.raises(httpclient.ConnectError, match="line break"):
        await pool.request("POST", "http://127.0.0.1:9/x", {"x-a": "1\r\nx-b: 2"}, b"", 5)


async def test_connection_refused_is_a_connect_error() -> None:
    pool = httpclient.Pool()
    with pytest.raises(httpclient.ConnectError, match="cannot connect"):
        await pool.request("POST", "http://127.0.0.1:9/x", {}, b"", 5)


async def test_https(tmp_path: Path) -> None:
    server_tls, client_tls = self_signed(tmp_path)
    pool = httpclient.Pool(tls=client_tls)
    async with Server(echo_forever).running(server_tls) as url:
        assert await post(pool, url, b"secret") == (200, b"secret")
        with pytest.raises(httpclient.ConnectError):  # the system store does not trust it
            await post(httpclient.Pool(), url)
        await pool.close()


async def test_an_answer_that_does_not_come_in_time_times_out_and_drops_the_connection() -> None:
    async def never_answers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()

    pool = httpclient.Pool()
    async with Server(never_answers).running() as url:
        with pytest.raises(httpclient.ReadTimeout):
            await pool.request("POST", url, {}, b"{}", 5, answer_within=0.2)
        await until(lambda: pool.busy_count == 0)


async def test_the_request_head_asks_for_identity_and_names_the_client() -> None:
    heads: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            heads.append(request[0].lower())
            writer.write(answer(b"ok"))
            await writer.drain()

    pool = httpclient.Pool()
    async with Server(record).running() as url:
        await post(pool, url)
        response = await pool.request("POST", url, {"User-Agent": "mine"}, b"", 5)
        await response.read()
        await pool.close()
    assert heads[0].startswith(b"post /v1/x http/1.1\r\nhost: 127.0.0.1:")
    assert b"\r\naccept-encoding: identity\r\n" in heads[0]
    assert b"\r\nuser-agent: plexus\r\n" in heads[0] and b"content-length: 2\r\n" in heads[0]
    assert b"user-agent: mine\r\n" in heads[1] and b"user-agent: plexus" not in heads[1]


async def test_a_pooled_connection_that_receives_unasked_bytes_is_dropped() -> None:
    async def answer_then_chatter(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        while (request := await read_request(reader)) is not None:
            writer.write(answer(request[1]))
            await writer.drain()
            await asyncio.sleep(0.05)
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nstale")
            await writer.drain()

    await two_posts_need_two_connections(answer_then_chatter, pause=0.2)  # never "stale"


async def test_urls_with_spaces_and_non_ascii_are_escaped_and_odd_headers_refused() -> None:
    heads: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (request := await read_request(reader)) is not None:
            heads.append(request[0])
            writer.write(answer(b"ok"))
            await writer.drain()

    pool = httpclient.Pool()
    async with Server(record).running() as url:
        base = url.rsplit("/v1/x", 1)[0]
        response = await pool.request("GET", base + "/a b/ü.png?q=1 2&r=%41", {}, b"", 5)
        assert await response.read() == b"ok"
        with pytest.raises(httpclient.ConnectError, match="Latin-1"):
            await pool.request("POST", url, {"x-note": "→"}, b"", 5)
        await pool.close()
    assert heads[0].startswith(b"GET /a%20b/%C3%BC.png?q=1%202&r=%41 HTTP/1.1\r\n")
