"""A translated stream sends its first frames as soon as they exist, not after the whole first
upstream read (a fast upstream can deliver a whole answer in one read)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from plexus.app import Gateway
from plexus.config import parse_config
from tests.conftest import asgi_post, serve_app


def _anthropic_stream() -> bytes:
    events: list[tuple[str, dict[str, Any]]] = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-x",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 5, "output_tokens": 1},
                },
            },
        ),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    for word in ("one ", "two ", "three"):
        delta = {"type": "text_delta", "text": word}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 3},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(
        f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events
    )


async def _whole_answer_at_once(request: web.Request) -> web.StreamResponse:
    await request.read()
    response = web.StreamResponse(headers={"content-type": "text/event-stream"})
    await response.prepare(request)
    await response.write(_anthropic_stream())  # one write: one read on the gateway's side
    await response.write_eof()
    return response


async def test_first_frames_go_out_before_the_rest_of_the_first_read() -> None:
    app = web.Application()
    app.router.add_post("/v1/messages", _whole_answer_at_once)
    async with serve_app(app) as upstream:
        config = parse_config(
            {
                "providers": {
                    "up": {"type": "messages", "api_base_url": upstream + "/v1", "api_key": "k"}
                },
                "models": {"m": {"targets": [{"provider": "up", "model": "claude-x"}]}},
            }
        )
        gateway = Gateway(config)
        await gateway.upstream.start()
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        answer = await asgi_post(gateway, "/v1/chat/completions", json.dumps(body).encode())
        await gateway.upstream.close()
    bodies = answer.bodies
    assert b"one" not in bodies[0]  # the role chunk went out alone
    text = b"".join(bodies).decode()
    assert "one " in text and "three" in text and text.rstrip().endswith("data: [DONE]")
