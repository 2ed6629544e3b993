"""Same-API pairs through the official SDKs: the body passes with only the model replaced."""

from __future__ import annotations

import anthropic
import openai
import pytest
import structlog.testing

from plexus.passthrough import _UsageHidingRelay
from plexus.protocols import codec_for
from tests.conftest import Upstreams, seed
from tests.mocks.base import Reply, ToolCall


def openai_client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key="gw-key", max_retries=0)


def anthropic_client(url: str) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=url, api_key="gw-key", max_retries=0)


async def test_chat_basic(gateway: str, upstreams: Upstreams) -> None:
    body = seed("chat/basic.json") | {"model": "chat-model", "logit_bias": {"50256": -100}}
    completion = await openai_client(gateway).chat.completions.create(**body)
    assert completion.choices[0].message.content == "Hello from the mock."
    received = upstreams.states["chat"].received[-1]
    assert received.body["model"] == "up-chat"
    assert received.body["logit_bias"] == {"50256": -100}  # a field Plexus does not model survives
    assert {k.lower(): v for k, v in received.headers.items()}[
        "authorization"
    ] == "Bearer upstream-key"
    assert received.path == "/v1/chat/completions"


async def test_chat_stream_with_tools(gateway: str, upstreams: Upstreams) -> None:
    upstreams.states["chat"].reply = Reply(
        text="", tool_calls=[ToolCall("get_current_weather", {"location": "Boston, MA"})]
    )
    body = seed("chat/tools-stream.json") | {"model": "chat-model"}
    body.pop("stream")
    async with openai_client(gateway).chat.completions.stream(**body) as stream:
        final = await stream.get_final_completion()
    call = final.choices[0].message.tool_calls
    assert call is not None and call[0].function.name == "get_current_weather"
    assert call[0].function.arguments.replace(" ", "") == '{"location":"Boston,MA"}'
    assert upstreams.states["chat"].received[-1].body["stream"] is True


async def test_messages_basic_with_beta_query(gateway: str, upstreams: Upstreams) -> None:
    body = seed("messages/basic.json") | {"model": "messages-model"}
    message = await anthropic_client(gateway).beta.messages.create(**body)
    assert message.content[0].type == "text"
    assert message.content[0].text == "Hello from the mock."
    received = upstreams.states["messages"].received[-1]
    assert received.body["model"] == "up-messages"
    assert {k.lower(): v for k, v in received.headers.items()}["x-api-key"] == "upstream-key"
    assert "anthropic-version" in received.headers


async def test_messages_stream(gateway: str, upstreams: Upstreams) -> None:
    upstreams.states["messages"].reply = Reply(text="Streamed answer.", reasoning="", signature="")
    body = seed("messages/basic-stream.json") | {"model": "messages-model"}
    body.pop("stream")
    async with anthropic_client(gateway).messages.stream(**body) as stream:
        final = await stream.get_final_message()
    assert final.content[0].type == "text" and final.content[0].text == "Streamed answer."
    assert final.usage.output_tokens == 7


async def test_responses_basic_and_stream(gateway: str, upstreams: Upstreams) -> None:
    client = openai_client(gateway)
    response = await client.responses.create(
        model="responses-model", input="Say hello", max_output_tokens=100
    )
    assert response.output_text == "Hello from the mock."
    assert upstreams.states["responses"].received[-1].body["model"] == "up-responses"
    async with client.responses.stream(model="responses-model", input="Say hello") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "Hello from the mock."
    assert final.usage is not None and final.usage.output_tokens == 7


async def test_upstream_error_is_relayed_with_its_status(
    gateway: str, upstreams: Upstreams
) -> None:
    upstreams.states["chat"].reply = Reply(error_status=400, error_message="bad thing upstream")
    try:
        await openai_client(gateway).chat.completions.create(
            model="chat-model", messages=[{"role": "user", "content": "hi"}]
        )
    except openai.BadRequestError as error:
        assert "bad thing upstream" in str(error)
    else:
        raise AssertionError("expected a 400")


async def test_passthrough_streams_still_log_usage(gateway: str, upstreams: Upstreams) -> None:
    # The gateway keeps only the tail of a relayed stream and reads its usage at the end.
    upstreams.states["messages"].reply = Reply(text="word " * 3000)
    with structlog.testing.capture_logs() as logs:
        async with anthropic_client(gateway).messages.stream(
            model="messages-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            await stream.get_final_message()
    (line,) = [entry for entry in logs if entry["event"] == "request"]
    assert line["usage"]["output_tokens"] == 7 and line["stream"] is True


@pytest.mark.parametrize("separator", [b"\n\n", b"\r\n\r\n"])
@pytest.mark.parametrize("size", [1, 7, 64, 10_000])
def test_usage_the_client_did_not_ask_for_is_hidden_in_any_chunking(
    separator: bytes, size: int
) -> None:
    events = [
        b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"hi"}}],"usage":null}',
        b'data: {"id":"c","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2}}',
        b"data: [DONE]",
    ]
    stream = b"".join(event + separator for event in events)
    relay = _UsageHidingRelay(codec_for("chat"))
    out = b"".join(relay.feed(stream[i : i + size]) for i in range(0, len(stream), size))
    out += relay.finish()
    assert out == events[0] + separator + events[2] + separator
    assert relay.usage is not None and relay.usage.output_tokens == 2
