"""The bare forwarder with pyreqwest (a Rust HTTP client) for the upstream call, for
``stack_probe.py`` only: the same app as ``bare_forwarder.py`` otherwise.

Streams are read with ``read_chunk()`` (one HTTP chunk per call): ``read(n)`` waits until ``n``
bytes arrived, which would hold a slow stream's events back until the end.
"""

from __future__ import annotations

import bare_forwarder as bare
from pyreqwest.client import Client, ClientBuilder

_client: Client | None = None


def client() -> Client:
    global _client
    if _client is None:
        _client = ClientBuilder().max_connections(None).build()
    return _client


async def app(scope: bare.Scope, receive: bare.Receive, send: bare.Send) -> None:
    url = bare.ROUTES.get(scope.get("path", "")) if scope["type"] == "http" else None
    if url is None or scope["method"] != "POST":
        await bare.app(scope, receive, send)
        return
    req, alias = await bare.read_request(receive)
    request = client().post(url).headers(bare.UP_HEADERS).body_bytes(bare.ENC.encode(req))
    if req.get("stream") is not True:
        response = await request.build().send()
        data = bytes(await response.bytes())
        if response.status == 200:
            obj = bare.DEC.decode(data)
            obj["model"] = alias
            data = bare.ENC.encode(obj)
        await bare._simple(send, response.status, data)
        return
    async with request.build_streamed() as response:
        await send({"type": "http.response.start", "status": 200, "headers": bare.SSE_HEADERS})
        buf = b""
        while (chunk := await response.body_reader.read_chunk()) is not None:
            buf += bytes(chunk)
            cut = buf.rfind(b"\n\n")
            if cut < 0:
                continue
            block, buf = buf[: cut + 2], buf[cut + 2 :]
            body = bare._reencode_events(block)
            await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
