"""The translation edge cases as IR, shared by the codec specs (test_<codec>_specs.py).

A client codec's decode spec checks that a body decodes to one of these shapes; every provider
codec's encode spec checks what it makes of the same shape, so each case is written once per
codec (2N), never once per pair of codecs (N×N, which tests/test_matrix.py covers end to end).
"""

from __future__ import annotations

from typing import Any

import msgspec

from plexus import ir, sse
from plexus.protocols import StreamDecoding
from tests.clients import PIXEL_PNG, WEATHER_TOOL

PDF_B64 = "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PD4+CmVuZG9iagp0cmFpbGVyCjw8Pj4KJSVFT0YK"
GEMINI_FILE_URI = "https://generativelanguage.googleapis.com/v1beta/files/abc123"

_WEATHER: dict[str, Any] = WEATHER_TOOL
WEATHER = ir.Tool(
    name=_WEATHER["name"], description=_WEATHER["description"], parameters=_WEATHER["parameters"]
)
CALL = ir.ToolCallBlock(id="call_1", name="get_weather", arguments='{"location": "Paris"}')
# Object schemas as OpenAI clients often send them, without `additionalProperties`.
OPEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "array", "items": {"type": "object", "properties": {"t": {}}}},
    },
    "required": ["city"],
}
PIXEL = ir.ImageBlock(data=PIXEL_PNG, media_type="image/png")
PDF = ir.DocumentBlock(data=PDF_B64, media_type="application/pdf")

# 100 input tokens of which 60 cached; 30 output of which 10 reasoning. Anthropic does not
# report reasoning tokens apart: its answers carry `reasoning_tokens=None`.
CACHED_USAGE = ir.Usage(
    input_tokens=40, output_tokens=30, cache_read_tokens=60, reasoning_tokens=10
)
CACHED_USAGE_WITHOUT_REASONING = ir.Usage(input_tokens=40, output_tokens=30, cache_read_tokens=60)


def user(*blocks: ir.Block) -> ir.Message:
    """A user turn."""
    return ir.Message(role="user", content=list(blocks))


def assistant(*blocks: ir.Block) -> ir.Message:
    """An assistant turn."""
    return ir.Message(role="assistant", content=list(blocks))


def ask(*messages: ir.Message, model: str = "m", **fields: Any) -> ir.Request:
    """A request with the weather tool; a lone user question unless `messages` are given."""
    fields.setdefault("tools", [WEATHER])
    history = list(messages) or [user(ir.TextBlock(text="Weather?"))]
    return ir.Request(model=model, messages=history, **fields)


def tool_round(
    *answer_blocks: ir.Block,
    result: list[ir.ToolResultContent] | None = None,
    is_error: bool = False,
    after: tuple[ir.Block, ...] = (),
    model: str = "m",
) -> ir.Request:
    """Question, an assistant turn of `answer_blocks` then the weather call, and the user turn
    with its result (named by the call only, as a Messages client sends it) and `after`."""
    done = ir.ToolResultBlock(
        call_id=CALL.id,
        content=[ir.TextBlock(text="sunny")] if result is None else result,
        is_error=is_error,
    )
    return ask(
        user(ir.TextBlock(text="Weather in Paris?")),
        assistant(*answer_blocks, CALL),
        user(done, *after),
        model=model,
    )


def texts(value: Any) -> list[str]:
    """Every `text` string anywhere in an encoded body."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "text" and isinstance(item, str):
                found.append(item)
            else:
                found += texts(item)
    elif isinstance(value, list):
        for item in value:
            found += texts(item)
    return found


def answer(text: str, usage: ir.Usage | None = None, **fields: Any) -> ir.Response:
    """A complete text answer, as a provider codec decodes it."""
    return ir.Response(
        id="msg_1",
        model="m",
        content=[ir.TextBlock(text=text)],
        usage=usage or ir.Usage(),
        created=1,
        **fields,
    )


def answer_events(
    text: str,
    finish: ir.Finish,
    early_usage: ir.Usage | None = None,
    *,
    usage_update: bool = False,
) -> list[ir.StreamEvent]:
    """A streamed text answer: `early_usage` on its start, and the final usage in a
    `UsageUpdate` before the `Finish` when `usage_update`."""
    events: list[ir.StreamEvent] = [
        ir.MessageStart(id="msg_1", model="m", usage=early_usage),
        ir.BlockStart(index=0, block=ir.TextBlock(text="")),
        ir.TextDelta(index=0, text=text),
        ir.BlockStop(index=0),
    ]
    if usage_update and finish.usage is not None:
        events.append(ir.UsageUpdate(usage=finish.usage))
    return [*events, finish]


USAGE_SHAPES = ("usage-at-end", "input-first", "input-first-no-reasoning")
"""The ways the provider stream decoders deliver usage (see `usage_stream`)."""


def usage_stream(shape: str) -> tuple[list[ir.StreamEvent], bool]:
    """The cached/reasoning usage answer streamed the way one kind of provider decoder
    delivers it, and whether its reasoning tokens are counted apart."""
    match shape:
        case "usage-at-end":  # Chat and Responses: once, on the last event
            finish = ir.Finish(stop_reason="end", usage=CACHED_USAGE)
            return answer_events("ok", finish), True
        case "input-first":  # Gemini: the input on every chunk, the output on the last
            finish = ir.Finish(stop_reason="end", usage=CACHED_USAGE)
            early = ir.Usage(input_tokens=40, cache_read_tokens=60)
            return answer_events("ok", finish, early), True
        case _:  # Messages: input and one output token first, all of it at message_delta
            finish = ir.Finish(stop_reason="end", usage=CACHED_USAGE_WITHOUT_REASONING)
            early = ir.Usage(input_tokens=40, output_tokens=1, cache_read_tokens=60)
            return answer_events("ok", finish, early, usage_update=True), False


def frames(events: list[dict[str, Any]], *, named: bool = False) -> bytes:
    """Upstream SSE bytes of JSON events, named by their `type` when `named`."""
    return b"".join(
        sse.encode(msgspec.json.encode(event), event["type"] if named else None) for event in events
    )


def decode_stream(decoder: StreamDecoding, data: bytes) -> list[ir.StreamEvent]:
    """Every IR event a provider's stream decoder makes of upstream SSE bytes."""
    framing = sse.Decoder()
    events = [out for event in framing.feed(data) for out in decoder.feed(event)]
    events += [out for event in framing.flush() for out in decoder.feed(event)]
    return events + decoder.finish()


# --- provider-run tools, as each family's decoder makes them ---------------------------------

ServerTool = tuple[ir.ServerToolCallBlock, ir.ServerToolResultBlock]
SEARCH_SOURCES = [ir.ServerToolSource("https://meteo.example/paris", "Paris weather")]
ANTHROPIC_SEARCH_USE: dict[str, Any] = {
    "type": "server_tool_use",
    "id": "srvtoolu_01",
    "name": "web_search",
    "input": {"query": "weather Paris"},
}
ANTHROPIC_SEARCH_RESULT: dict[str, Any] = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_01",
    "content": [
        {
            "type": "web_search_result",
            "url": "https://meteo.example/paris",
            "title": "Paris weather",
            "encrypted_content": "EqgfCioIARgBIiQ3YTAwMjY1Mi1mZjM5LTQ1",
            "page_age": None,
        }
    ],
}
ANTHROPIC_SEARCH: ServerTool = (
    ir.ServerToolCallBlock(
        "srvtoolu_01",
        "web_search",
        '{"query":"weather Paris"}',
        origin="anthropic",
        payload=msgspec.Raw(msgspec.json.encode(ANTHROPIC_SEARCH_USE)),
    ),
    ir.ServerToolResultBlock(
        "srvtoolu_01",
        "web_search",
        sources=SEARCH_SOURCES,
        origin="anthropic",
        payload=msgspec.Raw(msgspec.json.encode(ANTHROPIC_SEARCH_RESULT)),
    ),
)
OPENAI_SEARCH_ITEM: dict[str, Any] = {
    "id": "ws_01",
    "type": "web_search_call",
    "status": "completed",
    "action": {
        "type": "search",
        "query": "weather Paris",
        "sources": [{"type": "url", "url": "https://meteo.example/paris"}],
    },
}
OPENAI_SEARCH: ServerTool = (
    ir.ServerToolCallBlock(
        "ws_01",
        "web_search",
        '{"query":"weather Paris"}',
        origin="openai",
        payload=msgspec.Raw(msgspec.json.encode(OPENAI_SEARCH_ITEM)),
    ),
    ir.ServerToolResultBlock(
        "ws_01",
        "web_search",
        sources=[ir.ServerToolSource("https://meteo.example/paris")],
        origin="openai",
    ),
)
GEMINI_CODE_PARTS: list[dict[str, Any]] = [
    {"executableCode": {"language": "PYTHON", "code": "print(6 * 7)"}},
    {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "42\n"}},
]
GEMINI_CODE: ServerTool = (
    ir.ServerToolCallBlock(
        "exec_1",
        "code_execution",
        '{"code":"print(6 * 7)"}',
        origin="gemini",
        payload=msgspec.Raw(msgspec.json.encode(GEMINI_CODE_PARTS[0])),
    ),
    ir.ServerToolResultBlock(
        "exec_1",
        "code_execution",
        text="42\n",
        origin="gemini",
        payload=msgspec.Raw(msgspec.json.encode(GEMINI_CODE_PARTS[1])),
    ),
)
SEARCH_TEXT = "[web_search] weather Paris"
SEARCH_RESULT_TEXT = "[web_search result]\n- Paris weather: https://meteo.example/paris"
CODE_TEXT = "[code_execution]\n```\nprint(6 * 7)\n```"
CODE_RESULT_TEXT = "[code_execution result]\n42\n"


def server_round(*blocks: ir.Block) -> ir.Request:
    """Question, an assistant turn of provider-run `blocks` then an answer, and a follow-up."""
    return ask(
        user(ir.TextBlock(text="Weather in Paris?")),
        assistant(*blocks, ir.TextBlock(text="Sunny, 22°C.")),
        user(ir.TextBlock(text="And tomorrow?")),
    )
