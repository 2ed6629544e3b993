"""Hosted tool items (OpenAI runs them) ↔ IR server tool blocks (protocols.md 3.3-3.7).

A `web_search_call` or `code_interpreter_call` item is both the call and its result: it becomes
a ServerToolCallBlock keeping the item as OpenAI wrote it, then a ServerToolResultBlock with the
sources or logs, which has no JSON of its own (the item holds it). `file_search_call`,
`image_generation_call` and `mcp_call` items are kept as a call only, for OpenAI. Other families'
web searches and Python code execution reach a Responses client as these items, under an id
tagged with their origin; what has no item of its own becomes text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from plexus import ir
from plexus.protocols import server_tools
from plexus.protocols.common import dump_json

_FAMILY: ir.Origin = "openai"
_KINDS = {
    "web_search_call": server_tools.WEB_SEARCH,
    "code_interpreter_call": server_tools.CODE_EXECUTION,
    "file_search_call": "file_search",
    "image_generation_call": "image_generation",
    "mcp_call": "mcp",
}
_ITEM_TYPES = {
    server_tools.WEB_SEARCH: "web_search_call",
    server_tools.CODE_EXECUTION: "code_interpreter_call",
}
# The progress events between `output_item.added` and `.done`, before and after the work.
_PROGRESS = {
    "web_search_call": (("in_progress", "searching"), ("completed",)),
    "code_interpreter_call": (("in_progress", "interpreting"), ("completed",)),
}

Json = dict[str, Any]


class _Source(msgspec.Struct):
    url: str = ""


class _Action(msgspec.Struct):
    type: str = "search"
    query: str | None = None
    queries: list[str] | None = None
    sources: list[_Source] | None = None
    url: str | None = None
    pattern: str | None = None


class _Output(msgspec.Struct):
    type: str = "logs"
    logs: str | None = None
    url: str | None = None


class _Item(msgspec.Struct):
    """A view of a hosted tool item: only the fields read."""

    type: str
    id: str = ""
    status: str | None = None
    action: _Action | None = None
    code: str | None = None
    outputs: list[_Output] | None = None


class _RawItems(msgspec.Struct):
    input: list[msgspec.Raw] = msgspec.field(default_factory=list)
    output: list[msgspec.Raw] = msgspec.field(default_factory=list)
    item: msgspec.Raw = msgspec.Raw()


_item = msgspec.json.Decoder(_Item)
_raw_items = msgspec.json.Decoder(_RawItems)


def is_hosted(item_type: str | None) -> bool:
    """Whether an item is a tool OpenAI runs itself."""
    return item_type in _KINDS


def raw_items(data: bytes | str, field: str) -> list[msgspec.Raw]:
    """The items of a body's `input` or `output` array, or of an event's `item`, as JSON."""
    found = _raw_items.decode(data)
    if field == "item":
        return [found.item] if found.item else []
    return found.input if field == "input" else found.output


def decode_item(raw: msgspec.Raw, *, from_client: bool) -> list[ir.Block]:
    """A hosted tool item as a call (keeping the item) and, when it carries one, its result."""
    item = _item.decode(raw)
    name = _KINDS[item.type]
    block_id, origin, own = (
        server_tools.sent_id(item.id, _FAMILY) if from_client else (item.id, _FAMILY, True)
    )
    payload = msgspec.Raw(bytes(raw)) if own else msgspec.Raw()
    call = ir.ServerToolCallBlock(block_id, name, _input(item), origin=origin, payload=payload)
    if item.type not in _PROGRESS:
        return [call]
    text, sources = _output(item)
    failed = item.status == "failed"
    result = ir.ServerToolResultBlock(block_id, name, text, sources, failed, origin=origin)
    return [call, result]


def _input(item: _Item) -> str:
    if item.type == "code_interpreter_call":
        return dump_json({"code": item.code or ""})
    action = item.action
    if action is None:
        return ""
    if action.type == "search":
        query = action.query or " ".join(action.queries or [])
        return dump_json({"query": query})
    fields = {"url": action.url, "pattern": action.pattern}
    return dump_json({key: value for key, value in fields.items() if value is not None})


def _output(item: _Item) -> tuple[str, list[ir.ServerToolSource]]:
    if item.type == "web_search_call":
        found = item.action.sources if item.action is not None else None
        return "", [ir.ServerToolSource(source.url) for source in found or [] if source.url]
    text = ""
    for output in item.outputs or []:
        piece = output.logs if output.type == "logs" else f"(image: {output.url})"
        if piece:
            text += ("\n" if text and not text.endswith("\n") else "") + piece
    return text, []


# --- encode ----------------------------------------------------------------------------------


def shaped(block: ir.Block) -> bool:
    """Whether a server tool block is (part of) an item for a Responses client or upstream:
    OpenAI's own, or a web search or code execution; else it travels as text."""
    match block:
        case ir.ServerToolCallBlock():
            return server_tools.native(block, _FAMILY) or block.name in _ITEM_TYPES
        case ir.ServerToolResultBlock():
            return block.origin == _FAMILY or block.name in _ITEM_TYPES
        case _:
            return False


def as_text(block: ir.Block) -> ir.Block:
    """For a client: a server tool block with no item as a text block on lines of its own
    (clients join a message's text parts); any other block unchanged."""
    text = None if shaped(block) else server_tools.text_of(block)
    return block if text is None else ir.TextBlock(server_tools.separated(text))


def own_item(block: ir.ServerToolCallBlock) -> Json | None:
    """The item OpenAI wrote, when the block is OpenAI's own."""
    if not server_tools.native(block, _FAMILY):
        return None
    item: Json = msgspec.json.decode(block.payload)
    return item


class ClientItems:
    """The items a Responses client gets for server tool blocks: OpenAI's own as written, else
    made from the call and completed by its result (`pending` lists those never completed)."""

    def __init__(self) -> None:
        self._made: dict[str, Json] = {}

    def call(self, block: ir.ServerToolCallBlock) -> Json:
        """The item of a call: complete when OpenAI's own, else waiting for its result."""
        item = own_item(block)
        if item is not None:
            return item
        item = {"id": server_tools.client_id(block.id, block.origin or _FAMILY, own=False)}
        item["type"] = _ITEM_TYPES[block.name]
        item["status"] = "in_progress"
        data = server_tools.call_input(block)
        if block.name == server_tools.WEB_SEARCH:
            item["action"] = {"type": "search", "query": str(data.get("query", "")), "sources": []}
        else:
            item |= {"code": str(data.get("code", "")), "container_id": "", "outputs": []}
        self._made[block.id] = item
        return item

    def result(self, block: ir.ServerToolResultBlock) -> Json | None:
        """The completed item of a result, None when its item needs nothing more."""
        item = self._made.pop(block.call_id, None)
        if item is None:
            return None
        item["status"] = "failed" if block.is_error else "completed"
        if item["type"] == "web_search_call":
            sources = [{"type": "url", "url": source.url} for source in block.sources]
            item["action"]["sources"] = sources
        elif block.text:
            item["outputs"] = [{"type": "logs", "logs": block.text}]
        return item

    def pending(self) -> list[Json]:
        """The made items whose result never came, now marked incomplete."""
        items = list(self._made.values())
        self._made.clear()
        for item in items:
            item["status"] = "incomplete"
        return items


def for_provider(blocks: list[ir.Block]) -> list[ir.Block | Json]:
    """An assistant turn's blocks for a Responses upstream: OpenAI's own items as written (the
    result inside), every other server tool block as text."""
    out: list[ir.Block | Json] = []
    sent: set[str] = set()
    for block in blocks:
        if isinstance(block, ir.ServerToolCallBlock) and (item := own_item(block)) is not None:
            sent.add(block.id)
            out.append(item)
        elif not (isinstance(block, ir.ServerToolResultBlock) and block.call_id in sent):
            text = server_tools.text_of(block)
            out.append(block if text is None else ir.TextBlock(text))
    return out


class StreamItems(ClientItems):
    """ClientItems for a stream: each item's `added`, progress and `done` events, written with
    the stream encoder's own framing (`add` and `done` also record the item in the output)."""

    def __init__(
        self,
        add: Callable[[Json], tuple[int, bytes]],
        done: Callable[[int, Json], bytes],
        emit: Callable[[str, Json], bytes],
    ) -> None:
        super().__init__()
        self._add, self._done, self._emit = add, done, emit
        self._at: dict[str, int] = {}  # output index by item id

    def start(self, block: ir.ServerToolCallBlock | ir.ServerToolResultBlock) -> list[bytes]:
        """The events a server tool block opens: a call adds its item (and, OpenAI's own being
        complete, finishes it); a result finishes the item of its call."""
        if isinstance(block, ir.ServerToolResultBlock):
            item = self.result(block)
            return [] if item is None else self._finish(item)
        item = self.call(block)
        index, added = self._add({**item, "status": "in_progress"})
        self._at[item["id"]] = index
        out = [added, *self._progress(item, done=False)]
        return out + self._finish(item) if server_tools.native(block, _FAMILY) else out

    def close(self) -> list[bytes]:
        """The `done` events of the items whose result never came."""
        return [self._done(self._at.pop(item["id"]), item) for item in self.pending()]

    def _finish(self, item: Json) -> list[bytes]:
        return [*self._progress(item, done=True), self._done(self._at.pop(item["id"]), item)]

    def _progress(self, item: Json, *, done: bool) -> list[bytes]:
        where = {"item_id": item["id"], "output_index": self._at[item["id"]]}
        return [self._emit(name, payload) for name, payload in progress(item, where, done=done)]


def progress(item: Json, where: Json, *, done: bool) -> list[tuple[str, Json]]:
    """The progress events of an item before its work (`done` False) or after it."""
    phases = _PROGRESS.get(item["type"])
    if phases is None:
        return []
    events = [(f"response.{item['type']}.{phase}", where) for phase in phases[done]]
    code = item.get("code")
    if item["type"] == "code_interpreter_call" and not done and code:
        events[1:1] = [
            ("response.code_interpreter_call_code.delta", {**where, "delta": code}),
            ("response.code_interpreter_call_code.done", {**where, "code": code}),
        ]
    return events
