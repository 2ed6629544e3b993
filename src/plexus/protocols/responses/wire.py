"""OpenAI Responses wire payloads (protocols.md part 3): tolerant view Structs, built once."""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

# --- request ---------------------------------------------------------------------------------


class ContentPart(msgspec.Struct):
    """A message or tool-output part: input_text, output_text, refusal, input_image, input_file."""

    type: str = "input_text"
    text: str | None = None
    refusal: str | None = None
    image_url: str | None = None
    detail: str | None = None
    file_id: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    filename: str | None = None


class SummaryPart(msgspec.Struct):
    """A reasoning summary or raw reasoning text part."""

    text: str = ""
    type: str = "summary_text"


class InputItem(msgspec.Struct):
    """Any input item; `type` absent means an easy message."""

    type: str = "message"
    role: str | None = None
    content: str | list[ContentPart] | None = None
    id: str | None = None
    call_id: str | None = None
    name: str | None = None
    namespace: str | None = None
    arguments: str | None = None
    input: str | None = None
    output: str | list[ContentPart] | None = None
    summary: list[SummaryPart] | None = None
    encrypted_content: str | None = None


class FunctionDefinition(msgspec.Struct):
    """The chat-style nested function of a tool (`{type:"function", function:{...}}`)."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolSpec(msgspec.Struct):
    """A tool: flat function, chat-nested function, custom, namespace of functions, or hosted."""

    type: str
    name: str | None = None
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None
    function: FunctionDefinition | None = None
    tools: list[ToolSpec] | None = None


class ToolChoiceName(msgspec.Struct):
    """The chat-style nested tool-choice function."""

    name: str


class ToolChoiceObject(msgspec.Struct):
    """An object tool choice: function, custom, allowed_tools, or a hosted tool type."""

    type: str
    name: str | None = None
    mode: str | None = None
    function: ToolChoiceName | None = None


class TextFormat(msgspec.Struct):
    """`text.format`: text, json_object or json_schema (flat)."""

    type: str = "text"
    name: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None
    description: str | None = None


class TextConfig(msgspec.Struct):
    """The `text` request field."""

    format: TextFormat | None = None
    verbosity: str | None = None


class ReasoningConfig(msgspec.Struct):
    """The `reasoning` request field."""

    effort: str | None = None
    summary: str | None = None
    generate_summary: str | None = None


class RequestBody(msgspec.Struct):
    """A `POST /v1/responses` body; unknown fields are ignored."""

    model: str
    input: str | list[InputItem] | UnsetType = UNSET
    instructions: str | None = None
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[ToolSpec] | None = None
    tool_choice: str | ToolChoiceObject | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: ReasoningConfig | None = None
    stream: bool | None = None
    user: str | None = None
    safety_identifier: str | None = None
    previous_response_id: str | None = None
    conversation: Any = None
    top_logprobs: int | None = None
    include: list[str] | None = None


# --- response --------------------------------------------------------------------------------


class OutputItem(msgspec.Struct):
    """An output item: message, function_call, custom_tool_call, reasoning, or a hosted call."""

    type: str
    id: str | None = None
    role: str | None = None
    status: str | None = None
    content: list[ContentPart] | None = None
    call_id: str | None = None
    name: str | None = None
    namespace: str | None = None
    arguments: str | None = None
    input: str | None = None
    summary: list[SummaryPart] | None = None
    encrypted_content: str | None = None


class InputTokensDetails(msgspec.Struct):
    """`usage.input_tokens_details`."""

    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class OutputTokensDetails(msgspec.Struct):
    """`usage.output_tokens_details`."""

    reasoning_tokens: int | None = None


class UsageBody(msgspec.Struct):
    """`usage`: input includes cached tokens, output includes reasoning."""

    input_tokens: int = 0
    output_tokens: int = 0
    input_tokens_details: InputTokensDetails | None = None
    output_tokens_details: OutputTokensDetails | None = None


class IncompleteDetails(msgspec.Struct):
    """Why a response is incomplete."""

    reason: str | None = None


class ResponseErrorBody(msgspec.Struct):
    """`error` of a failed response."""

    message: str = ""
    code: str | None = None


class ResponseBody(msgspec.Struct):
    """The `Response` object (also nested in lifecycle stream events)."""

    id: str = ""
    model: str = ""
    created_at: float | None = None
    status: str | None = None
    output: list[OutputItem] | None = None
    usage: UsageBody | None = None
    incomplete_details: IncompleteDetails | None = None
    error: ResponseErrorBody | None = None


# --- stream ----------------------------------------------------------------------------------


class StreamEventBody(msgspec.Struct):
    """A view of any stream event: only the fields the decoder reads."""

    type: str = ""
    sequence_number: int | None = None
    output_index: int | None = None
    content_index: int | None = None
    summary_index: int | None = None
    item_id: str | None = None
    item: OutputItem | None = None
    part: ContentPart | None = None
    delta: str | None = None
    text: str | None = None
    arguments: str | None = None
    input: str | None = None
    response: ResponseBody | None = None
    code: str | None = None
    message: str | None = None
    # Some servers nest the error of an `error` event.
    error: ResponseErrorBody | None = None


request_decoder = msgspec.json.Decoder(RequestBody)
response_decoder = msgspec.json.Decoder(ResponseBody)
event_decoder = msgspec.json.Decoder(StreamEventBody)
encoder = msgspec.json.Encoder()
