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
    from plexus.tracing.span import Attributes, AttributeValue

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


def field(tag: bytes, data: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the length, the bytes."""
    return tag + _varint(len(data)) + data


@cache
def _key(key: str) -> bytes:
    """KeyValue's key field and the tag of its value, the same for every value of a key."""
    return field(b"\x0a", key.encode()) + b"\x12"


def _any_value(value: AttributeValue) -> bytes:
    if isinstance(value, str):
        return field(b"\x0a", value.encode())
    if isinstance(value, bool):  # before int: a bool is an int
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, int):
        return b"\x18" + _varint(value & _U64)  # int64: two's complement when negative
    if isinstance(value, float):
        return b"\x21" + _pack_f64(value)
    array = b"".join(field(b"\x0a", _any_value(item)) for item in value)
    return field(b"\x2a", array)


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


# A span's fields that come from its shape: before its times, its name and kind; after its
# attributes, its status and flags.
Shape = tuple[bytes, bytes, bytes]  # head, static attributes, tail


def shape(name: str, kind: int, static: bytes, error: str | None, flags: int) -> Shape:
    """The encoded parts of a span's shape: `static` its repeated attributes (encoded), `error`
    the status message of an ERROR span (None: status unset)."""
    head = field(b"\x2a", name.encode()) + b"\x30" + _SMALL[kind]
    tail = b""
    if error is not None:
        status = field(b"\x12", error.encode()) + b"\x18" + _SMALL[_STATUS_CODE_ERROR]
        tail = field(b"\x7a", status)
    tail += b"\x85\x01" + _pack_u32(flags)  # field 16, fixed32
    return head, static, tail


_pack_times = struct.Struct("<BQBQ").pack  # start (field 7) and end (field 8), fixed64


def span_field(
    trace: bytes,
    span_id: int,
    parent: bytes,
    head: bytes,
    start_ns: int,
    end_ns: int,
    attributes: bytes,
    tail: bytes,
) -> bytes:
    """One Span as a field of ScopeSpans: `trace` its trace id field, `parent` its tracestate
    and parent span id fields (each if any), `head` and `tail` from its `shape`, `attributes`
    all of them, encoded."""
    span = b"".join(
        (
            trace,
            b"\x12\x08",
            span_id.to_bytes(8, "big"),
            parent,
            head,
            _pack_times(0x39, start_ns, 0x41, end_ns),
            attributes,
            tail,
        )
    )
    return b"\x12" + _varint(len(span)) + span


class Encoder:
    """Encodes batches of spans as ExportTraceServiceRequest bodies of one resource and one
    instrumentation scope, both fixed at start."""

    def __init__(self, resource: Attributes, scope_name: str, scope_version: str) -> None:
        resource_message = field(b"\x0a", encode_attributes(resource, b"\x0a"))
        scope = field(b"\x0a", scope_name.encode()) + field(b"\x12", scope_version.encode())
        self._resource = resource_message
        self._scope = field(b"\x0a", scope)

    def body(self, spans: list[bytes]) -> bytes:
        """The request body exporting `spans` (fields of ScopeSpans, from `span_field`),
        joined once: a batch is most of a megabyte."""
        scope_spans = len(self._scope) + sum(map(len, spans))
        scope_head = b"\x12" + _varint(scope_spans)
        resource_spans = len(self._resource) + len(scope_head) + scope_spans
        head = b"\x0a" + _varint(resource_spans)
        return b"".join((head, self._resource, scope_head, self._scope, *spans))
