"""Messages request bodies: encode IR for an Anthropic upstream (request.py decodes)."""

from __future__ import annotations

from typing import Any

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import common
from plexus.protocols.counting import messages_count_request
from plexus.protocols.messages.capabilities import ModelTraits, traits_for
from plexus.protocols.messages.schema import JSON_OBJECT_INSTRUCTION, closed_objects
from plexus.protocols.messages.turns import cache_control, encode_messages
from plexus.protocols.server_tools import CODE_EXECUTION

DEFAULT_MAX_TOKENS = 8192
_MIN_BUDGET = 1024


def encode_request(request: ir.Request) -> dict[str, Any]:
    """Encode an IR request as a Messages body for an Anthropic upstream."""
    system, messages = encode_messages(request)
    if not messages:
        raise BadRequest("messages: at least one user message is required")
    body: dict[str, Any] = {"model": request.model, "messages": messages}
    if _wants_any_json_object(request.response_format):
        system.append({"type": "text", "text": JSON_OBJECT_INSTRUCTION})
    if system:
        body["system"] = system
    traits = traits_for(request.model)
    max_tokens = request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS
    output_config: dict[str, Any] = {}
    manual_thinking = False
    if traits.adaptive:
        _encode_adaptive(body, output_config, request.reasoning, traits)
    else:
        thinking = _encode_thinking(request.reasoning)
        if thinking is not None:
            budget = thinking["budget_tokens"]
            if budget >= max_tokens:
                max_tokens = budget + max(_MIN_BUDGET, max_tokens)
            if traits.max_output is not None and max_tokens > traits.max_output:
                # At the model's ceiling the budget gives way to room for the answer (6.10).
                budget = min(budget, traits.max_output - _MIN_BUDGET)
                thinking["budget_tokens"] = max(_MIN_BUDGET, budget)
            body["thinking"] = thinking
            manual_thinking = True
    if traits.max_output is not None:
        max_tokens = min(max_tokens, traits.max_output)  # more is refused (6.11)
    body["max_tokens"] = max_tokens
    if traits.sampling_locked:
        if request.temperature == 1.0:
            body["temperature"] = 1.0
    else:
        _encode_sampling(body, request, thinking_on=manual_thinking)
    # Anthropic refuses empty and whitespace-only stop sequences ("\n" from completion clients).
    stops = [stop for stop in request.stop if stop.strip()]
    if stops:
        body["stop_sequences"] = stops
    if request.tools:
        body["tools"] = [_encode_tool(tool) for tool in request.tools]
    choice = _encode_tool_choice(request, thinking_on=manual_thinking)
    if choice is not None:
        body["tool_choice"] = choice
    output_format = _encode_format(request.response_format)
    if output_format is not None:
        output_config["format"] = output_format
    if output_config:
        body["output_config"] = output_config
    if request.user:
        body["metadata"] = {"user_id": request.user}
    if request.stream:
        body["stream"] = True
    if "thinking" in body and _unsigned_tool_turn(messages):
        _drop_thinking(body)
    return body


def _unsigned_tool_turn(messages: list[dict[str, Any]]) -> bool:
    """Whether the last assistant turn calls tools without the signed thinking that must open
    it while thinking is on: a client dropped it and it could not be rebuilt (issue 11 bug 7)."""
    last = next((m for m in reversed(messages) if m["role"] == "assistant"), None)
    if last is None or not isinstance(last["content"], list):
        return False
    kinds = [block.get("type") for block in last["content"]]
    return "tool_use" in kinds and kinds[0] not in ("thinking", "redacted_thinking")


def _drop_thinking(body: dict[str, Any]) -> None:
    """Ask without thinking rather than send a turn Anthropic refuses."""
    del body["thinking"]
    output_config = body.get("output_config")
    if isinstance(output_config, dict):
        output_config.pop("effort", None)
        if not output_config:
            del body["output_config"]


def _encode_thinking(reasoning: ir.Reasoning | None) -> dict[str, Any] | None:
    if reasoning is None or not reasoning.enabled:
        return None
    effort = reasoning.effort
    if effort is None and reasoning.budget_tokens is None:
        effort = "medium"
    budget = common.budget_for(effort, reasoning.budget_tokens)
    if not budget:
        return None
    thinking: dict[str, Any] = {"type": "enabled", "budget_tokens": max(budget, _MIN_BUDGET)}
    if reasoning.summary:
        thinking["display"] = "summarized"
    return thinking


def _encode_adaptive(
    body: dict[str, Any],
    output_config: dict[str, Any],
    reasoning: ir.Reasoning | None,
    traits: ModelTraits,
) -> None:
    """Thinking for models that take only adaptive thinking, steered by effort (2.6)."""
    if reasoning is None:
        return  # the model's own default
    effort = reasoning.effort
    if reasoning.budget_tokens is not None:
        effort = common.effort_for_budget(reasoning.budget_tokens)
    if not reasoning.enabled or effort == "none":
        if traits.can_disable:
            body["thinking"] = {"type": "disabled"}
        else:
            output_config["effort"] = "low"
        return
    # Ask for the summary: new models default to omitting the thinking text.
    body["thinking"] = {"type": "adaptive", "display": "summarized"}
    if effort is not None:
        output_config["effort"] = (
            _ADAPTIVE_EFFORT[effort] if effort != "xhigh" or not traits.xhigh else "xhigh"
        )


_ADAPTIVE_EFFORT: dict[ir.Effort, str] = {
    "none": "low",
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
    "max": "max",
}


def _encode_sampling(body: dict[str, Any], request: ir.Request, *, thinking_on: bool) -> None:
    # With thinking on, temperature and top_k are rejected and top_p must be >= 0.95 (2.6).
    if request.temperature is not None:
        temperature = min(max(request.temperature, 0.0), 1.0)
        if not thinking_on or temperature == 1.0:
            body["temperature"] = temperature
    if request.top_p is not None and (not thinking_on or request.top_p >= 0.95):
        body["top_p"] = min(max(request.top_p, 0.0), 1.0)
    if request.top_k is not None and not thinking_on:
        body["top_k"] = max(request.top_k, 0)


def _encode_tool(tool: ir.Tool) -> dict[str, Any]:
    if tool.kind == "web_search":
        encoded: dict[str, Any] = {"type": "web_search_20250305", "name": tool.name}
    elif tool.kind == CODE_EXECUTION:  # another family's; Anthropic's own keep their version
        encoded = {"type": "code_execution_20250825", "name": CODE_EXECUTION}
    elif tool.kind != "function":
        encoded = {"type": tool.kind, "name": tool.name}
    else:
        encoded = {"name": tool.name}
        if tool.description:
            encoded["description"] = tool.description
        schema = tool.parameters or {"type": "object", "properties": {}}
        encoded["input_schema"] = closed_objects(schema) if tool.strict else schema
        if tool.strict is not None:
            encoded["strict"] = tool.strict
    control = cache_control(tool.cache)
    if control is not None:
        encoded["cache_control"] = control
    return encoded


def _encode_tool_choice(request: ir.Request, *, thinking_on: bool) -> dict[str, Any] | None:
    choice = request.tool_choice
    if choice is None and (request.parallel_tool_calls is not False or not request.tools):
        return None
    mode = choice.mode if choice is not None else "auto"
    if thinking_on and mode in ("required", "tool"):
        mode = "auto"  # manual thinking accepts only auto or none (protocols.md 2.6)
    encoded: dict[str, Any]
    match mode:
        case "none":
            return {"type": "none"}
        case "required":
            encoded = {"type": "any"}
        case "tool":
            encoded = {"type": "tool", "name": choice.name if choice else ""}
        case _:
            encoded = {"type": "auto"}
    if request.parallel_tool_calls is False and request.tools:
        encoded["disable_parallel_tool_use"] = True
    return encoded


def _wants_any_json_object(response_format: ir.ResponseFormat | None) -> bool:
    if response_format is None:
        return False
    return response_format.type == "json_object" or (
        response_format.type == "json_schema" and not response_format.schema
    )


def _encode_format(response_format: ir.ResponseFormat | None) -> dict[str, Any] | None:
    if response_format is None:
        return None
    match response_format.type:
        case "json_schema" if response_format.schema:
            return {"type": "json_schema", "schema": closed_objects(response_format.schema)}
        case _:  # text, or any JSON object, which Anthropic has no format for (see schema.py)
            return None


def encode_count_request(request: ir.Request) -> dict[str, Any] | None:
    """IR → the body of `POST /v1/messages/count_tokens`."""
    return messages_count_request(encode_request(request))
