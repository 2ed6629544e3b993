"""Embeddings (`POST /v1/embeddings`): passed through to a provider of the client's own API
(the body with the model swapped), translated through the embeddings IR for any other protocol
that has them (Gemini's embedContent and batchEmbedContents), refused for the rest.

Translated, the provider is asked for floats and the client's codec writes the vectors as the
client asked, base64 included; `passthrough: false` on a provider of the client's API takes
this path too, for a server that cannot write base64 itself.
"""

from __future__ import annotations

import msgspec

from plexus import ir
from plexus.call import ClientRequest, Outcome, ResponseWriter
from plexus.errors import BadRequest, Unsupported, UpstreamUnreachable
from plexus.passthrough import forward, rewrite_body
from plexus.protocols import EmbeddingCodec, codec_for
from plexus.routing import Target
from plexus.services import Services
from plexus.upstream.addressing import embeddings_url, upstream_headers
from plexus.upstream.errors import upstream_error


def refuse(request: ClientRequest, target: Target) -> Unsupported | None:
    """Why `target` cannot create embeddings, if it cannot."""
    provider = target.provider
    if codec_for(provider.type).EMBEDDINGS is None:
        return Unsupported(
            f"The model '{request.model}' cannot create embeddings: provider "
            f"'{target.provider_name}' is of type {provider.type}, which has no embeddings.",
            param="model",
        )
    if provider.vertex is not None:
        # Vertex AI nests the options in `embedContentConfig` and answers in its own shapes.
        return Unsupported(
            f"The model '{request.model}' cannot create embeddings: provider "
            f"'{target.provider_name}' is on Vertex AI, whose embeddings Plexus does not speak.",
            param="model",
        )
    return None


async def embed(
    services: Services, request: ClientRequest, target: Target, writer: ResponseWriter
) -> Outcome:
    """Serve an embeddings request from `target` (which `refuse` let through)."""
    if request.stream:
        raise BadRequest("Embeddings are not streamed: 'stream' must be false", param="stream")
    provider = target.provider
    if provider.type == request.api and provider.passthrough:
        # The client's own API: its body (batched or not) goes where a single input does.
        url = embeddings_url(provider, target.model, batched=False)
        if url is None:
            raise _no_embeddings(provider.type)
        body, _ = rewrite_body(request, target, quirks=False)  # never a stream
        return await forward(services, request, target, writer, url, body)
    return await _translate(services, request, target, writer)


async def _translate(
    services: Services, request: ClientRequest, target: Target, writer: ResponseWriter
) -> Outcome:
    upstream, provider = services.upstream, target.provider
    client, provider_codec = _embeddings_of(request.api), _embeddings_of(provider.type)
    decoded = client.decode_request(request.body)
    outgoing = msgspec.structs.replace(decoded, model=target.model)
    body = msgspec.json.encode(provider_codec.encode_request(outgoing))
    url = embeddings_url(provider, target.model, decoded.batched)
    if url is None:
        raise _no_embeddings(provider.type)
    headers = await upstream_headers(
        target.provider_name, provider, False, trace=request.trace_headers
    )
    answer = await upstream.full(url, headers, body, provider.timeouts, provider.proxy)
    if answer.status >= 400:
        raise upstream_error(
            answer.status, answer.body, answer.headers, upstream.redactor, provider.type
        )
    response = _decode_answer(provider_codec, answer.body, len(decoded.inputs))
    response.model = response.model or target.model
    await writer.body(200, client.encode_response(response, decoded))
    return Outcome(response.usage)


def _embeddings_of(api: ir.ApiType) -> EmbeddingCodec:
    codec = codec_for(api).EMBEDDINGS
    if codec is None:  # `refuse` keeps such providers out; a client route implies the codec
        raise _no_embeddings(api)
    return codec


def _no_embeddings(api: ir.ApiType) -> Unsupported:
    return Unsupported(f"The {api} API has no embeddings")


def _decode_answer(codec: EmbeddingCodec, body: bytes, inputs: int) -> ir.Embeddings:
    try:
        response = codec.decode_response(body)
    except (msgspec.DecodeError, RecursionError) as error:
        raise UpstreamUnreachable(f"upstream returned an invalid response: {error}") from error
    if len(response.vectors) != inputs:
        raise UpstreamUnreachable(
            f"upstream answered {len(response.vectors)} embeddings for {inputs} inputs"
        )
    return response
