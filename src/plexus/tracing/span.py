"""A request's spans, made from its `UsageRecord` and its trace context: a SERVER span
for the request and a CLIENT span per upstream attempt, named and attributed after the
OpenTelemetry GenAI semantic conventions (gen_ai.*, development status) and the HTTP ones, plus
`plexus.*` for what only a gateway knows. Never prompt or answer content: the record holds
none."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from urllib.parse import urlsplit

from plexus.config import Config, ProviderConfig
from plexus.errors import kind_for_status
from plexus.ledger.record import Attempt, UsageRecord
from plexus.tracing.context import Call, TraceContext
from plexus.tracing.otlp import (
    ATTRIBUTE_TAG,
    Shape,
    encode_attributes,
    field,
    float_attribute,
    int_attribute,
    shape,
    span_field,
    text_attribute,
)

AttributeValue = str | bool | int | float | tuple[str, ...]
Attributes = list[tuple[str, AttributeValue]]

SERVER, CLIENT = 2, 3  # trace.proto SpanKind
_HAS_REMOTE = 0x100  # Span.flags: the has-is-remote bit (trace.proto SpanFlags)
_REMOTE_PARENT = 0x300  # ...and the is-remote bit: the parent is the caller's span
_HTTP_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)
# gen_ai.provider.name's well-known values (semantic-conventions-genai registry.yaml) by the
# end of the API host a provider is configured with (regional Vertex hosts too); any other
# provider is named by its config name.
_PROVIDER_HOSTS = (
    ("api.openai.com", "openai"),
    (".openai.azure.com", "azure.ai.openai"),
    ("api.anthropic.com", "anthropic"),
    ("generativelanguage.googleapis.com", "gcp.gemini"),
    ("aiplatform.googleapis.com", "gcp.vertex_ai"),
    ("api.deepseek.com", "deepseek"),
    ("api.groq.com", "groq"),
    ("api.x.ai", "x_ai"),
    ("api.mistral.ai", "mistral_ai"),
    ("api.perplexity.ai", "perplexity"),
    ("api.cohere.com", "cohere"),
    ("api.cohere.ai", "cohere"),
)


def provider_names(config: Config) -> dict[str, str]:
    """gen_ai.provider.name of every configured provider."""
    return {name: _provider_name(name, provider) for name, provider in config.providers.items()}


def _provider_name(name: str, provider: ProviderConfig) -> str:
    if provider.vertex is not None:
        return "gcp.vertex_ai"
    host = (urlsplit(provider.api_base_url).hostname or "").lower()
    for suffix, known in _PROVIDER_HOSTS:
        if host.endswith(suffix):
            return known
    return name


def encode_spans(
    record: UsageRecord, context: TraceContext, providers: Mapping[str, str]
) -> list[bytes]:
    """The spans of a finished request, its own then one per upstream attempt, each encoded as
    a field of OTLP's ScopeSpans (`otlp.Encoder.body` puts them in a request body)."""
    usage = _usage(record) if record.status < 400 else b""
    start = int(record.time * 1e9)
    trace = b"\x0a\x10" + context.trace_id
    state = field(b"\x1a", context.tracestate.encode()) if context.tracestate else b""
    head, static, tail = _server_shape_of(record, context, providers)
    varying = _per_request(record)
    if context.operation is not None:
        varying += usage
    parent = context.parent_span_id
    spans = [
        span_field(
            trace,
            context.span_id,
            state + b"\x22\x08" + _pack_id(parent) if parent else state,
            head,
            start,
            start + int(record.duration_ms * 1e6),
            static + varying,
            tail,
        )
    ]
    parent_field = state + b"\x22\x08" + _pack_id(context.span_id)
    trail = record.trail
    served = len(trail) if record.status < 400 else 0  # the number of the attempt that served
    for call in context.calls:
        if not 0 < call.number <= len(trail):
            continue  # not an attempt of this record: nothing to say of it
        attempt = trail[call.number - 1]
        served_it = call.number == served
        head, static, tail = _client_shape_of(record, context, call, attempt, providers, served_it)
        begun = start + int((call.started - context.started) * 1e9)
        ended = begun + int(attempt.duration_ms * 1e6)
        attributes = static + usage if served_it else static
        spans.append(
            span_field(trace, call.span_id, parent_field, head, begun, ended, attributes, tail)
        )
    return spans


# A span's name, kind, encoded repeated attributes, status and flags, by what they are made
# of: most requests look like others (same route, alias, provider, model, status, client), so
# that part is made and encoded once, and a request adds its ids, timings, cost and tokens.
# Emptied when full, so that rare shapes do not pile up.
_SHAPES_LIMIT = 4096
_server_shapes: dict[tuple[object, ...], Shape] = {}
_client_shapes: dict[tuple[object, ...], Shape] = {}
_pack_id = struct.Struct(">Q").pack  # span ids are 8 bytes, big-endian (hex order)


def _server_shape_of(
    record: UsageRecord, context: TraceContext, providers: Mapping[str, str]
) -> Shape:
    # Every field the shape is made of (`_server_shape`), and nothing else.
    key = (
        context.operation, context.http_route, context.method, context.path, context.scheme,
        context.parent_span_id != 0, record.alias, record.provider,
        providers.get(record.provider, record.provider), record.stream, record.status,
        record.upstream_model, record.finish_reason, record.user_agent, record.client_api,
        record.key, record.passthrough, record.attempts, record.error_kind, record.cost_source,
        record.tokens_estimated,
    )  # fmt: skip
    shape = _server_shapes.get(key)
    if shape is None:
        if len(_server_shapes) >= _SHAPES_LIMIT:
            _server_shapes.clear()
        shape = _server_shapes[key] = _server_shape(record, context, providers)
    return shape


def _server_shape(
    record: UsageRecord, context: TraceContext, providers: Mapping[str, str]
) -> Shape:
    operation = context.operation
    if operation is not None:
        name = f"{operation} {record.alias}" if record.alias else operation
        attributes = _gen_ai(record, operation, providers)
    else:
        route = context.http_route
        name = f"{context.method} {route}" if route else context.method
        attributes = []
    attributes += _http(record, context)
    attributes += _plexus(record)
    error = _error(record)
    if error is not None:
        attributes.append(("error.type", error))
    flags = 0x01 | (_REMOTE_PARENT if context.parent_span_id else 0)  # sampled: it is exported
    return shape(name, SERVER, encode_attributes(attributes, ATTRIBUTE_TAG), error, flags)


def _client_shape_of(
    record: UsageRecord,
    context: TraceContext,
    call: Call,
    attempt: Attempt,
    providers: Mapping[str, str],
    served: bool,
) -> Shape:
    """An attempt's shape: with the response's attributes when it served the request."""
    key = (
        context.operation, attempt.provider, providers.get(attempt.provider, attempt.provider),
        attempt.model, attempt.status, attempt.error is not None, call.number, served,
        record.upstream_model if served else None, record.finish_reason if served else None,
    )  # fmt: skip
    shape = _client_shapes.get(key)
    if shape is None:
        if len(_client_shapes) >= _SHAPES_LIMIT:
            _client_shapes.clear()
        shape = _client_shapes[key] = _client_shape(
            record, context, call, attempt, providers, served
        )
    return shape


def _client_shape(
    record: UsageRecord,
    context: TraceContext,
    call: Call,
    attempt: Attempt,
    providers: Mapping[str, str],
    served: bool,
) -> Shape:
    operation = context.operation or "chat"
    attributes: Attributes = [
        ("gen_ai.operation.name", operation),
        ("gen_ai.provider.name", providers.get(attempt.provider, attempt.provider)),
        ("gen_ai.request.model", attempt.model),
    ]
    if served:
        attributes += _response(record)
    if attempt.status:  # the upstream's, or the gateway's when there was no answer
        attributes.append(("http.response.status_code", attempt.status))
    attributes.append(("plexus.provider", attempt.provider))
    attributes.append(("plexus.attempt", call.number))
    error = None
    if attempt.error is not None:  # a failure, whatever the status: this call did not serve
        error = kind_for_status(attempt.status) if attempt.status else "_OTHER"
        attributes.append(("error.type", error))
    flags = 0x01 | _HAS_REMOTE  # sampled, and its parent is local
    name = f"{operation} {attempt.model}"
    return shape(name, CLIENT, encode_attributes(attributes, ATTRIBUTE_TAG), error, flags)


def _gen_ai(record: UsageRecord, operation: str, providers: Mapping[str, str]) -> Attributes:
    found: Attributes = [("gen_ai.operation.name", operation)]
    if record.alias:
        found.append(("gen_ai.request.model", record.alias))
    if record.provider:
        found.append(("gen_ai.provider.name", providers.get(record.provider, record.provider)))
    found.append(("gen_ai.request.stream", record.stream))
    if record.status < 400:
        found += _response(record)
    return found


def _response(record: UsageRecord) -> Attributes:
    """What the answer that served a request was: its model and finish reason."""
    found: Attributes = []
    if record.upstream_model:
        found.append(("gen_ai.response.model", record.upstream_model))
    if record.finish_reason is not None:
        found.append(("gen_ai.response.finish_reasons", (record.finish_reason,)))
    return found


_INPUT_TOKENS = int_attribute("gen_ai.usage.input_tokens")
_CACHE_READ_TOKENS = int_attribute("gen_ai.usage.cache_read.input_tokens")
_CACHE_WRITE_TOKENS = int_attribute("gen_ai.usage.cache_creation.input_tokens")
_OUTPUT_TOKENS = int_attribute("gen_ai.usage.output_tokens")
_REASONING_TOKENS = int_attribute("gen_ai.usage.reasoning.output_tokens")


def _usage(record: UsageRecord) -> bytes:
    """The tokens of the answer that served a request, encoded."""
    found: list[bytes] = []
    cache_read, cache_write = record.cache_read_tokens, record.cache_write_tokens
    if record.input_tokens is not None:
        # The convention's input count includes the cached tokens; the record's is uncached.
        found.append(_INPUT_TOKENS(record.input_tokens + (cache_read or 0) + (cache_write or 0)))
    # Breakdowns only when there is something to break down: the IR has 0 for "not reported".
    if cache_read:
        found.append(_CACHE_READ_TOKENS(cache_read))
    if cache_write:
        found.append(_CACHE_WRITE_TOKENS(cache_write))
    if record.output_tokens is not None:
        found.append(_OUTPUT_TOKENS(record.output_tokens))
    if record.reasoning_tokens:
        found.append(_REASONING_TOKENS(record.reasoning_tokens))
    return b"".join(found)


def _http(record: UsageRecord, context: TraceContext) -> Attributes:
    method = context.method if context.method in _HTTP_METHODS else "_OTHER"
    found: Attributes = [
        ("http.request.method", method),
        ("url.path", context.path),
        ("url.scheme", context.scheme),
    ]
    if method == "_OTHER":
        found.append(("http.request.method_original", context.method))
    if context.http_route:
        found.append(("http.route", context.http_route))
    if record.status:
        found.append(("http.response.status_code", record.status))
    if record.user_agent:
        found.append(("user_agent.original", record.user_agent))
    return found


def _plexus(record: UsageRecord) -> Attributes:
    """What only a gateway knows, as far as it repeats from request to request."""
    found: Attributes = [
        ("plexus.client_api", record.client_api),
        ("plexus.attempts", record.attempts),
        ("plexus.passthrough", record.passthrough),
    ]
    optional = (
        ("plexus.key", record.key),
        ("plexus.alias", record.alias),
        ("plexus.provider", record.provider),
        ("plexus.upstream_model", record.upstream_model),
        ("plexus.error_kind", record.error_kind),
        ("plexus.cost_source", record.cost_source),
    )
    found.extend((key, value) for key, value in optional if value)
    if record.tokens_estimated:
        found.append(("plexus.tokens_estimated", True))
    return found


_REQUEST_ID = text_attribute("plexus.request_id")
_COST_USD = float_attribute("plexus.cost_usd")
_TTFB_MS = float_attribute("plexus.ttfb_ms")
_TTFT_MS = float_attribute("plexus.ttft_ms")
_OVERHEAD_MS = float_attribute("plexus.overhead_ms")


def _per_request(record: UsageRecord) -> bytes:
    """What only a gateway knows and differs from request to request (its id, cost, timings),
    encoded."""
    found = [_REQUEST_ID(record.request_id)]
    if record.cost_usd is not None:
        found.append(_COST_USD(record.cost_usd))
    if record.ttfb_ms is not None:
        found.append(_TTFB_MS(record.ttfb_ms))
    if record.ttft_ms is not None:
        found.append(_TTFT_MS(record.ttft_ms))
    if record.overhead_ms is not None:
        found.append(_OVERHEAD_MS(record.overhead_ms))
    return b"".join(found)


def _error(record: UsageRecord) -> str | None:
    """The status message of a failed request: a server error, or no answer at all. A 4xx is
    the client's error and leaves a SERVER span's status unset (HTTP semantic conventions)."""
    if record.status >= 500 or record.status == 0:
        return record.error_kind or str(record.status)
    return None
