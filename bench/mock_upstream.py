"""A fast mock LLM upstream for the benchmark (its own process; raw asyncio + uvloop).

It speaks the four provider protocols with prebuilt response bytes (``mock_payloads.py``):

- ``POST {/v1}/chat/completions``            OpenAI Chat Completions (JSON, or chunks + ``[DONE]``)
- ``POST {/v1}/messages``                    Anthropic Messages (JSON, or the named SSE events)
- ``POST {/v1}/responses``                   OpenAI Responses (JSON, or ``response.*`` SSE events)
- ``POST {/v1beta}/models/{m}:generateContent`` and ``:streamGenerateContent?alt=sse``  Gemini

Streaming is chosen by ``"stream": true`` in the body (Gemini: by the path; its events are
CRLF-framed SSE, as the real API sends them, with or without ``alt=sse``). The *upstream model
name* tunes the answer, so that one mock serves every scenario: ``m`` is the default (50 events),
``m-e300`` asks for 300 content events, ``m-d20`` for 20 ms between events, ``m-l5`` for 5 ms of
latency before the response headers; they combine (``m-e100-d20``). The non-streaming answer text is
~1 KB. A fixed latency for every request can also be given on the command line.

Usage: ``python bench/mock_upstream.py --port 0 [--latency-ms X] [--event-delay-ms Y]``; it prints
``READY <port>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from mock_payloads import full_body, stream_events

_MODEL_RE = re.compile(rb'"model"\s*:\s*"([^"]*)"')
_STREAM_RE = re.compile(rb'"stream"\s*:\s*true')
_OPT_RE = re.compile(r"-([eld])(\d+)")


@dataclass(frozen=True, slots=True)
class Variant:
    events: int = 50
    delay_ms: float = 0.0
    latency_ms: float = 0.0


def parse_variant(model: str, default_latency: float, default_delay: float) -> Variant:
    opts = {k: int(v) for k, v in _OPT_RE.findall(model)}
    return Variant(
        events=max(1, opts.get("e", 50)),
        delay_ms=float(opts.get("d", default_delay)),
        latency_ms=float(opts.get("l", default_latency)),
    )


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


JSON_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-request-id: req_bench\r\n"
    b"content-length: %d\r\n\r\n"
)
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"x-request-id: req_bench\r\ntransfer-encoding: chunked\r\n\r\n"
)
NOT_FOUND = (
    b"HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\ncontent-length: 21\r\n\r\n"
    b'{"error":"not found"}'
)
OK_HEALTH = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


class Store:
    """Prebuilt responses, cached by (protocol, stream, model)."""

    def __init__(self, default_latency: float, default_delay: float) -> None:
        self.default_latency = default_latency
        self.default_delay = default_delay
        self._full: dict[tuple[str, str], bytes] = {}
        self._stream: dict[tuple[str, str], tuple[bytes, list[bytes]]] = {}
        self._variants: dict[str, Variant] = {}
        self.requests = 0

    def variant(self, model: str) -> Variant:
        v = self._variants.get(model)
        if v is None:
            v = self._variants[model] = parse_variant(
                model, self.default_latency, self.default_delay
            )
        return v

    def full(self, proto: str, model: str) -> bytes:
        key = (proto, model)
        r = self._full.get(key)
        if r is None:
            body = full_body(proto, model)
            r = self._full[key] = JSON_HEAD % len(body) + body
        return r

    def stream(self, proto: str, model: str) -> tuple[bytes, list[bytes]]:
        """(all at once: head + every event chunk + terminator, per-event chunks)."""
        key = (proto, model)
        r = self._stream.get(key)
        if r is None:
            evs = [_chunk(e) for e in stream_events(proto, model, self.variant(model).events)]
            r = self._stream[key] = (SSE_HEAD + b"".join(evs) + b"0\r\n\r\n", evs)
        return r


class Ticker:
    """One timer per event delay that advances every slow stream by one event (cheap for 1000s)."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.streams: dict[
            int, tuple[asyncio.Transport, list[bytes], list[int], Callable[[], None]]
        ] = {}
        self._next_id = 0
        self._task: asyncio.Task[None] | None = None

    def add(self, tr: asyncio.Transport, evs: list[bytes], done: Callable[[], None]) -> None:
        self._next_id += 1
        self.streams[self._next_id] = (tr, evs, [0], done)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        t = loop.time()
        while self.streams:
            t += self.delay_s
            await asyncio.sleep(max(0.0, t - loop.time()))
            finished = []
            for sid, (tr, evs, pos, done) in self.streams.items():
                if tr.is_closing():
                    finished.append(sid)
                    continue
                i = pos[0]
                if i < len(evs):
                    tr.write(evs[i])
                    pos[0] = i + 1
                if pos[0] >= len(evs):
                    tr.write(b"0\r\n\r\n")
                    finished.append(sid)
                    done()
            for sid in finished:
                del self.streams[sid]


class MockProtocol(asyncio.Protocol):
    def __init__(self, server: MockServer) -> None:
        self.server = server
        self.buf = b""
        self.tr: asyncio.Transport | None = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.tr = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        while not self.busy:
            buf = self.buf
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = buf[:end]
            line_end = head.find(b"\r\n")
            reqline = head[: line_end if line_end >= 0 else len(head)]
            lower = head.lower()
            clen = 0
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                j = lower.find(b"\r\n", i + 2)
                clen = int(lower[i + 17 : j if j >= 0 else len(lower)])
            body_start = end + 4
            if b"\r\ntransfer-encoding: chunked" in lower:
                body, consumed = _dechunk(buf, body_start)
                if body is None:
                    return
                self.buf = buf[consumed:]
            else:
                if len(buf) < body_start + clen:
                    return
                body = buf[body_start : body_start + clen]
                self.buf = buf[body_start + clen :]
            self._handle(reqline, body)

    def _handle(self, reqline: bytes, body: bytes) -> None:
        tr = self.tr
        assert tr is not None
        srv = self.server
        srv.store.requests += 1
        parts = reqline.split(b" ")
        path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
        if parts[0] == b"GET":
            tr.write(OK_HEALTH)
            return
        route = path.split("?", 1)[0]
        stream = False
        if route == "/v1/traces":  # Plexus's OTLP exporter: taken, not read
            tr.write(OK_HEALTH)
            return
        if route.endswith("/chat/completions"):
            proto = "chat"
        elif route.endswith("/messages"):
            proto = "messages"
        elif route.endswith("/responses"):
            proto = "responses"
        elif ":generateContent" in route or ":streamGenerateContent" in route:
            proto = "gemini"
            stream = ":streamGenerateContent" in route
        else:
            tr.write(NOT_FOUND)
            return
        if proto == "gemini":
            model = route.rsplit("/", 1)[-1].split(":", 1)[0]
        else:
            m = _MODEL_RE.search(body)
            model = m.group(1).decode() if m else "m"
            stream = _STREAM_RE.search(body) is not None
        v = srv.store.variant(model)
        if v.latency_ms <= 0 and (not stream or v.delay_ms <= 0):
            tr.write(srv.store.stream(proto, model)[0] if stream else srv.store.full(proto, model))
            return
        # Slow path: hold further requests on this connection until this one is answered.
        self.busy = True
        asyncio.get_running_loop().create_task(self._slow(proto, model, stream, v))

    async def _slow(self, proto: str, model: str, stream: bool, v: Variant) -> None:
        tr = self.tr
        assert tr is not None
        if v.latency_ms > 0:
            await asyncio.sleep(v.latency_ms / 1000)
        if tr.is_closing():
            return
        if not stream:
            tr.write(self.server.store.full(proto, model))
            self._done()
            return
        allbytes, evs = self.server.store.stream(proto, model)
        if v.delay_ms <= 0:
            tr.write(allbytes)
            self._done()
            return
        tr.write(SSE_HEAD)
        self.server.ticker(v.delay_ms).add(tr, evs, self._done)

    def _done(self) -> None:
        self.busy = False
        if self.buf:
            self._process()


def _dechunk(buf: bytes, pos: int) -> tuple[bytes | None, int]:
    out: list[bytes] = []
    while True:
        j = buf.find(b"\r\n", pos)
        if j < 0:
            return None, 0
        size = int(buf[pos:j].split(b";", 1)[0], 16)
        start = j + 2
        if size == 0:
            k = buf.find(b"\r\n", start)
            if k < 0:
                return None, 0
            return b"".join(out), k + 2
        if len(buf) < start + size + 2:
            return None, 0
        out.append(buf[start : start + size])
        pos = start + size + 2


class MockServer:
    def __init__(self, latency_ms: float, event_delay_ms: float) -> None:
        self.store = Store(latency_ms, event_delay_ms)
        self._tickers: dict[float, Ticker] = {}

    def ticker(self, delay_ms: float) -> Ticker:
        t = self._tickers.get(delay_ms)
        if t is None:
            t = self._tickers[delay_ms] = Ticker(delay_ms / 1000)
        return t


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    del soft


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        return None
    return uvloop.new_event_loop


async def serve(host: str, port: int, latency_ms: float, event_delay_ms: float) -> None:
    srv = MockServer(latency_ms, event_delay_ms)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: MockProtocol(srv), host, port, backlog=4096)
    real_port = server.sockets[0].getsockname()[1]
    print(f"READY {real_port}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=float, default=0.0, help="fixed latency per request")
    ap.add_argument("--event-delay-ms", type=float, default=0.0, help="fixed delay per event")
    args = ap.parse_args(argv)
    _raise_nofile()
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=loop_factory()) as r:
        r.run(serve(args.host, args.port, args.latency_ms, args.event_delay_ms))
    sys.exit(0)


if __name__ == "__main__":
    main()
