"""The Gemini mock's embeddings validate as the Gemini API does, and the official google-genai SDK
reads their answers (tests/mocks/gemini_embeddings.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from google import genai
from google.genai import types

from tests.mocks.base import MockState, mock_vector
from tests.mocks.gemini_upstream import create_app

MODEL = "gemini-embedding-001"


@pytest.fixture
async def server() -> AsyncIterator[tuple[MockState, TestServer]]:
    state = MockState()
    running = TestServer(create_app(state), host="127.0.0.1")
    await running.start_server()
    try:
        yield state, running
    finally:
        await running.close()


async def test_sdk_embeds_a_batch_with_reduced_dimensions(
    server: tuple[MockState, TestServer],
) -> None:
    state, running = server
    options = types.HttpOptions(base_url=str(running.make_url("")), api_version="v1beta")
    client = genai.Client(api_key=state.api_key, http_options=options)
    config = types.EmbedContentConfig(output_dimensionality=4, task_type="RETRIEVAL_QUERY")
    result = await client.aio.models.embed_content(model=MODEL, contents=["a", "b"], config=config)
    assert result.embeddings is not None
    assert [item.values for item in result.embeddings] == [
        mock_vector("a", 4),
        mock_vector("b", 4),
    ]
    received = state.received[-1]
    assert received.path == f"/v1beta/models/{MODEL}:batchEmbedContents"
    assert received.body["requests"][0]["model"] == f"models/{MODEL}"


async def post(running: TestServer, action: str, body: dict[str, Any]) -> tuple[int, Any]:
    url = running.make_url(f"/v1beta/models/{MODEL}:{action}")
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers={"x-goog-api-key": "upstream-key"}) as response,
    ):
        return response.status, await response.json()


def text(value: str) -> dict[str, Any]:
    return {"parts": [{"text": value}]}


async def test_embed_content_answers_one_embedding_with_usage(
    server: tuple[MockState, TestServer],
) -> None:
    _, running = server
    status, body = await post(running, "embedContent", {"content": text("a")})
    assert status == 200
    assert body["embedding"] == {"values": mock_vector("a")}
    assert body["usageMetadata"]["promptTokenCount"] == 11


@pytest.mark.parametrize(
    ("action", "body", "message"),
    [
        ("embedContent", {"content": text("a"), "dimensions": 3}, 'Unknown name "dimensions"'),
        ("embedContent", {"content": {"parts": []}}, "must not be empty"),
        ("embedContent", {"content": text("")}, "non-empty text"),
        ("embedContent", {"content": text("a"), "taskType": "SEARCH"}, "task_type"),
        ("embedContent", {"content": text("a"), "title": "t"}, "RETRIEVAL_DOCUMENT"),
        ("batchEmbedContents", {"requests": []}, "must not be empty"),
        ("batchEmbedContents", {"requests": [{"content": text("a")}]}, "must match"),
        (
            "batchEmbedContents",
            {"requests": [{"model": "models/other", "content": text("a")}]},
            "must match",
        ),
    ],
)
async def test_embeddings_are_validated(
    server: tuple[MockState, TestServer], action: str, body: dict[str, Any], message: str
) -> None:
    _, running = server
    status, answer = await post(running, action, body)
    assert status == 400 and message in answer["error"]["message"]
