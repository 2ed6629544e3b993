"""The mechanics every codec shares for provider-run tools (protocols/server_tools.py)."""

from __future__ import annotations

import msgspec
import pytest

from plexus import ir
from plexus.protocols import server_tools


def test_a_tool_is_native_only_to_the_family_that_ran_it_with_its_json() -> None:
    payload = msgspec.Raw(b'{"type":"server_tool_use"}')
    ran = ir.ServerToolCallBlock("srvtoolu_1", "web_search", origin="anthropic", payload=payload)
    assert server_tools.native(ran, "anthropic")
    assert not server_tools.native(ran, "openai")
    copied = ir.ServerToolCallBlock("srvtoolu_1", "web_search", origin="anthropic")
    assert not server_tools.native(copied, "anthropic")


@pytest.mark.parametrize("origin", ["anthropic", "gemini", "openai", "openai-compatible"])
def test_a_tagged_id_comes_back_as_a_copy_of_its_origin(origin: ir.Origin) -> None:
    shown = server_tools.client_id("srvtoolu_01_x", origin, own=False)
    assert shown == f"plx_{origin}_srvtoolu_01_x"
    assert server_tools.sent_id(shown, "anthropic") == ("srvtoolu_01_x", origin, False)


def test_an_own_id_is_shown_and_read_unchanged() -> None:
    assert server_tools.client_id("ws_1", "openai", own=True) == "ws_1"
    assert server_tools.sent_id("ws_1", "openai") == ("ws_1", "openai", True)
    # Not a tag: an unknown family after the prefix.
    assert server_tools.sent_id("plx_other_1", "gemini") == ("plx_other_1", "gemini", True)


@pytest.mark.parametrize(
    ("name", "arguments", "text"),
    [
        ("web_search", '{"query": "weather in Paris"}', "[web_search] weather in Paris"),
        ("web_fetch", '{"url": "https://e.com"}', "[web_fetch] https://e.com"),
        ("code_execution", '{"code": "print(1)"}', "[code_execution]\n```\nprint(1)\n```"),
        ("bash_code_execution", '{"command": "ls"}', "[bash_code_execution] ls"),
        ("text_editor_code_execution", '{"command": "view", "path": "/a"}',
         '[text_editor_code_execution] {"command":"view","path":"/a"}'),
        ("image_generation", "", "[image_generation]"),
    ],
)  # fmt: skip
def test_a_call_reads_as_one_line_or_its_code(name: str, arguments: str, text: str) -> None:
    block = ir.ServerToolCallBlock("c", name, arguments)
    assert server_tools.text_of(block) == text


def test_a_result_reads_as_its_output_then_its_sources() -> None:
    sources = [ir.ServerToolSource("https://a.com", "A"), ir.ServerToolSource("https://b.com")]
    found = ir.ServerToolResultBlock("c", "web_search", sources=sources)
    assert server_tools.text_of(found) == (
        "[web_search result]\n- A: https://a.com\n- https://b.com"
    )
    failed = ir.ServerToolResultBlock("c", "code_execution", text="NameError", is_error=True)
    assert server_tools.text_of(failed) == "[code_execution error]\nNameError"
    assert server_tools.text_of(ir.TextBlock("x")) is None
