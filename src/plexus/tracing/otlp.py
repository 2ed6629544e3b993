"""OTLP/HTTP's protobuf body, hand-written for the few messages a batch of spans needs (field
numbers from opentelemetry-proto's collector/trace/v1/trace_service.proto, trace/v1/trace.proto
and common/v1/common.proto): ExportTraceServiceRequest → ResourceSpans → ScopeSpans → Span,
with KeyValue/AnyValue attributes and a Status. The tests decode it with the official package.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from plexus.tracing.span import Attributes, AttributeValue, Span

CONTENT_TYPE = "application/x-protobuf"
ATTRIBUTE_TAG = b"\x4a"  # Span.attributes, field 9
_STATUS_CODE_ERROR = 2
_SMALL = [bytes((n,)) for n in range(0x80)]
_U64 = (1 << 64) - 1
_pack_u64 = struct.Struct("<Q").pack
_pack_u32 = struct.Struct("<I").pack
_pack_f64 = struct.Struct("<d").pack


def _varint(n: int) -> bytes:
    if n < 0x80:
        return _SMALL[n]
    if n < 0x4000:  # lengths and token counts: most are two bytes
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the length, the bytes."""
    return tag + _varint(len(data)) + data


@cache
def _key(key: str) -> bytes:
    """KeyValue's key field and the tag of its value, the same for every value of a key."""
    return _field(b"\x0a", key.encode()) + b"\x12"


def _any_value(value: AttributeValue) -> bytes:
    if isinstance(value, str):
        return _field(b"\x0a", value.encode())
    if isinstance(value, bool):  # before int: a bool is an int
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value & _U64)  # int64: two's complement when negative
    if isinstance(value, float):
        return b"\x21" + _pack_f64(value)
    array = b"".join(_field(b"\x0a", _any_value(item)) for item in value)
    return _field(b"\x2a", array)


def _key_value(key: str, value: AttributeValue) -> bytes:
    """A KeyValue message with its length before it."""
    any_value = _any_value(value)
    return _varint_prefixed(_key(key) + _varint(len(any_value)) + any_value)


def _varint_prefixed(data: bytes) -> bytes:
    return _varint(len(data)) + data


@cache
def _float_head(tag: bytes, key: str) -> bytes:
    """All of a float KeyValue field but its 8 bytes: its size is fixed."""
    head = _key(key) + b"\x09\x21"
    return tag + _varint(len(head) + 8) + head


# The attributes given to `encode_attributes` repeat from request to request (models,
# providers, routes, statuses): their encoding, field tag included, is kept in a table per tag,
# emptied when full so that rare values do not pile up. A key's values are of one type, so
# `True` and `1` never meet under one key.
_KNOWN_LIMIT = 4096
_known: dict[bytes, dict[tuple[str, AttributeValue], bytes]] = {}


def encode_attributes(attributes: Attributes, tag: bytes) -> bytes:
    """Each attribute as a KeyValue field of the given tag."""
    parts: list[bytes] = []
    append = parts.append
    known = _known.get(tag)
    if known is None:
        known = _known[tag] = {}
    for pair in attributes:
        encoded = known.get(pair)
        if encoded is None:
            if len(known) >= _KNOWN_LIMIT:
                known.clear()
            encoded = known[pair] = tag + _key_value(*pair)
        append(encoded)
    return b"".join(parts)


# Encoders of one attribute of a known key, its head made once: what differs from request to
# request (ids, timings, cost, tokens) is encoded by these, without a type dispatch per value.


def text_attribute(key: str) -> Callable[[str], bytes]:
    """An encoder of `key`'s text values as Span.attributes fields."""
    head = _key(key)

    def encode(value: str) -> bytes:
        text = value.encode()
        any_value = b"\x0a" + _varint(len(text)) + text
        key_value = head + _varint(len(any_value)) + any_value
        return ATTRIBUTE_TAG + _varint(len(key_value)) + key_value

    return encode


def float_attribute(key: str) -> Callable[[float], bytes]:
    """An encoder of `key`'s float values as Span.attributes fields."""
    head = _float_head(ATTRIBUTE_TAG, key)
    return lambda value: head + _pack_f64(value)


def int_attribute(key: str) -> Callable[[int], bytes]:
    """An encoder of `key`'s integer values as Span.attributes fields."""
    head = _key(key)

    def encode(value: int) -> bytes:
        any_value = b"\x18" + _varint(value & _U64)
        key_value = head + _SMALL[len(any_value)] + any_value  # ≤ 11 bytes
        return ATTRIBUTE_TAG + _varint(len(key_value)) + key_value

    return encode


def encode_span(span: Span) -> bytes:
    """One Span message."""
    parts = [
        b"\x0a\x10" + span.trace_id,
        b"\x12\x08" + span.span_id.to_bytes(8, "big"),
    ]
    if span.tracestate:
        parts.append(_field(b"\x1a", span.tracestate.encode()))
    if span.parent_span_id:
        parts.append(b"\x22\x08" + span.parent_span_id.to_bytes(8, "big"))
    parts.append(_field(b"\x2a", span.name.encode()))
    parts.append(b"\x30" + _SMALL[span.kind])
    parts.append(b"\x39" + _pack_u64(span.start_ns))
    parts.append(b"\x41" + _pack_u64(span.end_ns))
    parts.append(span.static)
    parts.append(span.varying)
    if span.error is not None:
        status = _field(b"\x12", span.error.encode()) + b"\x18" + _SMALL[_STATUS_CODE_ERROR]
        parts.append(_field(b"\x7a", status))
    parts.append(b"\x85\x01" + _pack_u32(span.flags))  # field 16, fixed32
    return b"".join(parts)


class Encoder:
    """Encodes batches of spans as ExportTraceServiceRequest bodies of one resource and one
    instrumentation scope, both fixed at start."""

    def __init__(self, resource: Attributes, scope_name: str, scope_version: str) -> None:
        resource_message = _field(b"\x0a", encode_attributes(resource, b"\x0a"))
        scope = _field(b"\x0a", scope_name.encode()) + _field(b"\x12", scope_version.encode())
        self._resource = resource_message
        self._scope = _field(b"\x0a", scope)

    def encode(self, spans: list[Span]) -> bytes:
        """The request body exporting `spans`."""
        return self.body([scope_span(span) for span in spans])

    def body(self, scope_spans: list[bytes]) -> bytes:
        """The request body exporting spans already encoded by `scope_span`."""
        resource_spans = self._resource + _field(b"\x12", self._scope + b"".join(scope_spans))
        return _field(b"\x0a", resource_spans)


def scope_span(span: Span) -> bytes:
    """A span as a field of ScopeSpans, for `Encoder.body`."""
    return _field(b"\x12", encode_span(span))
