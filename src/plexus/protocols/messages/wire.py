"""Wire Structs of Anthropic Messages (protocols.md part 2); unknown fields are ignored.

Blocks are one permissive Struct keyed by `type` rather than a tagged union, so block types we
do not model (search results, future types) decode instead of failing. Message content stays a
list of `Raw` blocks, each decoded on its own, so a server tool block keeps the exact JSON it
came as. Nested JSON that only some block types carry (`content`, `input`) stays `Raw` until
read.
"""

from __future__ import annotations

from typing import Any

import msgspec


class CacheControl(msgspec.Struct):
    """A `cache_control` mark."""

    type: str = "ephemeral"
    ttl: str | None = None


class Source(msgspec.Struct):
    """An image or document source: base64, url, text or content."""

    type: str
    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    content: msgspec.Raw = msgspec.Raw()


class Block(msgspec.Struct):
    """Any content block, request or response side."""

    type: str
    text: str | None = None
    source: Source | None = None
    id: str | None = None
    name: str | None = None
    input: msgspec.Raw = msgspec.Raw()
    tool_use_id: str | None = None
    content: msgspec.Raw = msgspec.Raw()
    is_error: bool | None = None
    thinking: str | None = None
    signature: str | None = None
    data: str | None = None
    title: str | None = None
    cache_control: CacheControl | None = None


class InputMessage(msgspec.Struct):
    """One entry of the request `messages` array; each block is decoded with BLOCK_DECODER."""

    role: str
    content: str | list[msgspec.Raw]


class InputTool(msgspec.Struct):
    """A custom tool (no `type`, or `custom`) or a typed Anthropic tool."""

    name: str
    type: str | None = None
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    strict: bool | None = None
    cache_control: CacheControl | None = None


class InputToolChoice(msgspec.Struct):
    """`tool_choice`."""

    type: str
    name: str | None = None
    disable_parallel_tool_use: bool | None = None


class Thinking(msgspec.Struct):
    """`thinking`: enabled, adaptive or disabled."""

    type: str
    budget_tokens: int | None = None
    display: str | None = None


class OutputFormat(msgspec.Struct):
    """`output_config.format`."""

    type: str
    schema: dict[str, Any] | None = None


class OutputConfig(msgspec.Struct):
    """`output_config`: effort and structured output."""

    effort: str | None = None
    format: OutputFormat | None = None


class Thread(msgspec.Struct):
    """`thread`: start holding the conversation (`create`) or continue one (`continue`)."""

    type: str
    previous_message_id: str | None = None


class Metadata(msgspec.Struct):
    """`metadata`."""

    user_id: str | None = None


class InputRequest(msgspec.Struct):
    """The request body a Messages client sends."""

    model: str
    messages: list[InputMessage]
    max_tokens: int | None = None
    system: str | list[Block] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: list[str] | None = None
    stream: bool | None = None
    tools: list[InputTool] | None = None
    tool_choice: InputToolChoice | None = None
    thinking: Thinking | None = None
    # Deprecated top-level form of output_config.format (beta structured-outputs-2025-11-13).
    output_format: OutputFormat | None = None
    thread: Thread | None = None  # beta message-threads-2026-08-12: server-held history
    output_config: OutputConfig | None = None
    metadata: Metadata | None = None


class OutputTokensDetails(msgspec.Struct):
    """`usage.output_tokens_details`."""

    thinking_tokens: int | None = None


class WireUsage(msgspec.Struct):
    """`usage` of a message, `message_start` or `message_delta` (cumulative)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_creation_input_tokens: int | None = None
    cache_read_input_tokens: int | None = None
    output_tokens_details: OutputTokensDetails | None = None


class WireMessage(msgspec.Struct):
    """A response `message` object (also inside `message_start`)."""

    id: str = ""
    model: str = ""
    content: list[msgspec.Raw] = msgspec.field(default_factory=list)
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: WireUsage | None = None


class Delta(msgspec.Struct):
    """A `content_block_delta.delta` or a `message_delta.delta`."""

    type: str | None = None
    text: str | None = None
    partial_json: str | None = None
    thinking: str | None = None
    signature: str | None = None
    stop_reason: str | None = None
    stop_sequence: str | None = None


class ErrorObject(msgspec.Struct):
    """The inner `error` of an error body or event."""

    type: str = "api_error"
    message: str = ""


class StreamPayload(msgspec.Struct):
    """Any stream event payload, viewed through the fields we read."""

    type: str
    message: WireMessage | None = None
    index: int | None = None
    content_block: msgspec.Raw = msgspec.Raw()  # a Block, decoded on `content_block_start`
    delta: Delta | None = None
    usage: WireUsage | None = None
    error: ErrorObject | None = None


REQUEST_DECODER = msgspec.json.Decoder(InputRequest)
BLOCK_DECODER = msgspec.json.Decoder(Block)
BLOCKS_DECODER = msgspec.json.Decoder(str | list[msgspec.Raw])
MESSAGE_DECODER = msgspec.json.Decoder(WireMessage)
PAYLOAD_DECODER = msgspec.json.Decoder(StreamPayload)
ENCODER = msgspec.json.Encoder()
