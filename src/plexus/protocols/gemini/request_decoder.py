"""A client's Gemini request body → IR request (protocols.md 4.2–4.6, 6.2–6.12)."""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import common
from plexus.protocols.gemini import wire
from plexus.protocols.gemini.parts import CallLedger, decode_parts

_ROLES: dict[str, ir.Role] = {
    "user": "user",
    "model": "assistant",
    "function": "user",
    "tool": "user",
}
_MODES: dict[str, ir.ToolChoice] = {
    "AUTO": ir.ToolChoice(mode="auto"),
    "VALIDATED": ir.ToolChoice(mode="auto"),
    "ANY": ir.ToolChoice(mode="required"),
    "NONE": ir.ToolChoice(mode="none"),
}
_LEVELS: dict[str, ir.Effort] = {
    "MINIMAL": "minimal",
    "LOW": "low",
    "MEDIUM": "medium",
    "HIGH": "high",
}
_HOSTED = {"googleSearch": "web_search", "googleSearchRetrieval": "web_search"}


def decode_request(body: bytes) -> ir.Request:
    """Decode a client's generateContent body; the caller sets `model` and `stream` from the URL."""
    try:
        raw = msgspec.json.decode(body)
    except msgspec.DecodeError as error:
        raise BadRequest(f"invalid JSON body: {error}") from error
    if not isinstance(raw, dict):
        raise BadRequest("request body must be a JSON object")
    try:
        payload = msgspec.convert(wire.normalise_keys(raw), wire.GenerateContentRequest)
    except msgspec.ValidationError as error:
        raise BadRequest(str(error)) from error
    if not payload.contents:
        raise BadRequest("contents is required", param="contents")
    request = ir.Request(model="", messages=_decode_contents(payload.contents))
    request.system = _decode_system(payload.systemInstruction)
    request.tools = _decode_tools(payload.tools or [])
    _decode_tool_config(request, payload.toolConfig)
    if payload.generationConfig is not None:
        _decode_generation(request, payload.generationConfig)
    return request


def _decode_system(instruction: wire.Content | str | None) -> list[ir.TextBlock]:
    if instruction is None:
        return []
    if isinstance(instruction, str):
        return [ir.TextBlock(text=instruction)] if instruction else []
    return [ir.TextBlock(text=part.text) for part in instruction.parts if part.text]


def _decode_contents(contents: list[wire.Content]) -> list[ir.Message]:
    ledger = CallLedger()
    messages: list[ir.Message] = []
    for position, content in enumerate(contents):
        role = _ROLES.get(content.role or "user")
        if role is None:
            raise BadRequest(
                f"contents[{position}].role must be 'user' or 'model', got {content.role!r}",
                param=f"contents[{position}].role",
            )
        if role == "assistant":
            ledger.model_turn()
        blocks = decode_parts(content.parts, ledger, from_client=True)
        if blocks:
            messages.append(ir.Message(role=role, content=blocks))
    return messages


def _decode_tools(tools: list[wire.Tool]) -> list[ir.Tool]:
    decoded: list[ir.Tool] = []
    for tool in tools:
        for declaration in tool.functionDeclarations or []:
            schema = declaration.parametersJsonSchema
            if schema is None and declaration.parameters is not None:
                schema = openapi_to_json_schema(declaration.parameters)
            decoded.append(
                ir.Tool(
                    name=declaration.name, description=declaration.description, parameters=schema
                )
            )
        for field, kind in (
            *_HOSTED.items(),
            ("codeExecution", "code_execution"),
            ("urlContext", "url_context"),
        ):
            if getattr(tool, field) is not None:
                decoded.append(ir.Tool(name=kind, kind=kind))
    return decoded


def openapi_to_json_schema(schema: Any) -> Any:
    """Convert Google's OpenAPI-subset Schema (upper-case types, `nullable`) to JSON Schema."""
    if isinstance(schema, list):
        return [openapi_to_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str):
            converted["type"] = value.lower()
        elif key in ("properties", "$defs", "defs"):
            converted[key] = {name: openapi_to_json_schema(item) for name, item in value.items()}
        elif key in ("items", "anyOf", "additionalProperties"):
            converted[key] = openapi_to_json_schema(value)
        elif key not in ("nullable", "propertyOrdering", "property_ordering", "example"):
            # property_ordering: the google-genai SDK's snake_case form (issue 11); schemas
            # are free-form, so normalise_keys leaves it as it came.
            converted[key] = value
    if schema.get("nullable") is True and isinstance(converted.get("type"), str):
        converted["type"] = [converted["type"], "null"]
    return converted


def _decode_tool_config(request: ir.Request, config: wire.ToolConfig | None) -> None:
    calling = config.functionCallingConfig if config is not None else None
    if calling is None or calling.mode is None:
        return
    choice = _MODES.get(calling.mode.upper())
    if choice is None:
        raise BadRequest(f"unknown functionCallingConfig.mode {calling.mode!r}")
    allowed = calling.allowedFunctionNames or []
    if choice.mode == "required" and len(allowed) == 1:
        choice = ir.ToolChoice(mode="tool", name=allowed[0])
    elif allowed and choice.mode != "none":
        request.tools = [t for t in request.tools if t.kind != "function" or t.name in allowed]
    request.tool_choice = choice


def _decode_generation(request: ir.Request, config: wire.GenerationConfig) -> None:
    if config.candidateCount is not None and config.candidateCount > 1:
        raise BadRequest(
            "candidateCount > 1 is not supported", param="generationConfig.candidateCount"
        )
    if config.responseLogprobs:
        # The internal model carries no token probabilities: refuse rather than answer without.
        raise BadRequest(
            "logprobs are only available from a provider of type gemini without translation",
            param="generationConfig.responseLogprobs",
        )
    request.max_tokens = config.maxOutputTokens
    request.temperature = config.temperature
    request.top_p = config.topP
    request.top_k = config.topK
    request.stop = list(config.stopSequences or [])
    request.seed = config.seed
    request.presence_penalty = config.presencePenalty
    request.frequency_penalty = config.frequencyPenalty
    request.response_format = _decode_format(config)
    if config.thinkingConfig is not None:
        request.reasoning = _decode_thinking(config.thinkingConfig)


def _decode_format(config: wire.GenerationConfig) -> ir.ResponseFormat | None:
    if config.responseMimeType != "application/json":
        return None
    schema = config.responseJsonSchema
    if schema is None and config.responseSchema is not None:
        schema = openapi_to_json_schema(config.responseSchema)
    if schema is None:
        return ir.ResponseFormat(type="json_object")
    return ir.ResponseFormat(type="json_schema", name="response", schema=schema)


def _decode_thinking(config: wire.ThinkingConfig) -> ir.Reasoning:
    summary = "auto" if config.includeThoughts else None
    budget = config.thinkingBudget
    if budget == 0:
        return ir.Reasoning(effort="none", budget_tokens=0, enabled=False)
    if budget is not None and budget > 0:
        return ir.Reasoning(
            effort=common.effort_for_budget(budget), budget_tokens=budget, summary=summary
        )
    if config.thinkingLevel is not None:
        effort = _LEVELS.get(config.thinkingLevel.upper())
        if effort is None:
            raise BadRequest(f"unknown thinkingLevel {config.thinkingLevel!r}")
        return ir.Reasoning(effort=effort, summary=summary)
    return ir.Reasoning(summary=summary)


class _GenerationLimit(msgspec.Struct):
    maxOutputTokens: int | None = None
    max_output_tokens: int | None = None  # the SDKs' snake case, accepted by the API too


class _OutputLimit(msgspec.Struct):
    generationConfig: _GenerationLimit | None = None
    generation_config: _GenerationLimit | None = None


_output_limit = msgspec.json.Decoder(_OutputLimit)


def max_output_tokens_of(body: bytes) -> int | None:
    """The most output tokens a request body allows, if it says."""
    try:
        limit = _output_limit.decode(body)
    except msgspec.DecodeError:
        return None
    config = limit.generationConfig or limit.generation_config
    return None if config is None else config.maxOutputTokens or config.max_output_tokens
