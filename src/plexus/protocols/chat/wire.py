"""Chat Completions wire payloads (protocols.md part 1 and 5.1): the Structs the codec reads.

Wire Structs do not forbid unknown fields: clients and vendors add new ones. Fields a vendor may
send as `null` are typed `X | None`. What the codec writes, it builds as plain dicts, encoded
with `ENCODER`.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from plexus.ir import Effort

# --- content parts ---------------------------------------------------------------------------


class TextPart(msgspec.Struct, tag_field="type", tag="text"):
    """A text content part."""

    text: str


class ImageUrl(msgspec.Struct):
    """The image of an `image_url` part: an http(s) URL or a base64 data URL."""

    url: str
    detail: str | None = None


class ImagePart(msgspec.Struct, tag_field="type", tag="image_url"):
    """An image content part."""

    image_url: ImageUrl


class InputAudio(msgspec.Struct):
    """Base64 audio with its format (wav, mp3)."""

    data: str
    format: str


class AudioPart(msgspec.Struct, tag_field="type", tag="input_audio"):
    """An audio content part."""

    input_audio: InputAudio


class FileData(msgspec.Struct):
    """A file: base64 data (or a data URL), or a provider file id."""

    file_data: str | None = None
    file_id: str | None = None
    filename: str | None = None


class FilePart(msgspec.Struct, tag_field="type", tag="file"):
    """A file content part, such as a PDF."""

    file: FileData


class RefusalPart(msgspec.Struct, tag_field="type", tag="refusal"):
    """A refusal part in assistant content."""

    refusal: str


UserPart = TextPart | ImagePart | AudioPart | FilePart
AssistantPart = TextPart | RefusalPart

# --- messages --------------------------------------------------------------------------------


class FunctionCall(msgspec.Struct):
    """The function of a tool call: name and JSON arguments text (either may be null in deltas)."""

    name: str | None = None
    arguments: str | None = None


class CustomCall(msgspec.Struct):
    """The payload of a custom tool call."""

    name: str
    input: str = ""


class ToolCall(msgspec.Struct):
    """A tool call in an assistant message, a response, or a stream delta (`index` set)."""

    id: str | None = None
    type: str | None = None
    function: FunctionCall | None = None
    custom: CustomCall | None = None
    index: int | None = None


class ReasoningDetail(msgspec.Struct):
    """An OpenRouter `reasoning_details` entry: reasoning.text, .encrypted or .summary."""

    type: str
    text: str | None = None
    signature: str | None = None
    data: str | None = None
    summary: str | None = None
    id: str | None = None
    format: str | None = None
    index: int | None = None


class SystemMessage(msgspec.Struct, tag_field="role", tag="system"):
    """A system instruction."""

    content: str | list[TextPart]


class DeveloperMessage(msgspec.Struct, tag_field="role", tag="developer"):
    """A developer instruction (treated as system)."""

    content: str | list[TextPart]


class UserMessage(msgspec.Struct, tag_field="role", tag="user"):
    """A user turn."""

    content: str | list[UserPart]


class AssistantMessage(msgspec.Struct, tag_field="role", tag="assistant"):
    """An assistant turn, possibly with tool calls and vendor reasoning fields."""

    content: str | list[AssistantPart] | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None


class ToolMessage(msgspec.Struct, tag_field="role", tag="tool"):
    """The result of one tool call."""

    tool_call_id: str
    content: str | list[TextPart]


Message = SystemMessage | DeveloperMessage | UserMessage | AssistantMessage | ToolMessage

# --- request ---------------------------------------------------------------------------------


class FunctionDefinition(msgspec.Struct):
    """A function tool's definition."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDefinition(msgspec.Struct):
    """A tool entry: `{type: function, function: {...}}` (custom tools are rejected)."""

    type: str
    function: FunctionDefinition | None = None


class NamedFunction(msgspec.Struct):
    """A function named by `tool_choice`."""

    name: str


class AllowedTools(msgspec.Struct):
    """The `allowed_tools` restriction of `tool_choice`."""

    mode: Literal["auto", "required"]
    tools: list[ToolChoiceObject]


class ToolChoiceObject(msgspec.Struct):
    """An object `tool_choice`: a named function or an allowed-tools set."""

    type: str
    function: NamedFunction | None = None
    allowed_tools: AllowedTools | None = None


class JsonSchemaFormat(msgspec.Struct):
    """The `json_schema` of a `response_format`."""

    name: str = "response"
    description: str | None = None
    schema: dict[str, Any] | None = None
    strict: bool | None = None


class ResponseFormat(msgspec.Struct):
    """Structured output."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StreamOptions(msgspec.Struct):
    """`stream_options`."""

    include_usage: bool | None = None


class ReasoningOptions(msgspec.Struct):
    """OpenRouter/Vercel `reasoning` request object."""

    effort: Effort | None = None
    max_tokens: int | None = None
    enabled: bool | None = None
    exclude: bool | None = None


class LegacyFunctionChoice(msgspec.Struct):
    """Legacy `function_call: {name}`."""

    name: str


class Request(msgspec.Struct):
    """A `POST /chat/completions` body."""

    model: str
    messages: list[Message]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    n: int | None = None
    logprobs: bool | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    response_format: ResponseFormat | None = None
    tools: list[ToolDefinition] | None = None
    tool_choice: Literal["none", "auto", "required"] | ToolChoiceObject | None = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDefinition] | None = None
    function_call: Literal["none", "auto"] | LegacyFunctionChoice | None = None
    stream: bool | None = None
    stream_options: StreamOptions | None = None
    reasoning_effort: Effort | None = None
    reasoning: ReasoningOptions | None = None
    user: str | None = None
    safety_identifier: str | None = None


# --- responses -------------------------------------------------------------------------------


class PromptTokensDetails(msgspec.Struct):
    """`usage.prompt_tokens_details`."""

    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class CompletionTokensDetails(msgspec.Struct):
    """`usage.completion_tokens_details`."""

    reasoning_tokens: int | None = None


class Usage(msgspec.Struct):
    """Usage, with DeepSeek cache fields, MiniMax's top-level `reasoning_tokens` and the USD
    `cost` OpenRouter and Vercel report (a string is tolerated: it must not fail the answer)."""

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None
    prompt_cache_hit_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost: float | str | None = None


class ResponseMessage(msgspec.Struct):
    """`choices[].message` (and, read the same way, a stream `delta`)."""

    role: str | None = None
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None
    reasoning_details: list[ReasoningDetail] | None = None


class Choice(msgspec.Struct):
    """A non-streamed choice."""

    message: ResponseMessage
    index: int = 0
    finish_reason: str | None = None


class Completion(msgspec.Struct):
    """A non-streamed `chat.completion`."""

    choices: list[Choice]
    id: str | None = None
    model: str | None = None
    created: int | None = None
    usage: Usage | None = None


class ErrorObject(msgspec.Struct):
    """An error body: OpenAI uses string codes, OpenRouter numeric ones."""

    message: str | None = None
    type: str | None = None
    code: str | int | None = None
    param: str | None = None


class ChunkChoice(msgspec.Struct):
    """A streamed choice."""

    delta: ResponseMessage | None = None
    index: int = 0
    finish_reason: str | None = None


class Chunk(msgspec.Struct):
    """A `chat.completion.chunk`, or an `{"error": ...}` frame."""

    id: str | None = None
    model: str | None = None
    created: int | None = None
    choices: list[ChunkChoice] | None = None
    usage: Usage | None = None
    error: ErrorObject | str | None = None


class ErrorEnvelope(msgspec.Struct):
    """An HTTP error body `{"error": {...}}`."""

    error: ErrorObject


REQUEST_DECODER = msgspec.json.Decoder(Request)
COMPLETION_DECODER = msgspec.json.Decoder(Completion)
CHUNK_DECODER = msgspec.json.Decoder(Chunk)
ENCODER = msgspec.json.Encoder()
