"""Chat Completions payloads the codec writes: responses, chunks, errors (UNSET is omitted)."""

from __future__ import annotations

import msgspec


class FunctionOut(msgspec.Struct):
    """A tool call's function, as written."""

    name: str | msgspec.UnsetType = msgspec.UNSET
    arguments: str | msgspec.UnsetType = msgspec.UNSET


class ToolCallOut(msgspec.Struct):
    """A tool call (or a stream fragment of one, with `index`), as written."""

    function: FunctionOut
    id: str | msgspec.UnsetType = msgspec.UNSET
    type: str | msgspec.UnsetType = msgspec.UNSET
    index: int | msgspec.UnsetType = msgspec.UNSET


class DetailOut(msgspec.Struct):
    """A `reasoning_details` entry, as written."""

    type: str
    text: str | msgspec.UnsetType = msgspec.UNSET
    signature: str | msgspec.UnsetType = msgspec.UNSET
    data: str | msgspec.UnsetType = msgspec.UNSET
    summary: str | msgspec.UnsetType = msgspec.UNSET
    id: str | msgspec.UnsetType = msgspec.UNSET
    format: str | msgspec.UnsetType = msgspec.UNSET
    index: int | msgspec.UnsetType = msgspec.UNSET


class PromptDetailsOut(msgspec.Struct):
    """`prompt_tokens_details`, as written."""

    cached_tokens: int
    cache_write_tokens: int | msgspec.UnsetType = msgspec.UNSET


class CompletionDetailsOut(msgspec.Struct):
    """`completion_tokens_details`, as written."""

    reasoning_tokens: int


class UsageOut(msgspec.Struct):
    """Usage, as written."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptDetailsOut
    completion_tokens_details: CompletionDetailsOut


class MessageOut(msgspec.Struct):
    """`choices[].message` of a response (or a stream delta, every field optional)."""

    role: str | msgspec.UnsetType = msgspec.UNSET
    content: str | msgspec.UnsetType | None = msgspec.UNSET
    refusal: str | msgspec.UnsetType | None = msgspec.UNSET
    reasoning_content: str | msgspec.UnsetType = msgspec.UNSET
    reasoning_details: list[DetailOut] | msgspec.UnsetType = msgspec.UNSET
    tool_calls: list[ToolCallOut] | msgspec.UnsetType = msgspec.UNSET


class ChoiceOut(msgspec.Struct):
    """A non-streamed choice, as written."""

    message: MessageOut
    finish_reason: str
    index: int = 0
    logprobs: None = None


class CompletionOut(msgspec.Struct):
    """A `chat.completion`, as written."""

    id: str
    created: int
    model: str
    choices: list[ChoiceOut]
    usage: UsageOut
    object: str = "chat.completion"


class ChunkChoiceOut(msgspec.Struct):
    """A streamed choice, as written."""

    delta: MessageOut
    finish_reason: str | None = None
    index: int = 0


class ChunkOut(msgspec.Struct):
    """A `chat.completion.chunk`, as written; `usage` is null/absent but on the usage chunk."""

    id: str
    created: int
    model: str
    choices: list[ChunkChoiceOut]
    usage: UsageOut | msgspec.UnsetType | None = msgspec.UNSET
    object: str = "chat.completion.chunk"


class ErrorOut(msgspec.Struct):
    """An error object, as written."""

    message: str
    type: str
    code: str | None = None
    param: str | None = None


class ErrorEnvelopeOut(msgspec.Struct):
    """An error body or stream frame, as written."""

    error: ErrorOut


ENCODER = msgspec.json.Encoder()
