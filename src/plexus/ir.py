"""The internal model every codec decodes into and encodes from.

A superset of the four wire protocols (design.md section 2): ordered content blocks, tool calls,
thinking with signatures and their origin, cache hints, usage with cached tokens, and stream events.

Opaque reasoning tokens are always `ThinkingBlock`s. A Gemini `thoughtSignature` attached to a
function-call or text part becomes a `ThinkingBlock(text="", signature=..., origin="gemini")` placed
just before that part, so every client codec carries one kind of token and the Gemini encoder
re-attaches it to the part that follows.

Tools the provider runs itself (web search, code execution) are a `ServerToolCallBlock` and a
`ServerToolResultBlock` with their origin family and its native JSON: that family gets them back
untouched, any other a shape of its own where one exists, else readable text.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

ApiType = Literal["chat", "messages", "responses", "gemini"]
"""A wire protocol, used both for the client's API and for a provider's `type:`."""

Origin = Literal["anthropic", "gemini", "openai", "openai-compatible"]
"""Which provider family minted an opaque reasoning token or ran a server tool; what it minted
only goes back to that family."""

Role = Literal["user", "assistant", "system"]

StopReason = Literal[
    "end",
    "length",
    "tool_use",
    "stop_sequence",
    "content_filter",
    "refusal",
    "pause",
    "context_exceeded",
    "error",
    "other",
]
"""Closed set of reasons a turn ended; `other` keeps the raw upstream value in `raw_stop_reason`."""


class CacheHint(msgspec.Struct, frozen=True):
    """A prompt-cache breakpoint on a block (Anthropic `cache_control`)."""

    ttl: str | None = None


# --- content blocks -------------------------------------------------------------------------


class TextBlock(msgspec.Struct, tag="text"):
    """Plain text."""

    text: str
    cache: CacheHint | None = None


class ImageBlock(msgspec.Struct, tag="image"):
    """An image, either by URL or as standard (not URL-safe) base64 data with its media type."""

    url: str | None = None
    data: str | None = None
    media_type: str | None = None
    detail: str | None = None
    cache: CacheHint | None = None


class DocumentBlock(msgspec.Struct, tag="document"):
    """A file such as a PDF: base64 data, a URL, or plain text."""

    data: str | None = None
    url: str | None = None
    text: str | None = None
    media_type: str | None = None
    filename: str | None = None
    title: str | None = None
    cache: CacheHint | None = None


class ToolCallBlock(msgspec.Struct, tag="tool_call"):
    """The model asking for a tool: arguments are JSON text, as the OpenAI APIs carry them."""

    id: str
    name: str
    arguments: str = ""


ToolResultContent = TextBlock | ImageBlock | DocumentBlock


class ToolResultBlock(msgspec.Struct, tag="tool_result"):
    """The result of a tool call, paired with the call by `call_id`."""

    call_id: str
    content: list[ToolResultContent] = msgspec.field(default_factory=list)
    name: str | None = None
    is_error: bool = False
    cache: CacheHint | None = None


class ThinkingBlock(msgspec.Struct, tag="thinking"):
    """Reasoning: readable text and/or an opaque token that only its origin family accepts back.

    `redacted` holds Anthropic `redacted_thinking` data; `item_id` a Responses reasoning item id.
    """

    text: str = ""
    signature: str | None = None
    origin: Origin | None = None
    redacted: str | None = None
    item_id: str | None = None


class RefusalBlock(msgspec.Struct, tag="refusal"):
    """The model declining to answer (OpenAI `refusal`)."""

    text: str


class ServerToolSource(msgspec.Struct, omit_defaults=True):
    """A page a provider-run search found."""

    url: str
    title: str | None = None


class ServerToolCallBlock(msgspec.Struct, tag="server_tool_call", omit_defaults=True):
    """A tool the provider ran itself (web search, code execution), never the client.

    `name` is its kind (`web_search`, `code_execution`, ...), `input` its JSON input as text.
    `origin` is the family that ran it; `payload` the block or item as that family wrote it,
    which goes back only to that family, untouched (docs/mapping.md, server tools).
    """

    id: str
    name: str
    input: str = ""
    origin: Origin | None = None
    payload: msgspec.Raw = msgspec.Raw()


class ServerToolResultBlock(msgspec.Struct, tag="server_tool_result", omit_defaults=True):
    """What a provider-run tool returned, paired with its call by `call_id`: readable `text`
    (output, fetched text, error code) and the `sources` a search found, which any API can
    show; `origin` and `payload` as in ServerToolCallBlock."""

    call_id: str
    name: str
    text: str = ""
    sources: list[ServerToolSource] = msgspec.field(default_factory=list)
    is_error: bool = False
    origin: Origin | None = None
    payload: msgspec.Raw = msgspec.Raw()


Block = (
    TextBlock
    | ImageBlock
    | DocumentBlock
    | ToolCallBlock
    | ToolResultBlock
    | ThinkingBlock
    | RefusalBlock
    | ServerToolCallBlock
    | ServerToolResultBlock
)


class Message(msgspec.Struct):
    """One turn. Tool results travel as blocks of a `user` message, as in Anthropic Messages.

    A `system` message here is an instruction that appeared mid-conversation; leading
    instructions live in `Request.system`.
    """

    role: Role
    content: list[Block]


# --- request ---------------------------------------------------------------------------------


class Tool(msgspec.Struct):
    """A tool the model may call. `kind` is `function` or a hosted tool such as `web_search`."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    kind: str = "function"
    cache: CacheHint | None = None
    # A Responses `namespace` tool's function: `name` is the qualified name, `namespace` the group.
    namespace: str | None = None
    # A Responses `custom` (freeform) tool: a function taking {"input": <raw text>}.
    freeform: bool = False


class ToolChoice(msgspec.Struct):
    """How the model must use tools; `name` is set when `mode` is `tool`."""

    mode: Literal["auto", "none", "required", "tool"]
    name: str | None = None


Effort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class Reasoning(msgspec.Struct):
    """Reasoning controls: an effort level and/or an explicit budget (the budget wins)."""

    effort: Effort | None = None
    budget_tokens: int | None = None
    summary: str | None = None
    enabled: bool = True


class ResponseFormat(msgspec.Struct):
    """Structured output: plain text, any JSON object, or JSON matching `schema`."""

    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class Request(msgspec.Struct):
    """A generation request, whatever API it came from."""

    model: str
    messages: list[Message]
    system: list[TextBlock] = msgspec.field(default_factory=list)
    tools: list[Tool] = msgspec.field(default_factory=list)
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = msgspec.field(default_factory=list)
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    reasoning: Reasoning | None = None
    response_format: ResponseFormat | None = None
    stream: bool = False
    include_usage: bool = False
    user: str | None = None
    # The gateway keeps the answer for the client to continue and retrieve (Responses `store`
    # with responses.store on), and the id of the kept answer this request continued.
    kept: bool = False
    continues: str | None = None


# --- response --------------------------------------------------------------------------------


class Usage(msgspec.Struct):
    """Token usage in disjoint buckets: `input_tokens` excludes cache reads and writes;
    `output_tokens` includes reasoning, of which `reasoning_tokens` is the part known.
    `cost` is what the provider says the call cost in USD, when it says (OpenRouter, Vercel)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int | None = None
    cost: float | None = None

    @property
    def total_input_tokens(self) -> int:
        """Input including cached tokens, as OpenAI and Gemini count it."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


class Response(msgspec.Struct):
    """A complete model answer."""

    id: str
    model: str
    content: list[Block]
    stop_reason: StopReason = "end"
    raw_stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage = msgspec.field(default_factory=Usage)
    created: int = 0


# --- stream events ---------------------------------------------------------------------------
# A decoder numbers blocks 0, 1, 2... in the order it opens them; every block is opened by
# BlockStart before its deltas and closed by BlockStop. Several blocks may be open at once
# (parallel tool calls streamed interleaved by chat upstreams).


class MessageStart(msgspec.Struct, tag="message_start"):
    """The answer begins; usage carries input counts when the upstream knows them already."""

    id: str
    model: str
    usage: Usage | None = None


class BlockStart(msgspec.Struct, tag="block_start"):
    """A block opens; `block` is its initial state (a tool call's id and name, empty text);
    server tool blocks arrive whole, with no deltas."""

    index: int
    block: Block


class TextDelta(msgspec.Struct, tag="text_delta"):
    """More text for a text (or refusal) block."""

    index: int
    text: str


class ThinkingDelta(msgspec.Struct, tag="thinking_delta"):
    """More reasoning text for a thinking block."""

    index: int
    text: str


class SignatureDelta(msgspec.Struct, tag="signature_delta"):
    """The opaque token of a thinking block."""

    index: int
    signature: str


class ToolArgumentsDelta(msgspec.Struct, tag="tool_arguments_delta"):
    """A fragment of a tool call's JSON arguments."""

    index: int
    json: str


class BlockStop(msgspec.Struct, tag="block_stop"):
    """A block is complete."""

    index: int


class UsageUpdate(msgspec.Struct, tag="usage"):
    """Usage so far (cumulative, replaces earlier values)."""

    usage: Usage


class Finish(msgspec.Struct, tag="finish"):
    """The answer ended normally; final usage if known."""

    stop_reason: StopReason
    raw_stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage | None = None


class ErrorReport(msgspec.Struct):
    """What an upstream's error answer says, as its codec reads it: beyond the HTTP status, the
    body may name a truer status and kind (a bad key sent as 400) or a delay to retry after."""

    message: str | None = None
    status: int | None = None  # the status a client of another API should see, if not the same
    kind: str | None = None
    retry_after: float | None = None  # seconds, from the body


class StreamError(msgspec.Struct, tag="error"):
    """The upstream failed mid-stream; the client gets its protocol's error event."""

    message: str
    kind: str = "api_error"
    status: int = 502


StreamEvent = (
    MessageStart
    | BlockStart
    | TextDelta
    | ThinkingDelta
    | SignatureDelta
    | ToolArgumentsDelta
    | BlockStop
    | UsageUpdate
    | Finish
    | StreamError
)


class EmbeddingRequest(msgspec.Struct):
    """A request for embedding vectors, one per input; an input is a text or token ids."""

    model: str
    inputs: list[str | list[int]]
    batched: bool = False  # the input was a list (of texts or of token lists), not a single one
    dimensions: int | None = None
    encoding: Literal["float", "base64"] = "float"  # how the client wants the vectors written
    user: str | None = None


class Embeddings(msgspec.Struct):
    """Embedding vectors in the order of the inputs, and the input tokens they took."""

    model: str
    vectors: list[list[float]]
    usage: Usage = msgspec.field(default_factory=Usage)
