"""Structured output asked for in every form a client library sends (issue 11)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plexus import ir
from plexus.errors import BadRequest
from plexus.protocols import gemini, messages

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def _messages(extra: dict[str, Any]) -> ir.Request:
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}
    return messages.decode_request(json.dumps(body | extra).encode())


def test_deprecated_top_level_output_format_is_decoded_like_output_config() -> None:
    # Older Anthropic SDKs (beta structured-outputs-2025-11-13) send it at the top level; it was
    # dropped on translated routes and the client got prose with a 200.
    request = _messages({"output_format": {"type": "json_schema", "schema": SCHEMA}})
    assert request.response_format == ir.ResponseFormat(type="json_schema", schema=SCHEMA)
    current = _messages({"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}})
    assert current.response_format == request.response_format


def test_both_forms_at_once_are_a_400() -> None:
    with pytest.raises(BadRequest, match="output_format"):
        _messages(
            {
                "output_format": {"type": "json_schema", "schema": SCHEMA},
                "output_config": {"format": {"type": "json_schema", "schema": SCHEMA}},
            }
        )


@pytest.mark.parametrize("key", ["propertyOrdering", "property_ordering"])
def test_gemini_property_ordering_never_reaches_another_provider(key: str) -> None:
    # The google-genai SDK adds property_ordering (snake_case); Anthropic rejects the keyword.
    schema = {"type": "OBJECT", "properties": {"a": {"type": "STRING"}}, key: ["a"]}
    body = {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "generation_config": {"response_mime_type": "application/json", "response_schema": schema},
    }
    request = gemini.decode_request(json.dumps(body).encode())
    assert request.response_format is not None
    assert request.response_format.schema == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
    }
