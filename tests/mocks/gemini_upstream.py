"""A strict mock of the Gemini API (`:generateContent`, `:streamGenerateContent?alt=sse`; the
embeddings actions are in gemini_embeddings.py).

Written without Plexus code. It validates requests as the real API does (protocols.md part 4):
`x-goog-api-key` (a wrong key is a 400 API_KEY_INVALID, as on the real API), the path, unknown
fields ("Invalid JSON payload received. Unknown name ..."), roles, non-empty parts, function
responses answering calls of the previous model turn, value ranges, the thinking config, and on
Gemini 3 models the thought signature on the first call of each model turn. Streams use Google's
`\\r\\n\\r\\n` separators and repeat `usageMetadata`, `modelVersion` and `responseId` on every
chunk. `Reply.input_tokens` is the whole prompt, cached tokens included, as Gemini counts it;
`Reply.output_tokens` includes `reasoning_tokens`, which Gemini reports apart as thoughts.
"""

from __future__ import annotations

import json
import re
from typing import Any

from aiohttp import web

from tests.mocks import gemini_embeddings
from tests.mocks.base import MockState, Received, Reply
from tests.mocks.server_tools import Refused, check_gemini_parts, gemini_grounding, gemini_parts

_MALFORMED = (AttributeError, TypeError, KeyError, IndexError, ValueError)

_TOP_LEVEL = {
    "contents", "systemInstruction", "tools", "toolConfig", "safetySettings", "cachedContent",
    "generationConfig", "serviceTier", "labels",
}  # fmt: skip
_GENERATION = {
    "temperature", "topP", "topK", "candidateCount", "maxOutputTokens", "stopSequences",
    "presencePenalty", "frequencyPenalty", "seed", "responseMimeType", "responseSchema",
    "responseJsonSchema", "responseLogprobs", "logprobs", "responseModalities",
    "mediaResolution", "speechConfig", "imageConfig", "thinkingConfig",
    "enableEnhancedCivicAnswers",
}  # fmt: skip
_PART_DATA = {
    "text", "inlineData", "fileData", "functionCall", "functionResponse", "executableCode",
    "codeExecutionResult", "toolCall", "toolResponse",
}  # fmt: skip
_PART_META = {"thought", "thoughtSignature", "videoMetadata", "mediaResolution", "partMetadata"}
_TOOL_KEYS = {
    "functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution",
    "urlContext", "googleMaps", "fileSearch", "computerUse", "mcpServers",
}  # fmt: skip
_FUNCTION_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$")
_LEVELS = {"MINIMAL", "LOW", "MEDIUM", "HIGH"}
_MODES = {"AUTO", "ANY", "NONE", "VALIDATED", "MODE_UNSPECIFIED"}
_STATUS = {
    400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED",
}  # fmt: skip
_FINISH = {
    "end": "STOP", "tool_use": "STOP", "stop_sequence": "STOP", "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
}  # fmt: skip


class Invalid(Exception):
    """A request the real API would answer with 400 INVALID_ARGUMENT."""


def _camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(word[:1].upper() + word[1:] for word in rest)


def _known(obj: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in obj:
        if _camel(key) not in allowed:
            raise Invalid(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                "Cannot find field."
            )


def _get(obj: dict[str, Any], key: str) -> Any:
    """Read a field by its camelCase name or its snake_case spelling (the API takes both)."""
    if key in obj:
        return obj[key]
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), key))


def _validate_part(part: Any, where: str) -> None:
    if not isinstance(part, dict):
        raise Invalid(f"Invalid value at '{where}': expected an object")
    _known(part, _PART_DATA | _PART_META, where)
    data = [key for key in part if _camel(key) in _PART_DATA]
    if len(data) != 1:
        raise Invalid(f"{where}: a part must have exactly one data field, got {len(data)}")
    if part.get("text") == "" and not _get(part, "thoughtSignature"):
        raise Invalid(
            "Unable to submit request because it has an empty text parameter. Add a value to "
            f"the parameter and try again. ({where})"
        )
    call = _get(part, "functionCall")
    if call is not None and not (isinstance(call, dict) and call.get("name")):
        raise Invalid(f"{where}.function_call.name: Name cannot be empty.")
    if call is not None and not isinstance(call.get("args", {}), dict):
        raise Invalid(f"Invalid value at '{where}.function_call.args': expected a Struct")


def _validate_turn(content: dict[str, Any], previous: dict[str, Any] | None, where: str) -> None:
    role = content.get("role", "user")
    responses = [_get(p, "functionResponse") for p in content["parts"]]
    responses = [r for r in responses if r is not None]
    if not responses:
        return
    if role != "user":
        raise Invalid(f"{where}: function responses must be in a user turn")
    calls = [_get(p, "functionCall") for p in (previous or {}).get("parts", [])]
    names = [c["name"] for c in calls if c is not None]
    for response in responses:
        if not isinstance(response, dict) or not response.get("name"):
            raise Invalid(f"{where}.function_response.name: Name cannot be empty.")
        if not isinstance(response.get("response", {}), dict):
            raise Invalid(
                f"Invalid value at '{where}.function_response.response': expected a Struct"
            )
        if response["name"] not in names:
            raise Invalid(
                "Please ensure that function response turn comes immediately after a function call "
                f"turn, and that each response names a call of that turn ({response['name']!r})."
            )


def _validate_signatures(contents: list[dict[str, Any]]) -> None:
    for position, content in enumerate(contents):
        if content.get("role") != "model":
            continue
        calls = [p for p in content["parts"] if _get(p, "functionCall") is not None]
        if calls and not _get(calls[0], "thoughtSignature"):
            name = _get(calls[0], "functionCall")["name"]
            raise Invalid(
                f"Function call `{name}` in the {position + 1}. content block is missing a "
                "`thought_signature`."
            )


def _validate_contents(contents: Any, model: str) -> None:
    if not isinstance(contents, list) or not contents:
        raise Invalid("* GenerateContentRequest.contents: contents is not specified")
    previous: dict[str, Any] | None = None
    for position, content in enumerate(contents):
        where = f"contents[{position}]"
        if not isinstance(content, dict):
            raise Invalid(f"Invalid value at '{where}': expected an object")
        _known(content, {"role", "parts"}, where)
        if content.get("role", "user") not in ("user", "model"):
            raise Invalid(f"Please use a valid role: user, model. ({content.get('role')!r})")
        parts = content.get("parts")
        if not isinstance(parts, list) or not parts:
            raise Invalid(
                f"* GenerateContentRequest.{where}.parts: contents.parts must not be empty."
            )
        for index, part in enumerate(parts):
            _validate_part(part, f"{where}.parts[{index}]")
        try:
            check_gemini_parts(content, where)
        except Refused as refused:
            raise Invalid(str(refused)) from refused
        _validate_turn(content, previous, where)
        previous = content
    if "gemini-3" in model:
        _validate_signatures(contents)


def _validate_tools(tools: Any, tool_config: Any) -> None:
    for position, tool in enumerate(tools or []):
        _known(tool, _TOOL_KEYS, f"tools[{position}]")
        for declaration in _get(tool, "functionDeclarations") or []:
            _known(
                declaration,
                {"name", "description", "parameters", "parametersJsonSchema", "response",
                 "responseJsonSchema", "behavior"},
                "function_declarations",
            )  # fmt: skip
            if not _FUNCTION_NAME.match(str(declaration.get("name", ""))):
                raise Invalid(
                    f"* function_declarations.name: invalid name {declaration.get('name')!r}"
                )
            if (
                "parameters" in declaration
                and _get(declaration, "parametersJsonSchema") is not None
            ):
                raise Invalid("parameters and parameters_json_schema are mutually exclusive")
    calling = _get(tool_config or {}, "functionCallingConfig") or {}
    if calling.get("mode") is not None and calling["mode"] not in _MODES:
        raise Invalid(
            f"Invalid value at 'tool_config.function_calling_config.mode' ({calling['mode']})"
        )


def _validate_generation(config: dict[str, Any]) -> None:
    _known(config, _GENERATION, "generation_config")
    temperature = _get(config, "temperature")
    if temperature is not None and not 0 <= temperature <= 2:
        raise Invalid("* GenerateContentRequest.generation_config.temperature: must be in [0, 2]")
    top_p = _get(config, "topP")
    if top_p is not None and not 0 <= top_p <= 1:
        raise Invalid("* GenerateContentRequest.generation_config.top_p: must be in [0, 1]")
    top_k = _get(config, "topK")
    if top_k is not None and top_k < 1:
        raise Invalid("* GenerateContentRequest.generation_config.top_k: must be positive")
    if len(_get(config, "stopSequences") or []) > 5:
        raise Invalid("* GenerateContentRequest.generation_config.stop_sequences: at most 5")
    count = _get(config, "candidateCount")
    if count is not None and not 1 <= count <= 8:
        raise Invalid("* GenerateContentRequest.generation_config.candidate_count: must be 1-8")
    limit = _get(config, "maxOutputTokens")
    if limit is not None and limit < 1:
        raise Invalid(
            "* GenerateContentRequest.generation_config.max_output_tokens: must be positive"
        )
    thinking = _get(config, "thinkingConfig") or {}
    _known(thinking, {"thinkingBudget", "thinkingLevel", "includeThoughts"}, "thinking_config")
    budget, level = _get(thinking, "thinkingBudget"), _get(thinking, "thinkingLevel")
    if budget is not None and level is not None:
        raise Invalid("You can only set either thinking budget or thinking level, not both.")
    if level is not None and level not in _LEVELS:
        raise Invalid(
            f"Invalid value at 'generation_config.thinking_config.thinking_level' ({level})"
        )
    if budget is not None and (budget < -1 or budget > 32768):
        raise Invalid("The thinking budget must be -1 or between 0 and 32768.")


def validate(body: dict[str, Any], model: str) -> None:
    """Raise `Invalid` for a request the real API would reject."""
    _known(body, _TOP_LEVEL, "")
    _validate_contents(body.get("contents"), model)
    _validate_tools(body.get("tools"), _get(body, "toolConfig"))
    config = _get(body, "generationConfig")
    if config is not None:
        _validate_generation(config)
    system = _get(body, "systemInstruction")
    if system is not None and not (isinstance(system, dict) and system.get("parts")):
        raise Invalid("* GenerateContentRequest.system_instruction.parts: must not be empty")
    for index, part in enumerate(system.get("parts", []) if isinstance(system, dict) else []):
        _validate_part(part, f"system_instruction.parts[{index}]")


def _usage(reply: Reply, final: bool = True) -> dict[str, Any]:
    usage: dict[str, Any] = {
        "promptTokenCount": reply.input_tokens,
        "totalTokenCount": reply.input_tokens,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": reply.input_tokens}],
    }
    if reply.cached_tokens:
        usage["cachedContentTokenCount"] = reply.cached_tokens
    if final:
        usage["candidatesTokenCount"] = max(reply.output_tokens - reply.reasoning_tokens, 0)
        usage["totalTokenCount"] = reply.input_tokens + reply.output_tokens
        if reply.reasoning_tokens:
            usage["thoughtsTokenCount"] = reply.reasoning_tokens
    return usage


def _calls(reply: Reply) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for call in reply.tool_calls:
        function_call: dict[str, Any] = {"name": call.name, "args": call.arguments}
        if call.id is not None:
            function_call["id"] = call.id
        parts.append({"functionCall": function_call})
    return parts


def _sign(parts: list[dict[str, Any]], signature: str) -> None:
    """Put the signature on the first functionCall part, else on the first answer text part."""
    if not signature:
        return
    for kind in ("functionCall", "text"):
        for part in parts:
            if kind in part and not part.get("thought"):
                part["thoughtSignature"] = signature
                return
    parts.append({"text": "", "thoughtSignature": signature})


def _parts(reply: Reply, thoughts: bool) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if reply.reasoning and thoughts:
        parts.append({"text": reply.reasoning, "thought": True})
    parts += gemini_parts(reply)
    if reply.text:
        parts.append({"text": reply.text})
    parts += _calls(reply)
    _sign(parts, reply.signature)
    return parts


def _envelope(reply: Reply, model: str, response_id: str) -> dict[str, Any]:
    return {"modelVersion": reply.model or model, "responseId": response_id}


def _answer(reply: Reply, model: str, thoughts: bool) -> dict[str, Any]:
    candidate: dict[str, Any] = {"finishReason": _FINISH.get(reply.stop, "STOP"), "index": 0}
    parts = _parts(reply, thoughts)
    if parts:
        candidate["content"] = {"parts": parts, "role": "model"}
    if gemini_grounding(reply) is not None:
        candidate["groundingMetadata"] = gemini_grounding(reply)
    return {
        "candidates": [candidate],
        "usageMetadata": _usage(reply),
        **_envelope(reply, model, "r-mock-1"),
    }


def _chunks(reply: Reply, model: str, thoughts: bool) -> list[dict[str, Any]]:
    envelope = _envelope(reply, model, "r-mock-stream")
    steps: list[list[dict[str, Any]]] = []
    if reply.reasoning and thoughts:
        steps.append([{"text": reply.reasoning, "thought": True}])
    steps += [[part] for part in gemini_parts(reply)]  # each code part in a chunk of its own
    words = reply.text.split(" ")
    pieces = [" ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])]
    pieces = [pieces[0] + " ", pieces[1]] if pieces[0] else [pieces[1]]
    steps += [[{"text": piece}] for piece in pieces if reply.text]
    if reply.tool_calls:
        steps.append(_calls(reply))
    _sign([part for step in steps for part in step], reply.signature)
    chunks = [
        {"candidates": [{"content": {"parts": step, "role": "model"}, "index": 0}],
         "usageMetadata": _usage(reply, final=False), **envelope}
        for step in steps
    ]  # fmt: skip
    finish = _FINISH.get(reply.stop, "STOP")
    grounding = gemini_grounding(reply)
    if reply.tool_calls:
        # A function-call answer ends on the call chunk itself.
        chunks[-1]["candidates"][0]["finishReason"] = finish
        chunks[-1]["usageMetadata"] = _usage(reply)
        if grounding is not None:
            chunks[-1]["candidates"][0]["groundingMetadata"] = grounding
        return chunks
    # A text answer ends with an empty text part, which clients must not send back.
    last: dict[str, Any] = {
        "content": {"parts": [{"text": ""}], "role": "model"},
        "index": 0,
        "finishReason": finish,
    }
    if grounding is not None:
        last["groundingMetadata"] = grounding  # the search grounding comes on the last chunk
    chunks.append({"candidates": [last], "usageMetadata": _usage(reply), **envelope})
    return chunks


def _error(status: int, message: str, reason: str | None = None) -> web.Response:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _STATUS.get(status, "UNKNOWN"),
    }
    if reason is not None:
        error["details"] = [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason,
             "domain": "googleapis.com"}
        ]  # fmt: skip
    return web.json_response({"error": error}, status=status)


async def _stream(
    request: web.Request, reply: Reply, model: str, thoughts: bool
) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    for count, chunk in enumerate(_chunks(reply, model, thoughts)):
        if reply.cut_after_events is not None and count >= reply.cut_after_events:
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\r\n\r\n")
    await response.write_eof()
    return response


def _record(state: MockState, request: web.Request, body: Any) -> None:
    state.received.append(
        Received(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            body=body if isinstance(body, dict) else {},
        )
    )


def _count_tokens(request: web.Request, body: Any, model: str) -> web.Response:
    """`models/{model}:countTokens`: `contents`, or a whole `generateContentRequest` whose
    `model` must name the model of the URL (as the API checks)."""
    if not isinstance(body, dict) or set(body) - {"contents", "generateContentRequest"}:
        return _error(400, "Invalid JSON payload received. Unknown name.")
    inner = body.get("generateContentRequest")
    if inner is not None:
        if not isinstance(inner, dict) or inner.get("model") != f"models/{model}":
            return _error(400, "generateContentRequest.model must match the URL's model")
        generate = {k: v for k, v in inner.items() if k != "model"}
        try:
            validate(generate, model)
        except Invalid as error:
            return _error(400, str(error))
        counted = json.dumps(generate)
    else:
        counted = json.dumps(body.get("contents"))
    return web.json_response({"totalTokens": 2 + len(counted) // 4})


def create_app(state: MockState) -> web.Application:
    """Return the mock Gemini API application."""

    async def handle(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        _record(state, request, body)
        model, _, action = request.match_info["tail"].rpartition(":")
        if action == "countTokens" and model:
            return _count_tokens(request, body, model)
        generate = ("generateContent", "streamGenerateContent")
        if not model or action not in generate + gemini_embeddings.ACTIONS:
            return _error(404, f"models/{request.match_info['tail']} is not found")
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        if key != state.api_key:
            return _error(400, "API key not valid. Please pass a valid API key.", "API_KEY_INVALID")
        if not isinstance(body, dict):
            return _error(400, "Invalid JSON payload received.")
        if action in gemini_embeddings.ACTIONS:
            return gemini_embeddings.answer(state, body, model, action, _error)
        stream = action == "streamGenerateContent"
        if stream and request.query.get("alt") != "sse":
            return _error(400, "this mock streams only with alt=sse")
        try:
            validate(body, model)
        except Invalid as error:
            return _error(400, str(error))
        except _MALFORMED:  # shapes the checks above do not expect: the API's schema 400
            return _error(400, "Invalid JSON payload received.")
        reply = state.next_reply()
        if reply.error_status is not None:
            return _error(reply.error_status, reply.error_message)
        thinking = _get(_get(body, "generationConfig") or {}, "thinkingConfig") or {}
        thoughts = bool(_get(thinking, "includeThoughts"))
        if stream:
            return await _stream(request, reply, model, thoughts)
        return web.json_response(_answer(reply, model, thoughts))

    app = web.Application()
    app.router.add_post("/v1beta/models/{tail:.+}", handle)
    return app
