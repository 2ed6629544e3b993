"""The mocks check server tool blocks sent back as the real APIs do (tests/mocks/server_tools.py):
what a provider issued passes, a copy or a broken turn is refused."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from tests.mocks import gemini_upstream, messages_upstream, responses_upstream
from tests.mocks.base import Reply, ServerTool
from tests.mocks.server_tools import anthropic_blocks, gemini_parts, responses_items

SEARCH = ServerTool()
ISSUED = anthropic_blocks(Reply(server_tools=[SEARCH]))


def _claude(*assistant: dict[str, Any], tools: list[Any] | None = None) -> dict[str, Any]:
    messages: list[Any] = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": list(assistant)},
    ]
    if not assistant or assistant[-1]["type"] != "server_tool_use":
        messages.append({"role": "user", "content": "More?"})
    web_search = [{"type": "web_search_20250305", "name": "web_search"}]
    return {"model": "m", "max_tokens": 64, "messages": messages, "tools": tools or web_search}


def test_anthropic_blocks_it_issued_pass() -> None:
    messages_upstream.validate(_claude(*ISSUED, {"type": "text", "text": "Sunny."}))
    messages_upstream.validate(_claude(ISSUED[0]))  # a paused turn, resumed


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([ISSUED[0], {**ISSUED[1], "content": [{**ISSUED[1]["content"][0],
                                                "encrypted_content": ""}]}], "encrypted_content"),
        ([ISSUED[0], {**ISSUED[1], "content": [{**ISSUED[1]["content"][0],
                                                "encrypted_content": "EqMockPage0"}]}],
         "encrypted_content"),
        ([{**ISSUED[0], "id": "plx_openai_ws_1"}, ISSUED[1]], "should match pattern"),
        ([ISSUED[1]], "does not follow its server_tool_use"),
    ],
)  # fmt: skip
def test_anthropic_refuses_blocks_it_did_not_issue(blocks: list[Any], message: str) -> None:
    with pytest.raises(messages_upstream.Invalid, match=message):
        messages_upstream.validate(_claude(*blocks, {"type": "text", "text": "Sunny."}))


def test_anthropic_refuses_a_paused_turn_without_its_tool_and_blocks_in_user_turns() -> None:
    custom = [{"name": "f", "input_schema": {"type": "object"}}]
    with pytest.raises(messages_upstream.Invalid, match="pending `web_search`"):
        messages_upstream.validate(_claude(ISSUED[0], tools=custom))
    body = _claude({"type": "text", "text": "Hi."})
    body["messages"][2]["content"] = [ISSUED[0]]
    with pytest.raises(messages_upstream.Invalid, match="only allowed in assistant turns"):
        messages_upstream.validate(body)


def _responses(*items: dict[str, Any]) -> dict[str, Any]:
    return {"model": "m", "store": False, "input": [{"role": "user", "content": "Hi"}, *items]}


def test_responses_items_it_issued_pass_and_copies_are_refused() -> None:
    code = ServerTool("code_execution", "print(1)", output="1\n")
    search, run = responses_items(Reply(server_tools=[SEARCH, code]))
    responses_upstream.validate(_responses(search, run))
    with pytest.raises(responses_upstream.Invalid, match="begins with 'ws'"):
        responses_upstream.validate(_responses({**search, "id": "plx_anthropic_srvtoolu_1"}))
    without = {key: value for key, value in run.items() if key != "container_id"}
    with pytest.raises(responses_upstream.Invalid, match="container_id"):
        responses_upstream.validate(_responses(without))


def test_gemini_code_parts_pass_in_order_in_a_model_turn_only() -> None:
    code, result = gemini_parts(Reply(server_tools=[replace(SEARCH, kind="code_execution")]))

    def body(role: str, *parts: dict[str, Any]) -> dict[str, Any]:
        turns = [{"role": "user", "parts": [{"text": "Hi"}]}, {"role": role, "parts": list(parts)}]
        return {"contents": turns}

    gemini_upstream.validate(body("model", code, result), "gemini-2.5-flash")
    with pytest.raises(gemini_upstream.Invalid, match="without its code"):
        gemini_upstream.validate(body("model", result), "gemini-2.5-flash")
    with pytest.raises(gemini_upstream.Invalid, match="belong to model turns"):
        gemini_upstream.validate(body("user", code, result), "gemini-2.5-flash")
    no_language = {"executableCode": {"code": "print(1)"}}
    with pytest.raises(gemini_upstream.Invalid, match="code and language required"):
        gemini_upstream.validate(body("model", no_language, result), "gemini-2.5-flash")
