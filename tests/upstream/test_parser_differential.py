"""Differential fuzzing of the client's answer parsing against h11 (issue 10): the same bytes,
split anywhere, give the same answer (status, head, body) or both a refusal."""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plexus.upstream.httpclient.connection import Connection
from plexus.upstream.httpclient.errors import TransportError

Outcome = tuple[int, dict[str, str], bytes] | None  # None: refused

_NAMES = st.sampled_from(["x-a", "X-B", "content-type", "x-request-id", "Set-Cookie", "x-a"])
_VALUES = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=12)
_BODY = st.binary(max_size=300)


class _Transport:
    """Stands in for a socket: nothing to write to, reading always on."""

    def write(self, data: bytes) -> None:
        pass

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


@st.composite
def answers(draw: st.DrawFn) -> tuple[bytes, str]:
    """Mostly valid HTTP/1.1 answers, some with the defects servers (and attackers) send."""
    status = draw(st.sampled_from([200, 200, 200, 201, 204, 304, 400, 404, 429, 500, 503]))
    headers = draw(st.lists(st.tuples(_NAMES, _VALUES), max_size=6))
    body = draw(_BODY)
    framings = ["length", "chunked", "close", "bad-length", "bad-chunk", "cut-chunk"]
    framing = draw(st.sampled_from(framings))
    encoding = draw(st.sampled_from(["chunked", "Chunked", "CHUNKED"]))
    lines = [f"HTTP/1.1 {status} Reason\r\n".encode()]
    lines += [f"{name}: {value}\r\n".encode() for name, value in headers]
    if status in (204, 304):
        framing, body = "length", b""
    if framing in ("length", "bad-length"):
        declared = len(body) + (draw(st.integers(1, 5)) if framing == "bad-length" else 0)
        lines.append(b"content-length: %d\r\n" % declared)
        payload = body
    elif framing in ("chunked", "bad-chunk", "cut-chunk"):
        lines.append(f"transfer-encoding: {encoding}\r\n".encode())
        payload = _chunked(body, draw(st.integers(1, 64)), end=framing)
    else:
        lines.append(b"connection: close\r\n")
        payload = body
    quirk = draw(st.sampled_from(["none", "none", "none", *sorted(_QUIRKS)]))
    lines += _QUIRKS[quirk]
    return b"".join(lines) + b"\r\n" + payload, quirk


# Where parsers have disagreed dangerously (smuggling, header injection): both must refuse.
_QUIRKS: dict[str, list[bytes]] = {
    "none": [],
    "two-lengths": [b"content-length: 1\r\n", b"content-length: 2\r\n"],
    "length-and-chunked": [b"content-length: 3\r\n", b"transfer-encoding: chunked\r\n"],
    "space-before-colon": [b"x-odd : v\r\n"],
    "obs-fold": [b"x-folded: a\r\n  b\r\n"],
    "bare-lf": [b"x-bare: v\n"],
    "nul": [b"x-nul: a\x00b\r\n"],
}
# Refusals stricter than h11, on purpose (llhttp strict mode): RFC 9112 2.2 lets a recipient
# take a bare LF as a line end, and 5.2 has a user agent unfold obs-fold in an answer; no
# provider sends either, and accepting them is where parsers have been tricked.
_STRICTER_IS_FINE = frozenset({"bare-lf", "obs-fold"})


def _chunked(body: bytes, size: int, *, end: str) -> bytes:
    """Chunks of `size`, then the last chunk; or a bad size line; or nothing (cut short)."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
             for i in range(0, len(body), size)]  # fmt: skip
    last = {"chunked": b"0\r\n\r\n", "bad-chunk": b"zz\r\n", "cut-chunk": b""}[end]
    return b"".join(parts) + last


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return [piece for piece in pieces if piece]


async def ours(pieces: list[bytes]) -> Outcome:
    """What the client's Connection makes of the bytes, then the server's close."""
    connection = Connection(("http", "h", 80, None, None), lambda c: None, lambda c: None)
    connection.connection_made(_Transport())  # type: ignore[arg-type]
    connection.send(b"")
    body = b""
    for piece in pieces:
        connection.data_received(piece)
        body += connection.take()
        if connection.error is not None:
            return None
        if connection.done:
            break
    if not connection.done:
        connection.connection_lost(None)
        body += connection.take()
    if connection.error is not None or not connection.done:
        return None
    return connection.status, dict(connection.headers), body


def theirs(pieces: list[bytes]) -> Outcome:
    """What h11 makes of the same bytes."""
    client = h11.Connection(h11.CLIENT)
    client.send(
        h11.Request(method="POST", target="/", headers=[("host", "h"), ("content-length", "0")])
    )
    client.send(h11.EndOfMessage())
    status, headers, body = 0, {}, b""
    try:
        for piece in [*pieces, b""]:  # b"": the server closed
            client.receive_data(piece)
            while True:
                event: Any = client.next_event()
                if event is h11.NEED_DATA or event is h11.PAUSED:
                    break
                if isinstance(event, h11.Response):
                    status = event.status_code
                    headers = _joined(event.headers)
                elif isinstance(event, h11.Data):
                    body += bytes(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    return status, headers, body
                elif isinstance(event, h11.ConnectionClosed):
                    return None
    except h11.RemoteProtocolError:
        return None
    return None


def _joined(raw: Any) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in raw:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        joined[key] = f"{joined[key]}, {text}" if key in joined else text
    return joined


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answers(), st.lists(st.integers(0, 2000), max_size=8))
def test_the_client_reads_answers_as_h11_does(answer: tuple[bytes, str], cuts: list[int]) -> None:
    raw, quirk = answer
    pieces = _split(raw, cuts)
    try:
        mine = _LOOP.run_until_complete(ours(pieces))
    except TransportError:
        mine = None
    if mine is None and quirk in _STRICTER_IS_FINE:
        return
    assert _normal(mine) == _normal(theirs(pieces))


def _normal(outcome: Outcome) -> Outcome:
    """h11 lower-cases the transfer coding's name; the client keeps what the server sent."""
    if outcome is None or "transfer-encoding" not in outcome[1]:
        return outcome
    status, headers, body = outcome
    return status, headers | {"transfer-encoding": headers["transfer-encoding"].lower()}, body


_LOOP = asyncio.new_event_loop()  # the Connection reads the loop's clock
