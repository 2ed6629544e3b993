"""Gemini embedContent and batchEmbedContents bodies ↔ the IR (`protocols/gemini/embeddings.py`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plexus import ir
from plexus.errors import BadRequest, Unsupported
from plexus.protocols.gemini import embeddings


def test_one_input_is_an_embed_content_body() -> None:
    request = ir.EmbeddingRequest("gemini-embedding-001", ["hi"], dimensions=8, user="u")
    assert embeddings.encode_request(request) == {
        "model": "models/gemini-embedding-001",
        "content": {"parts": [{"text": "hi"}]},
        "outputDimensionality": 8,  # `user` has no Gemini counterpart
    }


def test_a_list_is_one_request_per_input_naming_the_model() -> None:
    request = ir.EmbeddingRequest("e", ["a", "b"], batched=True)
    assert embeddings.encode_request(request) == {
        "requests": [
            {"model": "models/e", "content": {"parts": [{"text": "a"}]}},
            {"model": "models/e", "content": {"parts": [{"text": "b"}]}},
        ]
    }


@pytest.mark.parametrize(
    "request_",
    [
        ir.EmbeddingRequest("e", [[1, 2, 3]]),
        ir.EmbeddingRequest("e", ["a", [1]], batched=True),
    ],
)
def test_token_inputs_are_refused(request_: ir.EmbeddingRequest) -> None:
    with pytest.raises(Unsupported, match="text only") as caught:
        embeddings.encode_request(request_)
    assert caught.value.status == 400


def decode(body: dict[str, Any]) -> ir.Embeddings:
    return embeddings.decode_response(json.dumps(body).encode())


def test_embed_content_answer_decodes() -> None:
    decoded = decode({"embedding": {"values": [0.5, -0.5]}})
    assert decoded.vectors == [[0.5, -0.5]] and decoded.usage == ir.Usage()


def test_batch_answer_decodes_with_its_usage() -> None:
    decoded = decode(
        {
            "embeddings": [{"values": [0.5]}, {"values": [0.25]}],
            "usageMetadata": {
                "promptTokenCount": 9,
                "promptTokenDetails": [{"modality": "TEXT", "tokenCount": 9}],
            },
        }
    )
    assert decoded.vectors == [[0.5], [0.25]] and decoded.usage.input_tokens == 9


def test_client_bodies_decode_and_answers_encode_in_kind() -> None:
    single = embeddings.decode_request(
        b'{"content": {"parts": [{"text": "a"}, {"text": "b"}]}, "outputDimensionality": 4}'
    )
    assert (single.inputs, single.batched, single.dimensions) == (["ab"], False, 4)
    batch = embeddings.decode_request(
        b'{"requests": [{"model": "models/e", "content": {"parts": [{"text": "x"}]}},'
        b' {"model": "models/e", "content": {"parts": [{"text": "y"}]}}]}'
    )
    assert (batch.inputs, batch.batched) == (["x", "y"], True)
    vectors = ir.Embeddings("", [[0.5], [1.0]], ir.Usage(input_tokens=2))
    assert json.loads(embeddings.encode_response(vectors, batch)) == {
        "embeddings": [{"values": [0.5]}, {"values": [1.0]}],
        "usageMetadata": {"promptTokenCount": 2},
    }
    one = ir.Embeddings("", [[0.5]])
    assert json.loads(embeddings.encode_response(one, single))["embedding"] == {"values": [0.5]}


@pytest.mark.parametrize("body", [b"{}", b'{"requests": []}', b'{"content": 1}'])
def test_bad_client_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(BadRequest):
        embeddings.decode_request(body)
