"""W3C Trace Context (https://www.w3.org/TR/trace-context/): the `traceparent` a client sent,
the sampling decision, and the context a request's span and its upstream calls carry: each
attempt at a target is a child span of the request's, and its id is the upstream's parent.

A `traceparent` that does not parse is ignored and a new trace starts: a client's bad header
is never an error. `tracestate` is passed on untouched, and only with a valid parent (3.3).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

import msgspec

# 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, lowercase (3.2.2: HEXDIGLC); a later
# version may append fields after another dash, and is read as far as version 00 goes (3.2.4).
_TRACEPARENT = re.compile(
    r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL
)
_SAMPLED = 0x01
_LOW_64 = (1 << 64) - 1
_INVALID_TRACE = bytes(16)  # all zeros (3.2.2.3)


@dataclass(frozen=True, slots=True)
class Parent:
    """A valid incoming `traceparent`: trace id, the caller's span id, its trace flags."""

    trace_id: bytes  # 16 bytes
    span_id: int
    flags: int


def parse_traceparent(value: str | None) -> Parent | None:
    """The parent a `traceparent` header names, or None when it is absent or invalid."""
    if not value:
        return None
    found = _TRACEPARENT.fullmatch(value.strip(" \t"))
    if found is None:
        return None
    version, trace, span, flags, later = found.groups()
    if version == "ff" or (version == "00" and later is not None):
        return None
    trace_id, span_id = bytes.fromhex(trace), int(span, 16)
    if trace_id == _INVALID_TRACE or not span_id:
        return None
    return Parent(trace_id, span_id, int(flags, 16))


class Call(msgspec.Struct, array_like=True):
    """An attempt's child span: the attempt's number in the request's trail (from 1; its
    outcome and duration are written there), the span's id, `perf_counter()` at its start."""

    number: int
    span_id: int
    started: float


class TraceContext(msgspec.Struct, array_like=True):
    """One request's place in a trace: its span's ids, its parent's, whether it is recorded,
    what the span is told about the request's head, and its attempts' spans. A sampled one goes
    as is, with the request's record, to the recorder process, which makes the spans."""

    trace_id: bytes  # 16 bytes, as OTLP and the recorder's messages carry it
    span_id: int
    parent_span_id: int  # 0: the gateway's span is the trace's root
    sampled: bool
    tracestate: str
    method: str
    path: str
    scheme: str
    # Set at the request's end (`Tracer.finished`): `perf_counter()` when it arrived,
    # gen_ai.operation.name (None for the gateway's other routes), and the matched route as a
    # template (None when none matched).
    started: float = 0.0
    operation: str | None = None
    http_route: str | None = None
    calling: int = 0  # the span id of the upstream attempt under way (0: none)
    calls: list[Call] = []  # the attempts' spans

    @property
    def traceparent(self) -> str:
        """The `traceparent` naming this request's span as the parent."""
        return self.child_traceparent(self.span_id)

    def begin_attempt(self, number: int, started: float) -> None:
        """Start the child span of the `number`th attempt, begun at `perf_counter()`
        `started`: upstream calls from now on name it as their parent."""
        self.calling = random.getrandbits(64) or 1
        self.calls.append(Call(number, self.calling, started))

    def drop_attempt(self) -> None:
        """Forget the last attempt's span: it was refused before any upstream call."""
        self.calls.pop()

    def child_traceparent(self, span_id: int) -> str:
        """The `traceparent` naming span `span_id` of this trace as the parent."""
        flags = "01" if self.sampled else "00"
        return f"00-{self.trace_id.hex()}-{span_id:016x}-{flags}"

    def upstream_headers(self) -> tuple[tuple[str, str], ...]:
        """The trace headers of an upstream call: the attempt's span as parent (outside an
        attempt, the request's), tracestate passed on as received."""
        traceparent = self.child_traceparent(self.calling or self.span_id)
        if self.tracestate:
            return (("traceparent", traceparent), ("tracestate", self.tracestate))
        return (("traceparent", traceparent),)


class Sampler:
    """Parent-based: a parent's sampled flag decides; a new trace is recorded with probability
    `ratio`, by its trace id as OpenTelemetry's TraceIdRatioBased sampler does (so every
    service with the same ratio keeps the same traces)."""

    __slots__ = ("_bound",)

    def __init__(self, ratio: float) -> None:
        self._bound = round(min(max(ratio, 0.0), 1.0) * (_LOW_64 + 1))

    def root(self, trace_id: bytes) -> bool:
        """Whether a new trace is recorded."""
        return int.from_bytes(trace_id[8:]) < self._bound  # its low 64 bits


def new_context(
    headers: dict[str, str],
    sampler: Sampler,
    method: str,
    path: str,
    scheme: str,
) -> TraceContext:
    """The context of a request with these headers: a child of the caller's span, else a new
    trace."""
    span_id = random.getrandbits(64) or 1
    parent = parse_traceparent(headers.get("traceparent"))
    if parent is not None:
        return TraceContext(
            parent.trace_id,
            span_id,
            parent.span_id,
            bool(parent.flags & _SAMPLED),
            headers.get("tracestate", "").strip(),
            method,
            path,
            scheme,
        )
    trace_id = random.randbytes(16)
    if trace_id == _INVALID_TRACE:  # one chance in 2**128, and invalid
        trace_id = b"\x01" * 16
    return TraceContext(trace_id, span_id, 0, sampler.root(trace_id), "", method, path, scheme)
