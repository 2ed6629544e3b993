"""OpenAI embeddings (`POST /v1/embeddings`), client side and provider side.

An input is a text, a list of texts, one list of token ids or a list of them (the SDK's
`EmbeddingCreateParams`). Vectors are written as floats or, for `encoding_format: "base64"`, as
OpenAI writes them: the base64 of their little-endian float32 bytes (the SDK asks for base64
unless told otherwise, and decodes it itself).
"""

from __future__ import annotations

import array
import base64
import sys
from typing import Any, Literal

import msgspec

from plexus import ir
from plexus.errors import BadRequest

_Input = str | list[str | int | list[int]]


class _Request(msgspec.Struct):
    model: str
    input: _Input
    dimensions: int | None = None
    encoding_format: Literal["float", "base64"] | None = None
    user: str | None = None


class _Embedding(msgspec.Struct):
    embedding: list[float] | str  # a string: base64, from a server that ignored our "float"
    index: int = 0


class _Usage(msgspec.Struct):
    prompt_tokens: int = 0
    total_tokens: int = 0


class _Response(msgspec.Struct):
    data: list[_Embedding]
    model: str = ""
    usage: _Usage | None = None


class _EmbeddingOut(msgspec.Struct):
    object: Literal["embedding"]
    index: int
    embedding: list[float] | str


class _ResponseOut(msgspec.Struct):
    object: Literal["list"]
    data: list[_EmbeddingOut]
    model: str
    usage: _Usage


_request_decoder = msgspec.json.Decoder(_Request)
_response_decoder = msgspec.json.Decoder(_Response)
_encoder = msgspec.json.Encoder()


def decode_request(body: bytes) -> ir.EmbeddingRequest:
    """Decode a client's embeddings body into the IR; raise `BadRequest` with the path."""
    try:
        request = _request_decoder.decode(body)
    except msgspec.DecodeError as error:
        raise BadRequest(f"Invalid request body: {error}") from error
    inputs, batched = _decode_input(request.input)
    return ir.EmbeddingRequest(
        model=request.model,
        inputs=inputs,
        batched=batched,
        dimensions=request.dimensions,
        encoding=request.encoding_format or "float",
        user=request.user,
    )


def _decode_input(value: _Input) -> tuple[list[str | list[int]], bool]:
    """The inputs and whether they came as a list (one vector each) rather than one input."""
    if isinstance(value, str):
        return [value], False
    if not value:
        raise BadRequest("'input' must not be an empty list", param="input")
    texts: list[str | list[int]] = [item for item in value if isinstance(item, str)]
    if len(texts) == len(value):
        return texts, True
    tokens = [item for item in value if isinstance(item, int)]
    if len(tokens) == len(value):
        return [tokens], False
    token_lists: list[str | list[int]] = [item for item in value if isinstance(item, list)]
    if len(token_lists) == len(value):
        return token_lists, True
    raise BadRequest(
        "'input' must be a text, a list of texts, a list of token ids or a list of token lists",
        param="input",
    )


def encode_request(request: ir.EmbeddingRequest) -> dict[str, Any]:
    """IR → an OpenAI embeddings body; vectors are asked for as floats (the gateway writes
    base64 itself when the client wants it)."""
    body: dict[str, Any] = {
        "model": request.model,
        "input": list(request.inputs) if request.batched else request.inputs[0],
        "encoding_format": "float",
    }
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    return body


def decode_response(body: bytes) -> ir.Embeddings:
    """An OpenAI embeddings answer → IR, vectors in input order."""
    response = _response_decoder.decode(body)
    ordered = sorted(response.data, key=lambda item: item.index)
    usage = response.usage or _Usage()
    return ir.Embeddings(
        model=response.model,
        vectors=[_decode_vector(item.embedding) for item in ordered],
        usage=ir.Usage(input_tokens=usage.prompt_tokens),
    )


def encode_response(response: ir.Embeddings, request: ir.EmbeddingRequest) -> bytes:
    """IR → an OpenAI embeddings answer, vectors as floats or base64 as the client asked."""
    write = encode_base64 if request.encoding == "base64" else _as_is
    prompt = response.usage.total_input_tokens
    answer = _ResponseOut(
        object="list",
        data=[
            _EmbeddingOut("embedding", index, write(vector))
            for index, vector in enumerate(response.vectors)
        ],
        model=response.model,
        usage=_Usage(prompt, prompt + response.usage.output_tokens),
    )
    return _encoder.encode(answer)


def encode_base64(vector: list[float]) -> str:
    """A vector as OpenAI's base64 encoding writes it: little-endian float32 bytes."""
    packed = array.array("f", vector)
    if sys.byteorder == "big":
        packed.byteswap()
    return base64.b64encode(packed.tobytes()).decode("ascii")


def _decode_vector(value: list[float] | str) -> list[float]:
    if not isinstance(value, str):
        return value
    packed = array.array("f", base64.b64decode(value))
    if sys.byteorder == "big":
        packed.byteswap()
    return packed.tolist()


def _as_is(vector: list[float]) -> list[float]:
    return vector
