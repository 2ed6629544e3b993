"""GenerateContentResponse ↔ IR response, stop reasons, usage, errors (protocols.md 4.5–4.10)."""

from __future__ import annotations

import msgspec

from plexus import ir
from plexus.errors import UpstreamError
from plexus.protocols import common
from plexus.protocols.gemini import wire
from plexus.protocols.gemini.parts import CallLedger, decode_parts, encode_parts
from plexus.protocols.gemini.server_tools import grounding_blocks, grounding_of

_FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)
_FAILED = frozenset(
    {
        "MALFORMED_FUNCTION_CALL",
        "UNEXPECTED_TOOL_CALL",
        "TOO_MANY_TOOL_CALLS",
        "LANGUAGE",
        "NO_IMAGE",
        "IMAGE_OTHER",
    }
)
_KNOWN = _FILTERED | _FAILED | {"STOP", "MAX_TOKENS", "OTHER", "FINISH_REASON_UNSPECIFIED"}
_STATUS_FOR_KIND = {
    "invalid_request": "INVALID_ARGUMENT",
    "authentication": "UNAUTHENTICATED",
    "permission": "PERMISSION_DENIED",
    "not_found": "NOT_FOUND",
    "unknown_path": "NOT_FOUND",
    "too_large": "INVALID_ARGUMENT",
    "rate_limit": "RESOURCE_EXHAUSTED",
    "billing": "RESOURCE_EXHAUSTED",
    "overloaded": "UNAVAILABLE",
    "timeout": "DEADLINE_EXCEEDED",
    "api_error": "INTERNAL",
}


def map_stop_reason(raw: str | None) -> ir.StopReason:
    """Map a Gemini `finishReason` to the closed set (protocols.md 6.14)."""
    match raw:
        case None | "STOP" | "FINISH_REASON_UNSPECIFIED":
            return "end"
        case "MAX_TOKENS":
            return "length"
        case str() if raw in _FILTERED:
            return "content_filter"
        case str() if raw in _FAILED:
            return "error"
        case _:
            return "other"


def finish_reason_for(stop: ir.StopReason, raw: str | None) -> str:
    """Map a canonical stop reason to a Gemini `finishReason` (an enum: no free strings)."""
    match stop:
        case "end" | "stop_sequence" | "tool_use" | "pause":
            return "STOP"
        case "length" | "context_exceeded":
            return "MAX_TOKENS"
        case "content_filter" | "refusal":
            return "SAFETY"
        case _:
            return raw if raw in _KNOWN else "OTHER"


def decode_usage(usage: wire.UsageMetadata) -> ir.Usage:
    """Split Gemini counts into the IR's disjoint buckets (protocols.md 6.15)."""
    cached = usage.cachedContentTokenCount or 0
    prompt = (usage.promptTokenCount or 0) + (usage.toolUsePromptTokenCount or 0)
    thoughts = usage.thoughtsTokenCount
    return ir.Usage(
        input_tokens=max(prompt - cached, 0),
        cache_read_tokens=cached,
        output_tokens=(usage.candidatesTokenCount or 0) + (thoughts or 0),
        reasoning_tokens=thoughts,
    )


def encode_usage(usage: ir.Usage) -> wire.UsageMetadata:
    """Express IR usage as Gemini counts: the prompt includes cache, candidates exclude thoughts."""
    reasoning = usage.reasoning_tokens or 0
    prompt = usage.total_input_tokens
    return wire.UsageMetadata(
        promptTokenCount=prompt,
        cachedContentTokenCount=usage.cache_read_tokens or None,
        candidatesTokenCount=max(usage.output_tokens - reasoning, 0),
        thoughtsTokenCount=reasoning or None,
        totalTokenCount=prompt + usage.output_tokens,
    )


def stop_for(
    candidate: wire.Candidate | None, feedback: wire.PromptFeedback | None
) -> tuple[ir.StopReason, str | None]:
    """Return the stop reason and raw value of a candidate, or of a blocked prompt."""
    if candidate is None:
        if feedback is not None and feedback.blockReason:
            return "content_filter", feedback.blockReason
        return "other", None
    return map_stop_reason(candidate.finishReason), candidate.finishReason


def decode_response(body: bytes) -> ir.Response:
    """Decode an upstream generateContent answer."""
    try:
        payload = wire.response_decoder.decode(body)
    except msgspec.DecodeError as error:
        raise UpstreamError(f"malformed Gemini response: {error}", status=502) from error
    if payload.error is not None:
        raise UpstreamError(
            payload.error.message or "Gemini error", status=payload.error.code or 502
        )
    candidate = payload.candidates[0] if payload.candidates else None
    parts = candidate.content.parts if candidate and candidate.content else []
    content = decode_parts(parts, CallLedger(), from_client=False)
    content += grounding_blocks(candidate.groundingMetadata if candidate else None)
    stop, raw = stop_for(candidate, payload.promptFeedback)
    if stop == "end" and any(isinstance(block, ir.ToolCallBlock) for block in content):
        stop = "tool_use"
    usage = decode_usage(payload.usageMetadata) if payload.usageMetadata else ir.Usage()
    return ir.Response(
        id=payload.responseId or common.mint_id("gen-"),
        model=payload.modelVersion or "",
        content=content,
        stop_reason=stop,
        raw_stop_reason=raw,
        usage=usage,
    )


def encode_response(response: ir.Response, request: ir.Request) -> bytes:
    """Encode an IR answer as a GenerateContentResponse for a Gemini client."""
    parts = encode_parts(response.content, for_client=True) or [wire.Part(text="")]
    candidate = wire.Candidate(
        content=wire.Content(role="model", parts=parts),
        finishReason=finish_reason_for(response.stop_reason, response.raw_stop_reason),
        index=0,
        groundingMetadata=grounding_of(response.content),
    )
    payload = wire.GenerateContentResponse(
        candidates=[candidate],
        usageMetadata=encode_usage(response.usage),
        modelVersion=response.model or request.model,
        responseId=response.id,
    )
    return wire.encoder.encode(payload)


def error_body(status: int, message: str, kind: str) -> wire.ErrorBody:
    """Return a Google RPC status for a gateway error."""
    return wire.ErrorBody(
        code=status, message=message, status=_STATUS_FOR_KIND.get(kind, "INTERNAL")
    )


def encode_error(status: int, message: str, kind: str) -> bytes:
    """Encode an error body in Gemini's format."""
    return wire.encoder.encode(wire.ErrorResponse(error=error_body(status, message, kind)))


class _UsageCarrier(msgspec.Struct):
    usageMetadata: wire.UsageMetadata | None = None


_usage_carrier = msgspec.json.Decoder(_UsageCarrier)


def decode_usage_of(data: bytes) -> ir.Usage | None:
    """The usage of a `generateContent` body or of one streamed chunk."""
    try:
        usage = _usage_carrier.decode(data).usageMetadata
    except msgspec.DecodeError:
        return None
    return decode_usage(usage) if usage is not None else None


class _FunctionCall(msgspec.Struct):
    args: msgspec.Raw = msgspec.Raw(b"")


class _Code(msgspec.Struct):
    code: str = ""


class _ContentPart(msgspec.Struct):
    text: str | None = None  # a thought's text too
    functionCall: _FunctionCall | None = None
    executableCode: _Code | None = None  # the code execution tool's input


class _Content(msgspec.Struct):
    parts: list[_ContentPart] | None = None


class _Candidate(msgspec.Struct):
    content: _Content | None = None


class _ContentCarrier(msgspec.Struct):
    candidates: list[_Candidate] | None = None


_content_carrier = msgspec.json.Decoder(_ContentCarrier)


def content_length_of(data: bytes) -> int:
    """The characters of generated content (text, thoughts, call arguments, code) in one
    chunk."""
    try:
        candidates = _content_carrier.decode(data).candidates or ()
    except msgspec.DecodeError:
        return 0
    length = 0
    for candidate in candidates:
        parts = candidate.content.parts if candidate.content is not None else None
        for part in parts or ():
            length += len(part.text or "")
            call = part.functionCall
            length += len(call.args) if call is not None else 0
            code = part.executableCode
            length += len(code.code) if code is not None else 0
    return length


class _Detail(msgspec.Struct, rename={"type": "@type"}):
    type: str = ""
    reason: str | None = None
    retryDelay: str | None = None


class _Status(msgspec.Struct):
    message: str | None = None
    details: list[_Detail] = msgspec.field(default_factory=list)


class _ErrorAnswer(msgspec.Struct):
    error: _Status | None = None


_error_answer = msgspec.json.Decoder(_ErrorAnswer)
_BAD_KEYS = frozenset({"API_KEY_INVALID", "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED"})


def decode_error(status: int, body: bytes) -> ir.ErrorReport:
    """A Google RPC error: a bad key is sent as 400 INVALID_ARGUMENT with an ErrorInfo reason
    (clients of other APIs must see 401), and a 429's delay is only in its RetryInfo (issue 11)."""
    try:
        answer = _error_answer.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return common.decode_error(status, body)
    if answer.error is None:
        return common.decode_error(status, body)
    report = ir.ErrorReport(message=answer.error.message)
    for detail in answer.error.details:
        if detail.type.endswith("ErrorInfo") and detail.reason in _BAD_KEYS:
            report.status, report.kind = 401, "authentication"
        elif detail.type.endswith("RetryInfo") and detail.retryDelay:
            report.retry_after = _seconds(detail.retryDelay)
    return report


def _seconds(duration: str) -> float | None:
    """A protobuf Duration in JSON (`"7s"`, `"0.5s"`) in seconds."""
    try:
        return float(duration.removesuffix("s"))
    except ValueError:
        return None
