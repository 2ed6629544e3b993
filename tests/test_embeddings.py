"""`POST /v1/embeddings` through the official openai SDK (issue 11): passed through to chat
providers, translated to Gemini's embedContent and batchEmbedContents, refused for the others,
routed and failed over like generation."""

from __future__ import annotations

import array
import base64
from typing import Any

import openai
import pytest
import structlog.testing

from tests.conftest import Upstreams, extra_mock, run_gateway
from tests.mocks.base import MockState, Reply, mock_vector


def client(url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=url + "/v1", api_key="k", max_retries=0)


def decoded(value: Any) -> list[float]:
    assert isinstance(value, str)
    return array.array("f", base64.b64decode(value)).tolist()


def provider(upstreams: Upstreams, api: str, **options: Any) -> dict[str, Any]:
    base = {"type": api, "api_base_url": upstreams.base_url(api), "api_key": "upstream-key"}
    return base | options


# --- chat: passed through ----------------------------------------------------------------------


async def test_chat_passes_a_text_through(gateway: str, upstreams: Upstreams) -> None:
    answer = await client(gateway).embeddings.create(model="chat-model", input="hello")
    # The SDK asked for base64 (its default) and decoded what the provider wrote.
    assert answer.data[0].embedding == mock_vector("hello")
    assert answer.model == "up-chat" and answer.usage.prompt_tokens == 11
    received = upstreams.states["chat"].received[-1]
    assert received.path == "/v1/embeddings"
    assert received.body == {"model": "up-chat", "input": "hello", "encoding_format": "base64"}


async def test_chat_passes_lists_dimensions_and_token_inputs_through(
    gateway: str, upstreams: Upstreams
) -> None:
    texts = await client(gateway).embeddings.create(
        model="chat-model", input=["a", "b"], dimensions=4, encoding_format="float"
    )
    assert [item.embedding for item in texts.data] == [mock_vector("a", 4), mock_vector("b", 4)]
    tokens = await client(gateway).embeddings.create(
        model="chat-model", input=[[1, 2], [3]], encoding_format="base64"
    )
    assert [decoded(item.embedding) for item in tokens.data] == [
        mock_vector("1,2"),
        mock_vector("3"),
    ]


async def test_generation_quirks_stay_out_of_embeddings(upstreams: Upstreams) -> None:
    # extra_body and the adapter shape chat completions; OpenAI refuses unknown fields.
    options = {"extra_body": {"reasoning_effort": "low"}, "adapter": "openrouter"}
    config = upstreams.config({"providers": {"mock-chat": provider(upstreams, "chat", **options)}})
    async with run_gateway(config) as url:
        answer = await client(url).embeddings.create(model="chat-model", input="x")
    assert answer.data[0].embedding == mock_vector("x")


async def test_without_passthrough_the_gateway_writes_base64(upstreams: Upstreams) -> None:
    # For an OpenAI-compatible server that cannot write base64: floats asked, base64 written.
    chat = provider(upstreams, "chat", passthrough=False)
    async with run_gateway(upstreams.config({"providers": {"mock-chat": chat}})) as url:
        answer = await client(url).embeddings.create(model="chat-model", input=["a", "b"])
    assert [item.embedding for item in answer.data] == [mock_vector("a"), mock_vector("b")]
    sent = upstreams.states["chat"].received[-1].body
    assert sent == {"model": "up-chat", "input": ["a", "b"], "encoding_format": "float"}


# --- gemini: translated ------------------------------------------------------------------------


async def test_gemini_embeds_one_input_with_embed_content(
    gateway: str, upstreams: Upstreams
) -> None:
    answer = await client(gateway).embeddings.create(
        model="gemini-model", input="hello", dimensions=4, encoding_format="float", user="u"
    )
    assert answer.object == "list" and answer.model == "up-gemini"
    assert [(item.object, item.index) for item in answer.data] == [("embedding", 0)]
    assert answer.data[0].embedding == mock_vector("hello", 4)
    assert (answer.usage.prompt_tokens, answer.usage.total_tokens) == (11, 11)
    received = upstreams.states["gemini"].received[-1]
    assert received.path == "/v1beta/models/up-gemini:embedContent"
    assert received.body == {
        "model": "models/up-gemini",
        "content": {"parts": [{"text": "hello"}]},
        "outputDimensionality": 4,
    }


async def test_gemini_embeds_a_list_with_batch_embed_contents(
    gateway: str, upstreams: Upstreams
) -> None:
    answer = await client(gateway).embeddings.create(model="gemini-model", input=["a", "b", "c"])
    # The SDK asked for base64: the gateway wrote it, the SDK decoded it.
    assert [item.embedding for item in answer.data] == [mock_vector(t) for t in "abc"]
    assert [item.index for item in answer.data] == [0, 1, 2]
    received = upstreams.states["gemini"].received[-1]
    assert received.path == "/v1beta/models/up-gemini:batchEmbedContents"
    assert [request["content"] for request in received.body["requests"]] == [
        {"parts": [{"text": t}]} for t in "abc"
    ]


async def test_gemini_base64_asked_explicitly_is_float32_little_endian(gateway: str) -> None:
    answer = await client(gateway).embeddings.create(
        model="gemini-model", input=["a"], encoding_format="base64"
    )
    assert decoded(answer.data[0].embedding) == mock_vector("a")


async def test_gemini_refuses_token_inputs_before_calling_it(
    gateway: str, upstreams: Upstreams
) -> None:
    with pytest.raises(openai.BadRequestError, match="text only") as caught:
        await client(gateway).embeddings.create(model="gemini-model", input=[1, 2, 3])
    assert caught.value.type == "invalid_request_error"
    assert upstreams.states["gemini"].received == []


async def test_geminis_own_refusal_reaches_the_client(gateway: str) -> None:
    with pytest.raises(openai.BadRequestError, match="output_dimensionality"):
        await client(gateway).embeddings.create(model="gemini-model", input="x", dimensions=9999)


# --- refusals, routing, the log ------------------------------------------------------------------


@pytest.mark.parametrize("api", ["messages", "responses"])
async def test_a_provider_type_without_embeddings_gets_a_400(
    gateway: str, upstreams: Upstreams, api: str
) -> None:
    with pytest.raises(openai.BadRequestError, match="cannot create embeddings") as caught:
        await client(gateway).embeddings.create(model=f"{api}-model", input="x")
    body = caught.value.body
    assert isinstance(body, dict) and body["type"] == "invalid_request_error"
    assert upstreams.states[api].received == []


async def test_vertex_is_refused(upstreams: Upstreams) -> None:
    vertex = {
        "vertex": {"project": "p", "location": "us-central1"},
        "api_key": "token",
        "models": ["text-embedding-005"],
    }
    async with run_gateway(upstreams.config({"providers": {"v": vertex}})) as url:
        with pytest.raises(openai.BadRequestError, match="Vertex AI"):
            await client(url).embeddings.create(model="v/text-embedding-005", input="x")


async def test_stream_is_refused(gateway: str) -> None:
    body = {"model": "chat-model", "input": "x", "stream": True}
    with pytest.raises(openai.BadRequestError, match="stream"):
        await client(gateway).post("/embeddings", body=body, cast_to=object)


async def test_an_alias_fails_over_and_skips_targets_without_embeddings(
    upstreams: Upstreams,
) -> None:
    failing = MockState(reply=Reply(error_status=503, error_message="overloaded"))
    async with extra_mock("chat", failing) as failing_url:
        providers = {
            "claude": provider(upstreams, "messages"),
            "busy": {"type": "chat", "api_base_url": failing_url, "api_key": "upstream-key"},
            "google": provider(upstreams, "gemini"),
        }
        targets = [{"provider": name, "model": f"m-{name}"} for name in providers]
        alias = {"embed": {"selector": "in_order", "targets": targets}}
        config = upstreams.config({"providers": providers, "models": alias})
        async with run_gateway(config) as url:
            with structlog.testing.capture_logs() as logs:
                answer = await client(url).embeddings.create(model="embed", input="x")
    assert answer.data[0].embedding == mock_vector("x") and answer.model == "m-google"
    assert len(failing.received) == 1 and upstreams.states["messages"].received == []
    (line,) = [entry for entry in logs if entry["event"] == "request"]
    assert line["provider"] == "google" and line["attempts"] == 3
    assert line["operation"] == "embeddings" and line["usage"]["input_tokens"] == 11


async def test_passthrough_usage_is_logged(gateway: str) -> None:
    with structlog.testing.capture_logs() as logs:
        await client(gateway).embeddings.create(model="chat-model", input="x")
    (line,) = [entry for entry in logs if entry["event"] == "request"]
    assert line["usage"]["input_tokens"] == 11 and line["status"] == 200
