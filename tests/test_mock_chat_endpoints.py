"""The OpenAI mock's embeddings and legacy completions validate as OpenAI does, and the official
openai SDK reads their answers (tests/mocks/chat_endpoints.py)."""

from __future__ import annotations

import array
import base64
from collections.abc import AsyncIterator

import openai
import pytest

from tests.mocks.base import MockState, Reply, mock_vector
from tests.mocks.chat_upstream import served


@pytest.fixture
async def mock() -> AsyncIterator[tuple[MockState, openai.AsyncOpenAI]]:
    state = MockState()
    async with served(state) as client:
        yield state, client


async def test_sdk_reads_embeddings_it_asked_as_base64_by_default(
    mock: tuple[MockState, openai.AsyncOpenAI],
) -> None:
    state, client = mock
    answer = await client.embeddings.create(model="e", input=["a", "b"], dimensions=4)
    assert [item.embedding for item in answer.data] == [mock_vector("a", 4), mock_vector("b", 4)]
    assert answer.usage.prompt_tokens == 11
    assert state.received[-1].body["encoding_format"] == "base64"  # the SDK's default


async def test_embeddings_as_floats_and_as_explicit_base64(
    mock: tuple[MockState, openai.AsyncOpenAI],
) -> None:
    _, client = mock
    floats = await client.embeddings.create(model="e", input="a", encoding_format="float")
    assert floats.data[0].embedding == mock_vector("a")
    encoded = await client.embeddings.create(model="e", input=[1, 2], encoding_format="base64")
    raw = encoded.data[0].embedding
    assert isinstance(raw, str)  # asked explicitly: the SDK leaves it as sent
    assert array.array("f", base64.b64decode(raw)).tolist() == mock_vector("1,2")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"input": "a", "extra": 1}, "Unrecognized request argument supplied: extra"),
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": "a", "encoding_format": "int8"}, "encoding_format"),
        ({"input": "a", "dimensions": 0}, "dimensions"),
    ],
)
async def test_embeddings_are_validated(
    mock: tuple[MockState, openai.AsyncOpenAI], body: dict[str, object], message: str
) -> None:
    _, client = mock
    with pytest.raises(openai.BadRequestError, match=message):
        await client.post("/embeddings", body={"model": "e", **body}, cast_to=object)


async def test_completion_with_suffix(mock: tuple[MockState, openai.AsyncOpenAI]) -> None:
    state, client = mock
    state.reply = Reply(text="return a + b", input_tokens=5, output_tokens=4)
    completion = await client.completions.create(
        model="c", prompt="def add(a, b):\n    ", suffix="\n\nprint(add(1, 2))", max_tokens=16
    )
    assert completion.choices[0].text == "return a + b"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens == 9
    assert state.received[-1].body["suffix"] == "\n\nprint(add(1, 2))"


async def test_completion_stream_ends_with_usage_when_asked(
    mock: tuple[MockState, openai.AsyncOpenAI],
) -> None:
    state, client = mock
    state.reply = Reply(text="return a + b", stop="length")
    stream = await client.completions.create(
        model="c", prompt="x", stream=True, stream_options={"include_usage": True}
    )
    text, finish, usage = "", None, None
    async for chunk in stream:
        for choice in chunk.choices:
            text += choice.text
            finish = choice.finish_reason or finish
        usage = chunk.usage or usage
    assert (text, finish) == ("return a + b", "length")
    assert usage is not None and usage.prompt_tokens == 11


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"prompt": "x", "messages": []}, "Unrecognized request argument supplied: messages"),
        ({}, "prompt"),
        ({"prompt": "x", "temperature": 3}, "temperature"),
        ({"prompt": "x", "stream_options": {"include_usage": True}}, "stream_options"),
    ],
)
async def test_completions_are_validated(
    mock: tuple[MockState, openai.AsyncOpenAI], body: dict[str, object], message: str
) -> None:
    _, client = mock
    with pytest.raises(openai.BadRequestError, match=message):
        await client.post("/completions", body={"model": "c", **body}, cast_to=object)
