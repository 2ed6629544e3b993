"""The per-request vocabulary: the client's request as received, the writer of its answer, and
what serving it produced. Everything above (app, proxy, strategies) speaks in these terms."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from plexus import http, ir
from plexus.errors import BadRequest
from plexus.ledger.record import Attempt as Attempt  # one target tried, kept in the record
from plexus.protocols import Codec

if TYPE_CHECKING:
    from plexus.tracing.context import TraceContext


@dataclass(frozen=True, slots=True)
class Continuation:
    """A request's part in the answers the gateway keeps (responses.store): whether its answer
    is kept, and the kept conversation it continues, `(input items, answer)` JSON pairs oldest
    first (None: `continues` names no answer kept here)."""

    keep: bool
    continues: str | None = None
    conversation: list[tuple[str, str]] | None = None


@dataclass(frozen=True, slots=True)
class ClientRequest:
    """One client request as received; immutable once its head has been read."""

    api: ir.ApiType
    codec: Codec
    headers: Mapping[str, str]
    body: bytes
    model: str
    stream: bool
    started: float  # `time.perf_counter()` when it arrived
    model_in_url: bool = False  # the model and the stream flag came from the URL (Gemini)
    key: str = ""  # the name of the gateway key it came with ("" when the API is open)
    trace: TraceContext | None = None  # its place in a trace, when tracing is on
    continuation: Continuation | None = None  # with responses.store on, for its protocol

    @property
    def trace_headers(self) -> tuple[tuple[str, str], ...]:
        """`traceparent` (and `tracestate`) for an upstream call; none when tracing is off."""
        return () if self.trace is None else self.trace.upstream_headers()


class _Head(msgspec.Struct):
    """The two fields every request body is looked at for before anything else."""

    model: str | None = None
    stream: bool = False


_head_decoder = msgspec.json.Decoder(_Head)
_TOO_DEEP = "Request body is nested too deeply"


def read_request(
    api: ir.ApiType,
    codec: Codec,
    headers: Mapping[str, str],
    body: bytes,
    started: float,
    url: tuple[str, bool] | None = None,
    key: str = "",
    trace: TraceContext | None = None,
) -> ClientRequest:
    """Check that `body` is a JSON object and read its model and stream flag (from `url`, the
    model and stream flag of the path, when the protocol carries them there)."""
    try:
        head = _head_decoder.decode(body)
    except msgspec.ValidationError as error:
        raise BadRequest(f"Invalid request body: {error}") from error
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"Request body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise BadRequest(_TOO_DEEP) from error
    if url is not None:
        model, stream, in_url = url[0], url[1], True
    elif not head.model:
        raise BadRequest("'model' is required", param="model")
    else:
        model, stream, in_url = head.model, head.stream, False
    return ClientRequest(api, codec, headers, body, model, stream, started, in_url, key, trace)


def decode_object(body: bytes) -> dict[str, Any]:
    """Decode a JSON object body that `read_request` has already accepted as an object."""
    try:
        data: dict[str, Any] = msgspec.json.decode(body)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"Request body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise BadRequest(_TOO_DEEP) from error
    return data


def decode_request(request: ClientRequest) -> ir.Request:
    """Decode a client body with its codec into the IR; bytes that are not JSON are a 400 too."""
    try:
        decoded = request.codec.decode_request(request.body)
    except (msgspec.DecodeError, UnicodeDecodeError) as error:
        raise BadRequest(f"Request body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise BadRequest(_TOO_DEEP) from error
    if request.model_in_url:
        decoded.model, decoded.stream = request.model, request.stream
    return decoded


class ResponseWriter:
    """Writes the answer to the client and records what the log line reports of it: the
    status, whether anything was sent (then errors must go inside the stream), when the first
    byte of content went out, and how much of a stream went out (what a stream cut short is
    estimated from)."""

    __slots__ = (
        "_before_last",
        "_extra",
        "_last",
        "_send",
        "first_byte",
        "sent",
        "started",
        "status",
    )

    def __init__(self, send: http.Send, request_id: str = "") -> None:
        self._send = send
        self._extra: tuple[tuple[bytes, bytes], ...] = (
            ((b"x-request-id", request_id.encode("latin-1")),) if request_id else ()
        )
        self.status = 0
        self.started = False
        self.first_byte: float | None = None
        self.sent = 0  # the bytes of a streamed body sent so far
        self._last = self._before_last = b""  # its last two parts

    async def body(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[bytes, bytes]] | None = None,
        head_only: bool = False,
    ) -> None:
        """Send a complete answer (`head_only`: its head, for a HEAD request)."""
        self.status, self.started = status, True
        self.first_byte = time.perf_counter()
        await http.send_body(self._send, status, body, headers, self._extra, head_only)

    async def no_content(self, headers: list[tuple[bytes, bytes]]) -> None:
        """Send a 204 (no body, and no content-length: RFC 9110 15.3.5)."""
        self.status, self.started = 204, True
        self.first_byte = time.perf_counter()
        await http.send_no_content(self._send, [*headers, *self._extra])

    def add_headers(
        self, headers: list[tuple[bytes, bytes]] | tuple[tuple[bytes, bytes], ...]
    ) -> None:
        """Headers every answer to this request carries (before it starts)."""
        self._extra = (*self._extra, *headers)

    async def start_stream(self) -> None:
        """Send the head of an SSE answer."""
        self.status, self.started = 200, True
        await http.start_stream(self._send, 200, self._extra)

    async def chunk(self, data: bytes) -> None:
        """Send part of a streamed body."""
        if self.first_byte is None:
            self.first_byte = time.perf_counter()
        self.sent += len(data)
        self._before_last, self._last = self._last, data
        await http.send_chunk(self._send, data)

    @property
    def last_sent(self) -> bytes:
        """The last parts of a streamed body sent (what its content is sampled from)."""
        return self._before_last + self._last

    async def keepalive(self, data: bytes) -> None:
        """Send a keep-alive, which is no content."""
        await http.send_chunk(self._send, data)

    async def end_stream(self, tail: bytes = b"") -> None:
        """Finish a streamed body with its closing frames, `tail` (not content: a stream's
        end, or the error that ended it)."""
        if tail and self.first_byte is None:
            self.first_byte = time.perf_counter()
        await http.end_stream(self._send, tail)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What serving a request from one target produced."""

    usage: ir.Usage | None = None
    passthrough: bool = False
    stop_reason: str | None = None  # the IR's closed set, when the answer was read
    first_token: float | None = None  # `perf_counter()` when the first content went out
    upstream_seconds: float | None = None  # from sending the request to the answer's end
