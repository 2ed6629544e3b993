"""OpenAI embeddings bodies ↔ the IR (`protocols/chat/embeddings.py`)."""

from __future__ import annotations

import array
import base64
import json
from typing import Any

import pytest

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols.chat import embeddings


def decode(body: dict[str, Any]) -> ir.EmbeddingRequest:
    return embeddings.decode_request(json.dumps(body).encode())


@pytest.mark.parametrize(
    ("given", "inputs", "batched"),
    [
        ("one text", ["one text"], False),
        (["a", "b"], ["a", "b"], True),
        ([1, 2, 3], [[1, 2, 3]], False),  # one input as token ids
        ([[1, 2], [3]], [[1, 2], [3]], True),
    ],
)
def test_every_input_form_decodes(given: Any, inputs: list[Any], batched: bool) -> None:
    request = decode({"model": "m", "input": given})
    assert (request.inputs, request.batched) == (inputs, batched)
    assert request.encoding == "float" and request.dimensions is None


def test_options_decode() -> None:
    request = decode(
        {"model": "m", "input": "x", "dimensions": 8, "encoding_format": "base64", "user": "u"}
    )
    assert (request.dimensions, request.encoding, request.user) == (8, "base64", "u")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ([], "empty"),
        (["a", 1], "a list of texts"),
        (5, "$.input"),
        (None, "$.input"),
    ],
)
def test_bad_inputs_are_refused_with_their_path(given: Any, expected: str) -> None:
    with pytest.raises(BadRequest, match=expected.replace("$", r"\$")):
        decode({"model": "m", "input": given})


def test_missing_input_is_refused() -> None:
    with pytest.raises(BadRequest, match="input"):
        decode({"model": "m"})


def test_request_asks_for_floats_and_keeps_the_input_form() -> None:
    single = ir.EmbeddingRequest("up", ["hi"], dimensions=4, encoding="base64", user="u")
    assert embeddings.encode_request(single) == {
        "model": "up",
        "input": "hi",
        "encoding_format": "float",  # the gateway writes base64 itself
        "dimensions": 4,
        "user": "u",
    }
    batch = ir.EmbeddingRequest("up", [[1, 2], [3]], batched=True)
    assert embeddings.encode_request(batch) == {
        "model": "up",
        "input": [[1, 2], [3]],
        "encoding_format": "float",
    }


def test_response_is_openais_list_with_usage() -> None:
    response = ir.Embeddings("up", [[0.5, -0.25], [1.0, 0.0]], ir.Usage(input_tokens=6))
    body = json.loads(embeddings.encode_response(response, ir.EmbeddingRequest("m", ["a", "b"])))
    assert body == {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.5, -0.25]},
            {"object": "embedding", "index": 1, "embedding": [1.0, 0.0]},
        ],
        "model": "up",
        "usage": {"prompt_tokens": 6, "total_tokens": 6},
    }


def test_base64_is_little_endian_float32() -> None:
    response = ir.Embeddings("up", [[1.0, -2.0]])
    request = ir.EmbeddingRequest("m", ["a"], encoding="base64")
    body = json.loads(embeddings.encode_response(response, request))
    # struct.pack("<2f", 1.0, -2.0): 00 00 80 3f, 00 00 00 c0
    assert body["data"][0]["embedding"] == "AACAPwAAAMA="


def test_base64_keeps_float32_precision() -> None:
    vector = [0.1, -0.7, 3.25]
    encoded = embeddings.encode_base64(vector)
    decoded = array.array("f", base64.b64decode(encoded)).tolist()
    assert decoded == pytest.approx(vector, rel=1e-7)


def test_answer_is_read_in_input_order_whatever_its_encoding() -> None:
    body = {
        "object": "list",
        "data": [
            {"object": "embedding", "index": 1, "embedding": "AACAPwAAAMA="},
            {"object": "embedding", "index": 0, "embedding": [0.5]},
        ],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }
    decoded = embeddings.decode_response(json.dumps(body).encode())
    assert decoded.vectors == [[0.5], [1.0, -2.0]]
    assert decoded.model == "text-embedding-3-small"
    assert decoded.usage.input_tokens == 3
