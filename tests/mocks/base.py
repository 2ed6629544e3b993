"""What a test scripts a mock upstream to answer, and what the mock records.

Each protocol's mock (`tests/mocks/<protocol>_upstream.py`) offers
`create_app(state: MockState) -> aiohttp.web.Application`. It validates every request as the real
API would (auth header, path, required fields, unknown fields, value ranges, tool results paired
with calls), answering an error in its protocol's format when validation fails, and otherwise
answers `state.reply` (or the next of `state.replies`) in its native format, streamed when the
request asks for a stream. It writes its payloads with its own code, never with Plexus's codecs,
so the tests are not circular.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ToolCall:
    """A tool call the mock model makes."""

    name: str
    arguments: dict[str, Any]
    id: str | None = None


@dataclass
class ServerTool:
    """A tool the mock provider runs itself before it answers (tests/mocks/server_tools.py)."""

    kind: str = "web_search"  # or code_execution
    input: str = "weather Paris"  # the query, or the code run
    urls: list[str] = field(default_factory=lambda: ["https://meteo.example/paris"])
    output: str = ""  # what the code printed
    pending: bool = False  # Anthropic: the turn paused before its result (stop "pause")


@dataclass
class Reply:
    """The answer a mock upstream gives, described independently of any protocol."""

    text: str = "Hello from the mock."
    reasoning: str = ""
    # The opaque token of the reasoning: Anthropic signature, Gemini thoughtSignature (on the
    # first functionCall part, or on the text part when there is none), Responses
    # encrypted_content, OpenRouter reasoning_details signature.
    signature: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    server_tools: list[ServerTool] = field(default_factory=list)  # run before the answer
    input_tokens: int = 11  # the whole prompt, cached tokens included (as OpenAI counts it)
    output_tokens: int = 7  # reasoning included
    cached_tokens: int = 0  # the part of input_tokens read from the cache
    reasoning_tokens: int = 0  # the part of output_tokens spent reasoning
    stop: str = "end"  # end | length | tool_use | stop_sequence | content_filter | pause
    error_status: int | None = None
    error_message: str = "mock upstream error"
    cut_after_events: int | None = None  # stream: drop the connection after N events
    model: str | None = None  # echoed model; defaults to the requested one


@dataclass
class Received:
    """One request the mock received."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class MockState:
    """Shared between a test and its mock: the scripted replies and the recorded requests."""

    reply: Reply = field(default_factory=Reply)
    replies: list[Reply] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    api_key: str = "upstream-key"

    def next_reply(self) -> Reply:
        """Return the next queued reply, or the standing one."""
        return self.replies.pop(0) if self.replies else self.reply


def mock_vector(text: str, dimensions: int = 8) -> list[float]:
    """The vector the mocks embed `text` as: deterministic, in eighths (exact in float32, so
    a vector survives base64 unchanged)."""
    seed = sum(text.encode())
    return [((seed * (position + 3)) % 17 - 8) / 8 for position in range(dimensions)]
