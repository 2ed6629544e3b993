"""Tool names every provider accepts, and back (protocols/tool_names.py)."""

from __future__ import annotations

import re

from plexus import ir
from plexus.protocols.tool_names import (
    client_tool_names,
    restore_response,
    safe_tool_name,
    with_safe_tool_names,
)

VALID_EVERYWHERE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")


def test_valid_names_are_kept() -> None:
    for name in ("get_weather", "a", "x-y_z", "A" * 64):
        assert safe_tool_name(name) == name


def test_other_names_become_valid_and_stable() -> None:
    for name in ("weather.get", "srv:tool", "2fa", "-x", "", "ü", "n" * 100, "a.b" * 50):
        safe = safe_tool_name(name)
        assert VALID_EVERYWHERE.match(safe), (name, safe)
        assert safe_tool_name(name) == safe
    assert safe_tool_name("weather.get") == "weather_get"
    assert safe_tool_name("n" * 100) != safe_tool_name("n" * 101)


def test_request_is_renamed_throughout_and_answer_restored() -> None:
    request = ir.Request(
        model="m",
        messages=[
            ir.Message("user", [ir.TextBlock("hi")]),
            ir.Message("assistant", [ir.ToolCallBlock("c1", "srv.tool", "{}")]),
            ir.Message("user", [ir.ToolResultBlock("c1", [ir.TextBlock("ok")], name="srv.tool")]),
        ],
        tools=[ir.Tool("srv.tool"), ir.Tool("plain")],
        tool_choice=ir.ToolChoice("tool", "srv.tool"),
    )
    safe = with_safe_tool_names(request)
    assert [tool.name for tool in safe.tools] == ["srv_tool", "plain"]
    assert safe.tool_choice == ir.ToolChoice("tool", "srv_tool")
    assert safe.messages[1].content == [ir.ToolCallBlock("c1", "srv_tool", "{}")]
    result = safe.messages[2].content[0]
    assert isinstance(result, ir.ToolResultBlock) and result.name == "srv_tool"
    assert request.tools[0].name == "srv.tool"  # the client's request is left alone
    assert client_tool_names(request) == {"srv_tool": "srv.tool"}
    answer = ir.Response("r", "m", [ir.ToolCallBlock("c2", "srv_tool", "{}")])
    restored = restore_response(answer, client_tool_names(request))
    assert restored.content == [ir.ToolCallBlock("c2", "srv.tool", "{}")]


def test_nothing_to_rename_returns_the_same_request() -> None:
    request = ir.Request(model="m", messages=[], tools=[ir.Tool("ok")])
    assert with_safe_tool_names(request) is request
