"""Wire Structs of the Gemini generateContent API (protocols.md part 4), in REST camelCase.

Unknown fields are ignored. Structs omit their defaults, so the encoder builds bodies from the
same Structs and only the fields it sets reach the wire. Client bodies may use snake_case keys:
`normalise_keys` renames them before conversion, without entering free-form JSON values
(function arguments, responses, schemas).
"""

from __future__ import annotations

from typing import Any

import msgspec


class _Wire(msgspec.Struct, omit_defaults=True):
    """Base of every Gemini wire Struct."""


class Blob(_Wire):
    """`inlineData`: base64 bytes with their media type."""

    mimeType: str = "application/octet-stream"
    data: str = ""


class FileData(_Wire):
    """`fileData`: a Files-API, `gs://` or https URI."""

    fileUri: str = ""
    mimeType: str | None = None


class FunctionCall(_Wire):
    """`functionCall`: the model asking for a function, `args` as an object."""

    name: str = ""
    args: dict[str, Any] | None = None
    id: str | None = None


class FunctionResponse(_Wire):
    """`functionResponse`: a function result; `response` holds `output` or `error`."""

    name: str = ""
    response: dict[str, Any] | None = None
    id: str | None = None
    parts: list[Part] | None = None


class ExecutableCode(_Wire):
    """`executableCode`: code the model wrote for the code execution tool, which Google runs."""

    code: str = ""
    language: str | None = None
    id: str | None = None


class CodeExecutionResult(_Wire):
    """`codeExecutionResult`: the outcome of the `executableCode` before it, stdout or stderr."""

    outcome: str | None = None
    output: str | None = None
    id: str | None = None


class ToolCall(_Wire):
    """`toolCall`: a server-side tool the model invoked (search, URL context, maps)."""

    id: str | None = None
    toolType: str | None = None
    args: dict[str, Any] | None = None


class ToolResponse(_Wire):
    """`toolResponse`: what a server-side `toolCall` returned."""

    id: str | None = None
    toolType: str | None = None
    response: dict[str, Any] | None = None


class Part(_Wire):
    """One part; exactly one data field is set, `thought`/`thoughtSignature` are metadata."""

    text: str | None = None
    thought: bool | None = None
    thoughtSignature: str | None = None
    inlineData: Blob | None = None
    fileData: FileData | None = None
    functionCall: FunctionCall | None = None
    functionResponse: FunctionResponse | None = None
    executableCode: ExecutableCode | None = None
    codeExecutionResult: CodeExecutionResult | None = None
    toolCall: ToolCall | None = None
    toolResponse: ToolResponse | None = None


class Content(_Wire):
    """A turn: role `user` (the default) or `model`, and its parts."""

    parts: list[Part] = msgspec.field(default_factory=list)
    role: str | None = None


class FunctionDeclaration(_Wire):
    """A function tool: `parameters` (Google's OpenAPI subset) or `parametersJsonSchema`."""

    name: str = ""
    description: str | None = None
    parameters: dict[str, Any] | None = None
    parametersJsonSchema: dict[str, Any] | None = None


class Tool(_Wire):
    """One `tools` entry: function declarations and/or hosted tools."""

    functionDeclarations: list[FunctionDeclaration] | None = None
    googleSearch: dict[str, Any] | None = None
    googleSearchRetrieval: dict[str, Any] | None = None
    codeExecution: dict[str, Any] | None = None
    urlContext: dict[str, Any] | None = None


class FunctionCallingConfig(_Wire):
    """`toolConfig.functionCallingConfig`."""

    mode: str | None = None
    allowedFunctionNames: list[str] | None = None


class ToolConfig(_Wire):
    """`toolConfig`."""

    functionCallingConfig: FunctionCallingConfig | None = None


class ThinkingConfig(_Wire):
    """`generationConfig.thinkingConfig`: a budget (2.5) or a level (3), never both."""

    thinkingBudget: int | None = None
    thinkingLevel: str | None = None
    includeThoughts: bool | None = None


class GenerationConfig(_Wire):
    """`generationConfig`: sampling, limits, structured output and thinking."""

    maxOutputTokens: int | None = None
    temperature: float | None = None
    topP: float | None = None
    topK: int | None = None
    candidateCount: int | None = None
    stopSequences: list[str] | None = None
    seed: int | None = None
    presencePenalty: float | None = None
    frequencyPenalty: float | None = None
    responseMimeType: str | None = None
    responseSchema: dict[str, Any] | None = None
    responseJsonSchema: dict[str, Any] | None = None
    thinkingConfig: ThinkingConfig | None = None
    responseLogprobs: bool | None = None


class GenerateContentRequest(_Wire):
    """The request body; the model and the stream flag are in the URL."""

    contents: list[Content] = msgspec.field(default_factory=list)
    systemInstruction: Content | str | None = None
    tools: list[Tool] | None = None
    toolConfig: ToolConfig | None = None
    generationConfig: GenerationConfig | None = None


class GroundingWeb(_Wire):
    """A web page a Google Search grounding used."""

    uri: str = ""
    title: str | None = None


class GroundingChunk(_Wire):
    """One source of a grounded answer."""

    web: GroundingWeb | None = None


class GroundingMetadata(_Wire):
    """`groundingMetadata`: the Google Search queries run for the answer and the pages used."""

    webSearchQueries: list[str] | None = None
    groundingChunks: list[GroundingChunk] | None = None


class Candidate(_Wire):
    """One candidate answer."""

    content: Content | None = None
    finishReason: str | None = None
    index: int | None = None
    groundingMetadata: GroundingMetadata | None = None


class PromptFeedback(_Wire):
    """Why the prompt was blocked, when it was."""

    blockReason: str | None = None


class UsageMetadata(_Wire):
    """Token counts; the prompt includes cached tokens, candidates exclude thoughts."""

    promptTokenCount: int | None = None
    cachedContentTokenCount: int | None = None
    candidatesTokenCount: int | None = None
    thoughtsTokenCount: int | None = None
    toolUsePromptTokenCount: int | None = None
    totalTokenCount: int | None = None


class ErrorBody(_Wire):
    """A Google RPC status."""

    code: int = 0
    message: str = ""
    status: str = ""


class GenerateContentResponse(_Wire):
    """A whole answer, or one stream chunk (new parts only); `error` for a mid-stream failure."""

    candidates: list[Candidate] | None = None
    promptFeedback: PromptFeedback | None = None
    usageMetadata: UsageMetadata | None = None
    modelVersion: str | None = None
    responseId: str | None = None
    error: ErrorBody | None = None


class ErrorResponse(_Wire):
    """An error body."""

    error: ErrorBody


response_decoder = msgspec.json.Decoder(GenerateContentResponse)
encoder = msgspec.json.Encoder()

# Values holding caller-defined JSON: their keys are data, never field names.
_OPAQUE_KEYS = frozenset(
    {
        "args",
        "response",
        "parameters",
        "parameters_json_schema",
        "parametersJsonSchema",
        "response_schema",
        "responseSchema",
        "response_json_schema",
        "responseJsonSchema",
    }
)


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def normalise_keys(value: Any) -> Any:
    """Rename snake_case keys to camelCase, leaving free-form JSON values untouched."""
    if isinstance(value, dict):
        renamed: dict[str, Any] = {}
        for key, item in value.items():
            name = _camel(key) if "_" in key else key
            renamed[name] = item if key in _OPAQUE_KEYS else normalise_keys(item)
        return renamed
    if isinstance(value, list):
        return [normalise_keys(item) for item in value]
    return value
