"""The one surface every wire protocol offers, and the transport facts that go with it.

A codec is a package under `protocols/` whose module satisfies `Codec` (mypy checks each entry
of the registry in `protocols/__init__.py`). It is pure: bytes or Structs in, Structs or bytes
out; no I/O, no clock reads beyond ids and timestamps, no logging. Everything the server needs
to know about a protocol beyond that (routes, upstream addressing, keep-alives, error framing)
is data in its `Transport`, so no module outside `protocols/` branches on a protocol's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from plexus import ir, sse
from plexus.errors import GatewayError


@dataclass(frozen=True, slots=True)
class StreamUsageOption:
    """A request option that adds the usage to a stream (off by default), and how the event
    that then carries it looks, so it can be kept from a client that did not ask for it."""

    outer: str  # e.g. `stream_options`
    inner: str  # e.g. `include_usage`
    is_usage_event: Callable[[bytes], bool]  # on the data of one SSE event


@dataclass(frozen=True, slots=True)
class Transport:
    """What the server and the upstream client need to know about one wire protocol."""

    # Client side.
    client_path: str  # the POST route, or the prefix before `{model}:{action}` (model_in_url)
    client_path_aliases: tuple[str, ...] = ()  # the same routes under another API version
    model_in_url: bool = False  # the model and the stream flag travel in the URL, not the body
    url_actions: tuple[tuple[str, bool], ...] = ()  # `{model}:{action}` → stream flag
    count_tokens_path: str | None = None  # the client's token-counting route, if it has one
    embeddings_path: str | None = None  # the client's embeddings route (needs `EMBEDDINGS`)
    completions_path: str | None = None  # the client's legacy text-completions route
    error_paths: tuple[str, ...] = ()  # unknown paths under these answer in this format
    client_only_fields: tuple[str, ...] = ()  # fields only the vendor's own backend accepts
    keepalive: bytes = b": ping\n\n"  # sent on a silent stream; the client's SDK ignores it
    error_event: str | None = None  # the SSE event name of a stream's error frame
    operation: str = "chat"  # a generation's gen_ai.operation.name (OpenTelemetry GenAI)
    # Upstream side.
    upstream_path: str = ""  # appended to the base URL (to the model's path: model_in_url)
    upstream_stream_path: str = ""
    upstream_model_path: str = "/models/{model}"  # model_in_url: where the model goes
    upstream_count_tokens_path: str | None = None
    upstream_embeddings_path: str | None = None  # one input; None: no embeddings (`EMBEDDINGS`)
    upstream_batch_embeddings_path: str | None = None  # a list of inputs; None: the path above
    upstream_completions_path: str | None = None  # legacy text completions, passed through only
    auth_header: str = "authorization"
    auth_prefix: str = "Bearer "
    default_headers: tuple[tuple[str, str], ...] = ()  # sent unless the client sent them
    # Client headers a same-API provider always receives: only those that pick features, never
    # billing (`openai-organization` is a provider's `forward_headers` opt-in).
    forwarded_headers: tuple[str, ...] = ()
    stream_usage: StreamUsageOption | None = None  # None: a stream always reports its usage
    fetches_media_urls: bool = True  # False: image URLs are fetched and inlined for it
    item_ids: bool = False  # clients may refer to output items by id (`output_items`)
    # Answers kept by the gateway (`CONVERSATIONS`): `GET`/`DELETE {answers_path}{id}` and
    # `GET {answers_path}{id}{answer_items_suffix}`, the items that made the answer.
    answers_path: str | None = None
    answer_items_suffix: str | None = None

    def stream_for_action(self, action: str) -> bool | None:
        """The stream flag a URL action stands for, or None for an unknown action."""
        for name, stream in self.url_actions:
            if name == action:
                return stream
        return None


class StreamDecoding(Protocol):
    """Upstream SSE events → IR stream events; `finish()` closes what is open at EOF."""

    def feed(self, event: sse.Event) -> list[ir.StreamEvent]: ...

    def finish(self) -> list[ir.StreamEvent]: ...


class StreamEncoding(Protocol):
    """IR stream events → framed SSE bytes for the client; `finish()` ends the stream."""

    def feed(self, event: ir.StreamEvent) -> list[bytes]: ...

    def finish(self) -> list[bytes]: ...


class EmbeddingCodec(Protocol):
    """The embeddings operation of a wire protocol, client side and provider side; apart from
    `Codec`'s generation surface because it shares none of its shapes."""

    def decode_request(self, body: bytes) -> ir.EmbeddingRequest:
        """Client wire body → IR; raises `BadRequest` with the JSON path of the problem."""
        ...

    def encode_request(self, request: ir.EmbeddingRequest) -> dict[str, Any]:
        """IR → the upstream JSON body (for the batch path when `request.batched`); raises
        `Unsupported` for an input the protocol cannot take."""
        ...

    def decode_response(self, body: bytes) -> ir.Embeddings:
        """An upstream's answer → IR."""
        ...

    def encode_response(self, response: ir.Embeddings, request: ir.EmbeddingRequest) -> bytes:
        """IR → the client's body, vectors written as `request.encoding` asks."""
        ...


class ConversationCodec(Protocol):
    """A protocol's answers kept by the gateway for the client to continue and retrieve by id
    (Responses `store` and `previous_response_id`); apart from `Codec` as most protocols have
    none. A conversation is `(input items, answer)` JSON pairs, oldest first."""

    def continuation(self, body: bytes) -> tuple[str | None, bool]:
        """The id of the kept answer a request continues, if any, and whether its own answer
        may be kept."""
        ...

    def own_input(self, body: bytes) -> str:
        """The JSON array of a request's own input items, to keep with its answer."""
        ...

    def splice(self, body: bytes, conversation: list[tuple[str, str]]) -> bytes:
        """A request body continuing a kept conversation, rewritten to carry all of it."""
        ...

    def kept_answer(self, data: bytes) -> tuple[str, str] | None:
        """The id and JSON of the answer a response body or final stream event carries, if it
        is one to keep."""
        ...

    def issued_here(self, answer_id: str) -> bool:
        """Whether an id has the form of the gateway's own answer ids."""
        ...

    def deleted(self, answer_id: str) -> bytes:
        """The body answering the deletion of a kept answer."""
        ...

    def list_items(
        self, answer_id: str, conversation: list[tuple[str, str]], query: dict[str, str]
    ) -> bytes:
        """The page of the items that made an answer (its conversation's input and output
        items, then its own input) that the query asks for."""
        ...

    def unknown_answer(self, answer_id: str) -> GatewayError:
        """The error for an answer id that names nothing kept."""
        ...

    def unknown_continuation(self, answer_id: str, missing: str) -> GatewayError:
        """The error for a continuation of an answer (or an earlier one, `missing`) not kept."""
        ...


class Codec(Protocol):
    """The decode/encode surface of one wire protocol, client side and provider side."""

    @property
    def TRANSPORT(self) -> Transport: ...

    @property
    def EMBEDDINGS(self) -> EmbeddingCodec | None:
        """The protocol's embeddings operation, if it has one."""
        ...

    @property
    def CONVERSATIONS(self) -> ConversationCodec | None:
        """The protocol's answers kept by the gateway, if it has them."""
        ...

    @property
    def StreamDecoder(self) -> Callable[[], StreamDecoding]: ...

    @property
    def StreamEncoder(self) -> Callable[[ir.Request], StreamEncoding]: ...

    def decode_request(self, body: bytes) -> ir.Request:
        """Client wire body → IR; raises `BadRequest` with the JSON path of the problem."""
        ...

    def encode_request(self, request: ir.Request) -> dict[str, Any]:
        """IR → the upstream JSON body (the caller adds `extra_body` and serialises)."""
        ...

    def decode_response(self, body: bytes) -> ir.Response:
        """An upstream's non-streamed body → IR."""
        ...

    def encode_response(self, response: ir.Response, request: ir.Request) -> bytes:
        """IR → the client's body; `request` is the client's decoded request."""
        ...

    def encode_error(self, status: int, message: str, kind: str) -> bytes:
        """The protocol's error body."""
        ...

    def decode_error(self, status: int, body: bytes) -> ir.ErrorReport:
        """What an upstream's error answer says beyond its status."""
        ...

    def map_stop_reason(self, raw: str | None) -> ir.StopReason:
        """An upstream stop reason → the closed set."""
        ...

    def encode_count_request(self, request: ir.Request) -> dict[str, Any] | None:
        """IR → the body of the provider's own token counter, or None when it has none."""
        ...

    def decode_count(self, body: bytes) -> int:
        """The input token count of the provider counter's answer."""
        ...

    def output_items(self, data: bytes) -> list[tuple[str, bytes]]:
        """The (id, JSON) of the output items an answer body or final stream event carries."""
        ...

    def resolve_items(self, body: bytes, lookup: Callable[[str], bytes | None]) -> bytes:
        """A client body with its references to earlier output items replaced by the items."""
        ...

    def decode_usage_of(self, data: bytes) -> ir.Usage | None:
        """The usage a response body or one stream event's data carries, if any."""
        ...

    def content_length_of(self, data: bytes) -> int:
        """The characters of generated content (text, reasoning, tool arguments) one stream
        event's data carries (what a stream cut short is estimated from)."""
        ...

    def max_output_tokens_of(self, body: bytes) -> int | None:
        """The most output tokens a client's request body allows, if it says (read without
        decoding the rest, for the limits' estimate)."""
        ...
