"""Gemini embeddings: `models/{model}:embedContent` for one input, `:batchEmbedContents` for a
list, client side and provider side (https://ai.google.dev/api/embeddings).

A batch is one `EmbedContentRequest` per input, each naming the model of the URL as
`models/{model}`. Gemini embeds text parts only and has no `user`: token-id inputs are refused
(`Unsupported`), `user` is dropped; `dimensions` is `outputDimensionality`. `usageMetadata` is
read when the API sends it (its `EmbeddingUsageMetadata`), else the usage is zero.
"""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import ir
from plexus.errors import BadRequest, Unsupported


class _Part(msgspec.Struct):
    text: str | None = None  # other parts (inline data) are not embedded by the text models


class _Content(msgspec.Struct):
    parts: list[_Part]


class _EmbedRequest(msgspec.Struct, rename="camel"):
    content: _Content
    output_dimensionality: int | None = None


class _ClientBody(msgspec.Struct, rename="camel"):
    """An `embedContent` body (`content`) or a `batchEmbedContents` one (`requests`)."""

    content: _Content | None = None
    output_dimensionality: int | None = None
    requests: list[_EmbedRequest] | None = None


class _Values(msgspec.Struct):
    values: list[float] = msgspec.field(default_factory=list)


class _Usage(msgspec.Struct, rename="camel"):
    prompt_token_count: int = 0


class _Response(msgspec.Struct, rename="camel"):
    embedding: _Values | None = None  # embedContent
    embeddings: list[_Values] | None = None  # batchEmbedContents
    usage_metadata: _Usage | None = None


_client_decoder = msgspec.json.Decoder(_ClientBody)
_response_decoder = msgspec.json.Decoder(_Response)
_encoder = msgspec.json.Encoder()


def encode_request(request: ir.EmbeddingRequest) -> dict[str, Any]:
    """IR → an `embedContent` body, or a `batchEmbedContents` one when `request.batched`."""
    texts = [item for item in request.inputs if isinstance(item, str)]
    if len(texts) != len(request.inputs):
        raise Unsupported(
            "Gemini embeds text only: send the input as text, not as token ids", param="input"
        )
    model = f"models/{request.model}"
    options = {} if request.dimensions is None else {"outputDimensionality": request.dimensions}

    def embed(text: str) -> dict[str, Any]:
        return {"model": model, "content": {"parts": [{"text": text}]}, **options}

    if request.batched:
        return {"requests": [embed(text) for text in texts]}
    return embed(texts[0])


def decode_response(body: bytes) -> ir.Embeddings:
    """An `embedContent` or `batchEmbedContents` answer → IR (Gemini names no model)."""
    response = _response_decoder.decode(body)
    found = response.embeddings
    if found is None:
        found = [] if response.embedding is None else [response.embedding]
    usage = response.usage_metadata or _Usage()
    return ir.Embeddings(
        model="",
        vectors=[item.values for item in found],
        usage=ir.Usage(input_tokens=usage.prompt_token_count),
    )


def decode_request(body: bytes) -> ir.EmbeddingRequest:
    """A client's `embedContent` or `batchEmbedContents` body → IR (the model comes from the
    URL); the texts of each content's parts are embedded together."""
    try:
        decoded = _client_decoder.decode(body)
    except msgspec.DecodeError as error:
        raise BadRequest(f"Invalid request body: {error}") from error
    if decoded.requests is not None:
        if not decoded.requests:
            raise BadRequest("'requests' must not be empty", param="requests")
        dimensions = decoded.requests[0].output_dimensionality
        texts = [_text(item.content) for item in decoded.requests]
        return ir.EmbeddingRequest("", list(texts), batched=True, dimensions=dimensions)
    if decoded.content is None:
        raise BadRequest("'content' is required", param="content")
    text = _text(decoded.content)
    return ir.EmbeddingRequest("", [text], dimensions=decoded.output_dimensionality)


def encode_response(response: ir.Embeddings, request: ir.EmbeddingRequest) -> bytes:
    """IR → an `embedContent` answer, or a `batchEmbedContents` one for a batch."""
    usage = {"promptTokenCount": response.usage.total_input_tokens}
    if request.batched:
        vectors = [{"values": vector} for vector in response.vectors]
        return _encoder.encode({"embeddings": vectors, "usageMetadata": usage})
    return _encoder.encode({"embedding": {"values": response.vectors[0]}, "usageMetadata": usage})


def _text(content: _Content) -> str:
    return "".join(part.text or "" for part in content.parts)
