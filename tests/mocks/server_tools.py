"""Tools the mock providers run themselves (web search, code execution), hand-written per API.

Each mock answers a `Reply`'s `server_tools` in its API's own shapes, with ids and encrypted
contents only it mints, and checks them when a request sends them back, as the real APIs do:
a block or item the provider never issued (a copy a gateway made of another family's tool) is
refused, as is a paused Anthropic turn resumed without its tool.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from tests.mocks.base import Reply, ServerTool

_ANTHROPIC_ID = re.compile(r"^srvtoolu_[a-zA-Z0-9]+$")
_ENCRYPTED = "EqMockPage"
_ANTHROPIC_TOOLS = {"web_search": "web_search_", "code_execution": "code_execution_"}


class Refused(Exception):
    """A server tool block or item the real API would answer with 400."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:20]


def _title(url: str) -> str:
    return url.removeprefix("https://").split("/")[0]


# --- Anthropic Messages ----------------------------------------------------------------------


def encrypted_page(url: str) -> str:
    """The `encrypted_content` the mock gives a search result, checked when it comes back."""
    return _ENCRYPTED + _digest("page", url)


def anthropic_blocks(reply: Reply) -> list[dict[str, Any]]:
    """`server_tool_use` and result blocks for the reply's server tools (a pending one, as a
    paused turn leaves it, without its result)."""
    blocks: list[dict[str, Any]] = []
    for tool in reply.server_tools:
        tool_id = "srvtoolu_" + _digest(tool.kind, tool.input)
        key = "query" if tool.kind == "web_search" else "code"
        blocks.append(
            {
                "type": "server_tool_use",
                "id": tool_id,
                "name": tool.kind,
                "input": {key: tool.input},
            }
        )
        if not tool.pending:
            blocks.append({"type": f"{tool.kind}_tool_result", "tool_use_id": tool_id,
                           "content": _anthropic_content(tool)})  # fmt: skip
    return blocks


def _anthropic_content(tool: ServerTool) -> Any:
    if tool.kind == "web_search":
        return [
            {"type": "web_search_result", "url": url, "title": _title(url),
             "encrypted_content": encrypted_page(url), "page_age": None}
            for url in tool.urls
        ]  # fmt: skip
    return {"type": "code_execution_result", "stdout": tool.output, "stderr": "",
            "return_code": 0, "content": []}  # fmt: skip


def check_anthropic_turn(blocks: list[dict[str, Any]], where: str) -> str | None:
    """Check the server tool blocks of an assistant turn; return the name of a call left
    pending at its end (a paused turn), if any."""
    calls: dict[str, str] = {}
    pending: str | None = None
    for block in blocks:
        kind = str(block.get("type"))
        if kind == "server_tool_use":
            if not _ANTHROPIC_ID.match(str(block.get("id"))):
                raise Refused(f"{where}: server_tool_use.id: String should match pattern")
            if not isinstance(block.get("input"), dict):
                raise Refused(f"{where}: server_tool_use.input: Input should be a dictionary")
            calls[block["id"]] = pending = str(block.get("name"))
        elif kind.endswith("_tool_result") and kind != "tool_result":
            if calls.get(str(block.get("tool_use_id"))) is None:
                raise Refused(f"{where}: {kind} does not follow its server_tool_use")
            _check_pages(block.get("content"), where)
            pending = None
        else:
            pending = None if kind not in ("thinking", "redacted_thinking") else pending
    return pending


def _check_pages(content: Any, where: str) -> None:
    for result in content if isinstance(content, list) else []:
        token = str(result.get("encrypted_content", ""))
        if not token or (
            token.startswith(_ENCRYPTED) and token != encrypted_page(str(result.get("url")))
        ):
            raise Refused(f"{where}: web_search_result.encrypted_content is invalid")


def check_pending_tool(name: str, tools: Any) -> None:
    """A paused turn resumes only with its tool still declared (protocols.md 2.4)."""
    declared = [str(tool.get("type", "")) for tool in tools or [] if isinstance(tool, dict)]
    prefix = _ANTHROPIC_TOOLS.get(name, name)
    if not any(kind.startswith(prefix) for kind in declared):
        raise Refused(f"the pending `{name}` server tool was not provided in `tools`")


# --- OpenAI Responses ------------------------------------------------------------------------

_HOSTED_PREFIX = {"web_search_call": "ws_", "code_interpreter_call": "ci_"}
_HOSTED_STATUS = {"in_progress", "searching", "completed", "failed", "incomplete", "interpreting"}


def responses_items(reply: Reply) -> list[dict[str, Any]]:
    """`web_search_call` and `code_interpreter_call` items for the reply's server tools."""
    items: list[dict[str, Any]] = []
    for tool in reply.server_tools:
        if tool.kind == "web_search":
            sources = [{"type": "url", "url": url} for url in tool.urls]
            action = {"type": "search", "query": tool.input, "sources": sources}
            items.append({"id": "ws_" + _digest("ws", tool.input), "type": "web_search_call",
                          "status": "completed", "action": action})  # fmt: skip
        else:
            outputs = [{"type": "logs", "logs": tool.output}] if tool.output else []
            items.append({"id": "ci_" + _digest("ci", tool.input), "type": "code_interpreter_call",
                          "status": "completed", "code": tool.input,
                          "container_id": "cntr_mock", "outputs": outputs})  # fmt: skip
    return items


def check_hosted_item(item: dict[str, Any], where: str) -> None:
    """A hosted tool item sent back needs its own id and every required field."""
    kind = str(item.get("type"))
    prefix = _HOSTED_PREFIX.get(kind)
    if prefix is not None and not str(item.get("id", "")).startswith(prefix):
        raise Refused(f"Invalid '{where}.id': '{item.get('id')}'. Expected an ID that begins "
                      f"with '{prefix.rstrip('_')}'.")  # fmt: skip
    if item.get("status") not in _HOSTED_STATUS:
        raise Refused(f"Missing required parameter: '{where}.status'.")
    if kind == "web_search_call" and not isinstance(item.get("action"), dict):
        raise Refused(f"Missing required parameter: '{where}.action'.")
    if kind == "code_interpreter_call":
        for key in ("code", "container_id", "outputs"):
            if key not in item:
                raise Refused(f"Missing required parameter: '{where}.{key}'.")


# --- Gemini ----------------------------------------------------------------------------------

_OUTCOMES = {"OUTCOME_OK", "OUTCOME_FAILED", "OUTCOME_DEADLINE_EXCEEDED"}


def gemini_parts(reply: Reply) -> list[dict[str, Any]]:
    """`executableCode` and `codeExecutionResult` parts for the reply's code runs."""
    parts: list[dict[str, Any]] = []
    for tool in reply.server_tools:
        if tool.kind == "code_execution":
            parts.append({"executableCode": {"language": "PYTHON", "code": tool.input}})
            parts.append({"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": tool.output}})
    return parts


def gemini_grounding(reply: Reply) -> dict[str, Any] | None:
    """The `groundingMetadata` of the reply's web searches."""
    searches = [tool for tool in reply.server_tools if tool.kind == "web_search"]
    if not searches:
        return None
    chunks = [{"web": {"uri": url, "title": _title(url)}} for tool in searches for url in tool.urls]
    return {"webSearchQueries": [tool.input for tool in searches], "groundingChunks": chunks}


def check_gemini_parts(content: dict[str, Any], where: str) -> None:
    """Code parts only in a model turn, each with its fields, each result after its code."""
    seen_code = False
    for index, part in enumerate(content.get("parts") or []):
        code = part.get("executableCode", part.get("executable_code"))
        result = part.get("codeExecutionResult", part.get("code_execution_result"))
        if (code is not None or result is not None) and content.get("role") != "model":
            raise Refused(f"{where}.parts[{index}]: code execution parts belong to model turns")
        if code is not None:
            if not code.get("code") or not code.get("language"):
                raise Refused(f"{where}.parts[{index}].executable_code: code and language required")
            seen_code = True
        if result is not None:
            if result.get("outcome") not in _OUTCOMES:
                raise Refused(f"{where}.parts[{index}].code_execution_result.outcome: invalid")
            if not seen_code:
                raise Refused(f"{where}.parts[{index}]: code_execution_result without its code")
