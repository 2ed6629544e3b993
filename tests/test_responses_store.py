"""The Responses store (issue 12 item 7): with `responses.store` on, `previous_response_id` and
`GET/DELETE /v1/responses/{id}` work for Responses clients whatever provider type serves them."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from plexus.app import Gateway
from plexus.ledger.responses import ResponseRows, StoredResponse
from tests.conftest import Upstreams, run_gateway
from tests.mocks.base import Reply, ToolCall
from tests.mocks.messages_upstream import mock_signature

# No settling: an unknown id is a 404 at once (test_another_worker_... covers settling).
STORE: dict[str, Any] = {"responses": {"store": True, "settle_seconds": 0}}


def client(url: str, key: str = "k") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key=key, max_retries=0)


async def create(sdk: openai.AsyncOpenAI, stream: bool, **fields: Any) -> Any:
    if not stream:
        return await sdk.responses.create(**fields)
    async with sdk.responses.stream(**fields) as events:
        return await events.get_final_response()


def text_of(item: Any) -> str:
    """The text of a listed message item."""
    text: str = item.content[0].text
    return text


def history(upstreams: Upstreams, api: str) -> list[tuple[str, str]]:
    """(role, text) of each turn the provider received last, in its own format."""
    body = upstreams.states[api].received[-1].body
    if api == "gemini":
        return [(c["role"], c["parts"][0]["text"]) for c in body["contents"]]
    turns = []
    for message in body["messages"]:
        content = message["content"]
        text = content if isinstance(content, str) else content[0]["text"]
        turns.append((message["role"], text))
    return turns


EXPECTED = {
    "chat": [("user", "My name is Ada."), ("assistant", "Hello Ada."), ("user", "My name?")],
    "messages": [("user", "My name is Ada."), ("assistant", "Hello Ada."), ("user", "My name?")],
    "gemini": [("user", "My name is Ada."), ("model", "Hello Ada."), ("user", "My name?")],
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", ["chat", "messages", "gemini"])
async def test_a_conversation_continues_on_every_provider_type(
    upstreams: Upstreams, api: str, stream: bool
) -> None:
    upstreams.states[api].replies = [Reply(text="Hello Ada."), Reply(text="You are Ada.")]
    async with run_gateway(upstreams.config(STORE)) as url:
        sdk = client(url)
        model = f"{api}-model"
        first = await create(sdk, stream, model=model, input="My name is Ada.")
        assert first.store is True
        second = await create(
            sdk, stream, model=model, input="My name?", previous_response_id=first.id
        )
    assert second.output_text == "You are Ada."
    assert second.previous_response_id == first.id
    assert history(upstreams, api) == EXPECTED[api]


async def test_a_kept_response_is_retrieved_listed_and_deleted(upstreams: Upstreams) -> None:
    upstreams.states["chat"].replies = [Reply(text="Hello Ada."), Reply(text="You are Ada.")]
    async with run_gateway(upstreams.config(STORE)) as url:
        sdk = client(url)
        first = await sdk.responses.create(model="chat-model", input="My name is Ada.")
        second = await sdk.responses.create(
            model="chat-model", input="My name?", previous_response_id=first.id
        )
        fetched = await sdk.responses.retrieve(second.id)
        assert fetched.output_text == "You are Ada."
        assert fetched.previous_response_id == first.id
        listed = await sdk.responses.input_items.list(second.id, order="asc")
        texts = [text_of(item) for item in listed.data]
        assert texts == ["My name is Ada.", "Hello Ada.", "My name?"]
        newest = await sdk.responses.input_items.list(second.id, limit=1)
        assert [text_of(item) for item in newest.data] == ["My name?"]
        assert newest.has_more
        await sdk.responses.delete(first.id)
        with pytest.raises(openai.NotFoundError):
            await sdk.responses.retrieve(first.id)
        with pytest.raises(openai.NotFoundError):
            await sdk.responses.delete(first.id)
        # The chain is broken: continuing the second response is refused, not half-answered.
        with pytest.raises(openai.NotFoundError) as refused:
            await sdk.responses.create(
                model="chat-model", input="And now?", previous_response_id=second.id
            )
    assert refused.value.body["code"] == "previous_response_not_found"  # type: ignore[index]
    assert first.id in refused.value.body["message"]  # type: ignore[index]
    assert len(upstreams.states["chat"].received) == 2


@pytest.mark.parametrize("api", ["chat", "messages", "gemini"])
async def test_an_unknown_previous_response_is_a_404_with_its_param(
    upstreams: Upstreams, api: str
) -> None:
    async with run_gateway(upstreams.config(STORE)) as url:
        with pytest.raises(openai.NotFoundError) as refused:
            await client(url).responses.create(
                model=f"{api}-model", input="Hi", previous_response_id="resp_nothere"
            )
    error = refused.value.body
    assert error == {
        "message": "Previous response with id 'resp_nothere' not found.",
        "type": "invalid_request_error",
        "param": "previous_response_id",
        "code": "previous_response_not_found",
    }
    assert upstreams.states[api].received == []


async def test_a_key_cannot_see_another_keys_responses(upstreams: Upstreams) -> None:
    keys = {"alice": {"secret": "alice-secret"}, "bob": {"secret": "bob-secret"}}
    async with run_gateway(upstreams.config({**STORE, "keys": keys})) as url:
        alice, bob = client(url, "alice-secret"), client(url, "bob-secret")
        kept = await alice.responses.create(model="messages-model", input="A secret.")
        with pytest.raises(openai.NotFoundError):
            await bob.responses.retrieve(kept.id)
        with pytest.raises(openai.NotFoundError):
            await bob.responses.delete(kept.id)
        with pytest.raises(openai.NotFoundError):
            await bob.responses.input_items.list(kept.id)
        with pytest.raises(openai.NotFoundError):
            await bob.responses.create(
                model="messages-model", input="Tell me", previous_response_id=kept.id
            )
        with pytest.raises(openai.AuthenticationError):
            await client(url, "nobody").responses.retrieve(kept.id)
        assert (await alice.responses.retrieve(kept.id)).id == kept.id


async def test_store_false_keeps_nothing(upstreams: Upstreams) -> None:
    async with run_gateway(upstreams.config(STORE)) as url:
        sdk = client(url)
        answer = await sdk.responses.create(model="gemini-model", input="Hi", store=False)
        assert answer.to_dict()["store"] is False
        with pytest.raises(openai.NotFoundError):
            await sdk.responses.retrieve(answer.id)


async def test_without_the_store_a_continuation_is_refused_off_openai(
    upstreams: Upstreams,
) -> None:
    async with run_gateway(upstreams.config()) as url:
        sdk = client(url)
        answer = await sdk.responses.create(model="chat-model", input="Hi")
        assert answer.to_dict()["store"] is False  # nothing is kept: the client is told so
        with pytest.raises(openai.BadRequestError) as refused:
            await sdk.responses.create(
                model="chat-model", input="Again", previous_response_id=answer.id
            )
        with pytest.raises(openai.NotFoundError):
            await sdk.responses.retrieve(answer.id)
    assert "need a provider of type responses" in refused.value.message


async def test_a_responses_upstream_keeps_its_own_store(upstreams: Upstreams) -> None:
    # Passthrough: the id is OpenAI's, the request goes as it came, and nothing is kept here.
    async with run_gateway(upstreams.config(STORE)) as url:
        sdk = client(url)
        first = await sdk.responses.create(model="responses-model", input="My name is Ada.")
        await sdk.responses.create(
            model="responses-model", input="My name?", previous_response_id=first.id
        )
        with pytest.raises(openai.NotFoundError):
            await sdk.responses.retrieve(first.id)
    sent = upstreams.states["responses"].received[-1].body
    assert sent["previous_response_id"] == first.id
    assert sent["input"] == "My name?"


async def test_a_conversation_kept_off_openai_moves_to_a_responses_upstream(
    upstreams: Upstreams,
) -> None:
    # A stored id the upstream cannot know: the conversation is sent in full, translated.
    upstreams.states["messages"].replies = [Reply(text="Hello Ada.")]
    async with run_gateway(upstreams.config(STORE)) as url:
        sdk = client(url)
        first = await sdk.responses.create(model="messages-model", input="My name is Ada.")
        second = await sdk.responses.create(
            model="responses-model", input="My name?", previous_response_id=first.id
        )
        assert (await sdk.responses.retrieve(second.id)).previous_response_id == first.id
    sent = upstreams.states["responses"].received[-1].body
    assert "previous_response_id" not in sent
    texts = [item["content"][0]["text"] for item in sent["input"]]
    assert texts == ["My name is Ada.", "Hello Ada.", "My name?"]


TIME_TOOL: Any = [
    {"type": "function", "name": "get_time", "parameters": {"type": "object", "properties": {}}}
]


@pytest.mark.parametrize("stream", [False, True])
async def test_claudes_signed_thinking_survives_a_tool_loop_by_id(
    upstreams: Upstreams, stream: bool
) -> None:
    # Turn 2 is only the tool result: the kept turn must give Anthropic back its signed
    # thinking before the tool_use, or it refuses the request (thinking is on).
    state = upstreams.states["messages"]
    state.replies = [
        Reply(text="", reasoning="Need the clock.", tool_calls=[ToolCall("get_time", {})],
              stop="tool_use"),
        Reply(text="It is 10:42."),
    ]  # fmt: skip
    target = {"provider": "mock-messages", "model": "claude-sonnet-4-5"}
    config = upstreams.config({**STORE, "models": {"thinker": {"targets": [target]}}})
    options: Any = {"model": "thinker", "tools": TIME_TOOL, "reasoning": {"effort": "high"}}
    async with run_gateway(config) as url:
        sdk = client(url)
        first = await create(sdk, stream, input="What time is it?", **options)
        call = next(item for item in first.output if item.type == "function_call")
        result = {"type": "function_call_output", "call_id": call.call_id, "output": "10:42"}
        second = await create(sdk, stream, input=[result], previous_response_id=first.id, **options)
    assert second.output_text == "It is 10:42."
    sent = state.received[-1].body
    assert sent["thinking"]["type"] == "enabled"
    assistant = sent["messages"][1]["content"]
    assert assistant[0] == {
        "type": "thinking",
        "thinking": "Need the clock.",
        "signature": mock_signature("Need the clock."),
    }
    assert assistant[1]["type"] == "tool_use"
    assert sent["messages"][2]["content"][0]["tool_use_id"] == assistant[1]["id"]


class SlowWrites:
    """The rows of a store whose writes take `delay` seconds (a busy database)."""

    def __init__(self, rows: ResponseRows, delay: float) -> None:
        self.rows, self.delay = rows, delay

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rows, name)

    def save(self, rows: list[StoredResponse]) -> None:
        time.sleep(self.delay)
        self.rows.save(rows)


@pytest.mark.parametrize("settle", [0.0, 2.0])
async def test_another_worker_finds_a_response_still_being_written(
    upstreams: Upstreams, settle: float
) -> None:
    # Two workers on one database; the first one's write takes 0.3 s. The second worker looks
    # again for an id of the gateway's form for `settle_seconds` before answering 404.
    upstreams.states["chat"].replies = [Reply(text="Hello Ada."), Reply(text="You are Ada.")]
    config = upstreams.config({"responses": {"store": True, "settle_seconds": settle}})
    writer, other = Gateway(config), Gateway(config)
    assert writer.responses is not None
    writer.responses.rows = SlowWrites(writer.responses.rows, 0.3)
    async with run_gateway(config, writer) as first_url, run_gateway(config, other) as url:
        first = await client(first_url).responses.create(model="chat-model", input="I am Ada.")
        if not settle:
            with pytest.raises(openai.NotFoundError):
                await client(url).responses.retrieve(first.id)
            return
        second = await client(url).responses.create(
            model="chat-model", input="My name?", previous_response_id=first.id
        )
        assert (await client(url).responses.retrieve(second.id)).output_text == "You are Ada."


@pytest.mark.parametrize("stream", [False, True])
async def test_gemini_3_gets_its_thought_signature_back_through_a_kept_turn(
    upstreams: Upstreams, stream: bool
) -> None:
    state = upstreams.states["gemini"]
    state.replies = [
        Reply(
            text="", reasoning="Checking.", signature="gem-sig-1",
            tool_calls=[ToolCall("get_time", {}, "fc1")], stop="tool_use",
        ),
        Reply(text="It is 10:42."),
    ]  # fmt: skip
    target = {"provider": "mock-gemini", "model": "gemini-3-pro-preview"}
    config = upstreams.config({**STORE, "models": {"thinker": {"targets": [target]}}})
    options: Any = {"model": "thinker", "tools": TIME_TOOL, "reasoning": {"effort": "high"}}
    async with run_gateway(config) as url:
        sdk = client(url)
        first = await create(sdk, stream, input="What time is it?", **options)
        call = next(item for item in first.output if item.type == "function_call")
        result = {"type": "function_call_output", "call_id": call.call_id, "output": "10:42"}
        second = await create(sdk, stream, input=[result], previous_response_id=first.id, **options)
    assert second.output_text == "It is 10:42."
    contents = state.received[-1].body["contents"]
    assert [content["role"] for content in contents] == ["user", "model", "user"]
    calls = [part for part in contents[1]["parts"] if "functionCall" in part]
    assert calls[0]["thoughtSignature"] == "gem-sig-1"
    assert contents[2]["parts"][0]["functionResponse"]["name"] == "get_time"


OPENAI_ID = "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b"  # OpenAI's form: 48 digits


async def test_an_openai_id_never_waits_on_the_store(upstreams: Upstreams, data_dir: Path) -> None:
    # Only ids of the gateway's own form are kept here: another goes to a provider of type
    # responses untouched even while the store is down, and is unknown elsewhere at once.
    (data_dir / "usage.db").mkdir(parents=True)  # the database cannot be opened
    # A config key: with the store down, whether it holds keys is unknown, and a gateway
    # without config keys then refuses every request rather than run open.
    keys = {"me": {"secret": "k"}}
    config = upstreams.config({"keys": keys, "responses": {"store": True, "settle_seconds": 5}})
    async with run_gateway(config) as url:
        sdk = client(url)
        await sdk.responses.create(
            model="responses-model", input="Again", previous_response_id=OPENAI_ID
        )
        started = time.perf_counter()
        with pytest.raises(openai.NotFoundError):
            await sdk.responses.create(
                model="chat-model", input="Again", previous_response_id=OPENAI_ID
            )
        with pytest.raises(openai.NotFoundError):
            await sdk.responses.retrieve(OPENAI_ID)
        assert time.perf_counter() - started < 1
        with pytest.raises(openai.InternalServerError):  # one of its own: the store is down
            await sdk.responses.retrieve("resp_" + "0" * 24)
        auth = {"authorization": "Bearer k"}
        async with (
            aiohttp.ClientSession() as http,
            http.get(url + "/metrics", headers=auth) as answer,
        ):
            scraped = await answer.text()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
    }
    assert samples["plexus_responses_store_up"] == 0
    assert upstreams.states["responses"].received[-1].body["previous_response_id"] == OPENAI_ID


async def test_instructions_are_not_inherited_and_store_false_continues(
    upstreams: Upstreams,
) -> None:
    # As OpenAI: a continuation carries its own instructions only; `store: false` on it still
    # reads the kept chain, and its own answer is not kept.
    upstreams.states["chat"].replies = [Reply(text="Hello Ada."), Reply(text="You are Ada.")]
    async with run_gateway(upstreams.config(STORE)) as url:
        sdk = client(url)
        first = await sdk.responses.create(
            model="chat-model", input="My name is Ada.", instructions="Be terse."
        )
        second = await sdk.responses.create(
            model="chat-model", input="My name?", previous_response_id=first.id, store=False
        )
        with pytest.raises(openai.NotFoundError):
            await sdk.responses.retrieve(second.id)
    sent = upstreams.states["chat"].received
    assert sent[0].body["messages"][0] == {"role": "system", "content": "Be terse."}
    assert [message["role"] for message in sent[1].body["messages"]] == [
        "user",
        "assistant",
        "user",
    ]
