"""JSON schemas as Anthropic structured output takes them (`output_config.format`, strict tools).

Anthropic refuses an object schema that does not set `additionalProperties: false`, which OpenAI
and Gemini clients routinely leave out; it has no mode for "any JSON object" either, so the
`json_object` format is asked for in the system prompt instead.
"""

from __future__ import annotations

from typing import Any

JSON_OBJECT_INSTRUCTION = (
    "Respond with a single valid JSON object and nothing else: no prose and no code fences."
)

_SUBSCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")


def closed_objects(schema: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of `schema` with `additionalProperties: false` on every object node that
    does not say otherwise; a node that allows extra properties is left for the API to judge."""
    result = dict(schema)
    kind = result.get("type")
    is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
    if (is_object or "properties" in result) and "additionalProperties" not in result:
        result["additionalProperties"] = False
    for key in _SUBSCHEMA_MAPS:
        value = result.get(key)
        if isinstance(value, dict):
            result[key] = {
                name: closed_objects(sub) if isinstance(sub, dict) else sub
                for name, sub in value.items()
            }
    for key in _SUBSCHEMA_LISTS:
        value = result.get(key)
        if isinstance(value, list):
            result[key] = [closed_objects(sub) if isinstance(sub, dict) else sub for sub in value]
    for key in ("items", "additionalProperties", "not"):
        value = result.get(key)
        if isinstance(value, dict):
            result[key] = closed_objects(value)
    return result
