"""A server tool's turn that pauses (Anthropic `pause_turn`, issue 11): every client gets a
finish it understands, a Messages client `pause_turn` itself, and the reason round-trips."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
import pytest

from plexus import ir
from plexus.ir import ApiType
from plexus.protocols import CODECS, chat, responses
from tests.protocols.cases import ANTHROPIC_SEARCH

PAUSED = ir.Response(
    id="msg_1",
    model="m",
    content=[ir.TextBlock("Searching."), ANTHROPIC_SEARCH[0]],
    stop_reason="pause",
    raw_stop_reason="pause_turn",
)


def _finish(api: ApiType, body: dict[str, Any]) -> Any:
    match api:
        case "chat":
            return body["choices"][0]["finish_reason"]
        case "messages":
            return body["stop_reason"]
        case "responses":
            return body["status"], body["incomplete_details"]
        case _:
            return body["candidates"][0]["finishReason"]


@pytest.mark.parametrize(
    ("api", "finish"),
    [
        ("chat", "stop"),
        ("messages", "pause_turn"),
        ("responses", ("incomplete", {"reason": "pause_turn"})),
        ("gemini", "STOP"),
    ],
)
def test_a_paused_turn_finishes_as_each_api_can_say_it(api: ApiType, finish: Any) -> None:
    body = CODECS[api].encode_response(PAUSED, ir.Request(model="m", messages=[]))
    assert _finish(api, json.loads(body)) == finish


def test_the_pause_comes_back_from_the_reasons_the_gateway_gives() -> None:
    assert chat.map_stop_reason("pause_turn") == "pause"
    body = {"id": "resp_1", "status": "incomplete", "incomplete_details": {"reason": "pause_turn"}}
    response = responses.decode_response(json.dumps({**body, "output": []}).encode())
    assert (response.stop_reason, response.raw_stop_reason) == ("pause", "pause_turn")


def test_the_openai_sdk_reads_a_paused_response() -> None:
    body = responses.encode_response(PAUSED, ir.Request(model="m", messages=[]))

    def answer(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=body, headers={"content-type": "application/json"})

    http_client = httpx2.Client(transport=httpx2.MockTransport(answer))
    client = openai.OpenAI(api_key="k", base_url="http://plexus.test/v1", http_client=http_client)
    paused = client.responses.create(model="m", input="hi")
    assert paused.status == "incomplete" and paused.incomplete_details is not None
    assert paused.incomplete_details.reason == "pause_turn"  # type: ignore[comparison-overlap]
    assert paused.output_text == "Searching."
