"""`item_reference` input items on translated /v1/responses routes (issue 11 bug 8): the AI SDK's
default OpenAI provider sends earlier turns as references to the items it was given."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply, ToolCall

TOOLS: Any = [{"type": "function", "name": "get_time", "parameters": {"type": "object"}}]


async def _first_turn(client: openai.AsyncOpenAI, stream: bool) -> list[Any]:
    if not stream:
        response = await client.responses.create(model="chat-model", input="Time?", tools=TOOLS)
        return list(response.output)
    async with client.responses.stream(model="chat-model", input="Time?", tools=TOOLS) as events:
        final = await events.get_final_response()
    return list(final.output)


@pytest.mark.parametrize("stream", [False, True])
async def test_references_to_issued_items_bring_the_turns_back(
    upstreams: Upstreams, stream: bool
) -> None:
    state = upstreams.states["chat"]
    state.replies = [
        Reply(
            text="Let me look.", tool_calls=[ToolCall("get_time", {}, "call_1")], stop="tool_use"
        ),
        Reply(text="It is 10:42."),
    ]
    async with run_gateway(upstreams.config()) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        output = await _first_turn(client, stream)
        call = next(item for item in output if item.type == "function_call")
        references: Any = [{"type": "item_reference", "id": item.id} for item in output]
        second = await client.responses.create(
            model="chat-model",
            tools=TOOLS,
            input=[
                {"role": "user", "content": "Time?"},
                *references,
                {"type": "function_call_output", "call_id": call.call_id, "output": "10:42"},
            ],
        )
    assert second.output_text == "It is 10:42."
    history = state.received[-1].body["messages"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert history[1]["content"] == "Let me look."
    assert history[1]["tool_calls"][0]["id"] == "call_1"


async def test_an_unknown_reference_is_a_400_not_a_dropped_turn(upstreams: Upstreams) -> None:
    async with run_gateway(upstreams.config()) as url:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)
        with pytest.raises(openai.BadRequestError, match="msg_unknown"):
            await client.responses.create(
                model="chat-model",
                input=[
                    {"type": "item_reference", "id": "msg_unknown"},
                    {"role": "user", "content": "and?"},
                ],
            )
    assert upstreams.states["chat"].received == []


async def test_one_key_cannot_reference_anothers_items(upstreams: Upstreams) -> None:
    keys = {"alice": {"secret": "alice-secret-1"}, "bob": {"secret": "bob-secret-22"}}
    async with run_gateway(upstreams.config({"keys": keys})) as url:
        alice = openai.AsyncOpenAI(base_url=url + "/v1", api_key="alice-secret-1", max_retries=0)
        bob = openai.AsyncOpenAI(base_url=url + "/v1", api_key="bob-secret-22", max_retries=0)
        output = (await alice.responses.create(model="chat-model", input="hi")).output
        reference: Any = [{"type": "item_reference", "id": output[0].id}]
        await alice.responses.create(model="chat-model", input=reference)
        with pytest.raises(openai.BadRequestError):
            await bob.responses.create(model="chat-model", input=reference)
