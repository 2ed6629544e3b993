"""IR stream events → client Responses SSE (protocols.md 3.7 invariants, 7.4 recipe)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Literal

from plexus import ir, sse
from plexus.protocols import common
from plexus.protocols.frames import DELTA_MARKER, SEQUENCE_MARKER, DeltaTemplates
from plexus.protocols.responses import hosted, wire
from plexus.protocols.responses.response import (
    call_item,
    envelope,
    error_fields,
    finish_envelope,
    message_item,
    reasoning_item,
    reasoning_item_id,
    text_part,
)

_DeltaKind = Literal["text", "summary", "arguments"]


@dataclass
class _Slot:
    """What an open IR block became on the wire."""

    block: ir.Block
    output_index: int
    item_id: str
    content_index: int = 0
    pieces: list[str] = field(default_factory=list)  # joined once, at the block's end
    summary_open: bool = False
    custom: bool = False  # a freeform tool call: its input is sent whole at the end
    templates: DeltaTemplates[_DeltaKind] | None = None  # made with the block's first delta

    @property
    def text(self) -> str:
        """Everything streamed into the block so far."""
        return "".join(self.pieces)


@dataclass
class _Message:
    """The open assistant message item and its content parts (None while a part is open)."""

    output_index: int
    item_id: str
    parts: list[dict[str, Any] | None] = field(default_factory=list)


class StreamEncoder:
    """Turns IR stream events into a Responses SSE stream a strict client accepts.

    States: idle (nothing sent) → open (`response.created` and `response.in_progress` sent; items
    open and close, text blocks as content parts of one message item, reasoning, tool calls and
    hosted tool calls as their own items, several tool items may be open at once) → ended
    (exactly one terminal event sent: completed, incomplete or failed). `sequence_number` counts
    every event from 0.
    """

    def __init__(self, request: ir.Request) -> None:
        self._request = request
        self._seq = 0
        self._response_id = common.mint_id("resp_")
        self._model = request.model
        self._created_at = int(time.time())
        self._started = False
        self._ended = False
        self._items: dict[int, dict[str, Any]] = {}
        self._next_output = 0
        self._slots: dict[int, _Slot] = {}
        self._message: _Message | None = None
        self._usage: ir.Usage | None = None
        self._hosted = hosted.StreamItems(self._add_item, self._done_item, self._emit)

    def feed(self, event: ir.StreamEvent) -> list[bytes]:
        """Return the framed SSE events for one IR event."""
        if self._ended:
            return []
        out = [] if self._started else self._start(event)
        # Per-token deltas first, uncaptured: each pattern tried is a Struct isinstance call.
        match event:
            case ir.TextDelta():
                out += self._text_delta(event.index, event.text)
            case ir.ThinkingDelta():
                out += self._thinking_delta(event.index, event.text)
            case ir.ToolArgumentsDelta():
                out += self._arguments_delta(event.index, event.json)
            case ir.MessageStart(usage=usage):
                self._usage = usage or self._usage
            case ir.BlockStart(index=index, block=block):
                out += self._block_start(index, block)
            case ir.SignatureDelta(index=index, signature=signature):
                out += self._signature(index, signature)
            case ir.BlockStop(index=index):
                out += self._block_stop(index)
            case ir.UsageUpdate(usage=usage):
                self._usage = usage
            case ir.Finish():
                out += self._finish(event)
            case ir.StreamError(message=message, kind=kind):
                out += self._error(message, kind)
        return out

    def finish(self) -> list[bytes]:
        """End the stream; without a terminal event so far, the response failed."""
        if self._ended:
            return []
        return self._start(None) + self._error(
            "stream ended before the response was complete", "api_error"
        )

    # --- framing ---------------------------------------------------------------------------

    def _emit(self, kind: str, payload: dict[str, Any]) -> bytes:
        frame = _frame(kind, self._seq, payload)
        self._seq += 1
        return frame

    def _emit_delta(self, slot: _Slot, kind: _DeltaKind, delta: str) -> bytes:
        """`_emit`'s bytes for a delta event, by concatenation around the slot's template."""
        templates = slot.templates
        if templates is None:
            templates = slot.templates = DeltaTemplates(
                lambda kind: self._marked_frame(slot, kind), sequenced=True
            )
        sequence = self._seq
        self._seq += 1
        return templates.render(kind, delta, sequence)

    def _marked_frame(self, slot: _Slot, kind: _DeltaKind) -> bytes:
        marker = DELTA_MARKER
        match kind:
            case "text" if isinstance(slot.block, ir.RefusalBlock):
                name, payload = "response.refusal.delta", {**self._where(slot), "delta": marker}
            case "text":
                name = "response.output_text.delta"
                payload = {**self._where(slot), "delta": marker, "logprobs": []}
            case "summary":
                name = "response.reasoning_summary_text.delta"
                payload = {**self._summary_where(slot), "delta": marker}
            case "arguments":
                name = "response.function_call_arguments.delta"
                where = {"item_id": slot.item_id, "output_index": slot.output_index}
                payload = {**where, "delta": marker}
        return _frame(name, SEQUENCE_MARKER, payload)

    def _snapshot(self) -> dict[str, Any]:
        return envelope(self._request, self._response_id, self._model, self._created_at)

    def _start(self, event: ir.StreamEvent | None) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        if isinstance(event, ir.MessageStart):
            self._model = event.model or self._model
        snapshot = self._snapshot()
        return [
            self._emit("response.created", {"response": snapshot}),
            self._emit("response.in_progress", {"response": snapshot}),
        ]

    def _add_item(self, item: dict[str, Any]) -> tuple[int, bytes]:
        index = self._next_output
        self._next_output += 1
        return index, self._emit(
            "response.output_item.added", {"output_index": index, "item": item}
        )

    def _done_item(self, index: int, item: dict[str, Any]) -> bytes:
        self._items[index] = item
        return self._emit("response.output_item.done", {"output_index": index, "item": item})

    # --- blocks ------------------------------------------------------------------------------

    def _block_start(self, index: int, block: ir.Block) -> list[bytes]:
        if index in self._slots:
            return []
        block = hosted.as_text(block)  # a server tool with no item is a text part
        if isinstance(block, ir.TextBlock | ir.RefusalBlock):
            return self._open_part(index, block)
        out = self._close_message()
        match block:
            case ir.ThinkingBlock():
                item_id = reasoning_item_id(block)
                shell = {"id": item_id, "type": "reasoning", "summary": []}
                output_index, added = self._add_item(shell)
                # A copy: signature deltas accumulate on it, never on the caller's block.
                own = ir.ThinkingBlock(
                    origin=block.origin,
                    item_id=block.item_id,
                    signature=block.signature,
                    redacted=block.redacted,
                )
                self._slots[index] = _Slot(own, output_index, item_id)
                out.append(added)
                if block.text:
                    out += self._thinking_delta(index, block.text)
            case ir.ToolCallBlock(id=call_id, name=name):
                item_id = common.mint_id("fc_")
                shell = call_item(
                    ir.ToolCallBlock(call_id, name), item_id, self._request.tools, "in_progress"
                )
                output_index, added = self._add_item(shell)
                self._slots[index] = _Slot(block, output_index, item_id, custom=_is_custom(shell))
                out.append(added)
                # Arguments the block starts with go out as a delta, like a block's first text:
                # a client that reads only deltas must see the whole input (protocols.md 3.7).
                out += self._arguments_delta(index, block.arguments)
            case ir.ServerToolCallBlock() | ir.ServerToolResultBlock():
                out += self._hosted.start(block)  # whole: nothing left open
            case _:
                pass  # images and tool results never stream from a model
        return out

    def _open_part(self, index: int, block: ir.TextBlock | ir.RefusalBlock) -> list[bytes]:
        out: list[bytes] = []
        if self._message is None:
            item_id = common.mint_id("msg_")
            output_index, added = self._add_item(message_item(item_id, [], "in_progress"))
            self._message = _Message(output_index, item_id)
            out.append(added)
        message = self._message
        slot = _Slot(block, message.output_index, message.item_id, content_index=len(message.parts))
        message.parts.append(None)
        self._slots[index] = slot
        empty = text_part(type(block)(""))
        out.append(self._emit("response.content_part.added", {**self._where(slot), "part": empty}))
        if block.text:
            out += self._text_delta(index, block.text)
        return out

    def _where(self, slot: _Slot) -> dict[str, Any]:
        return {
            "item_id": slot.item_id,
            "output_index": slot.output_index,
            "content_index": slot.content_index,
        }

    def _summary_where(self, slot: _Slot) -> dict[str, Any]:
        return {"item_id": slot.item_id, "output_index": slot.output_index, "summary_index": 0}

    def _text_delta(self, index: int, text: str) -> list[bytes]:
        slot = self._slots.get(index)
        if slot is None or not text:
            return []
        slot.pieces.append(text)
        return [self._emit_delta(slot, "text", text)]

    def _thinking_delta(self, index: int, text: str) -> list[bytes]:
        slot = self._slots.get(index)
        if slot is None or not text or not isinstance(slot.block, ir.ThinkingBlock):
            return []
        out: list[bytes] = []
        if not slot.summary_open:
            slot.summary_open = True
            part = {"type": "summary_text", "text": ""}
            payload = {**self._summary_where(slot), "part": part}
            out.append(self._emit("response.reasoning_summary_part.added", payload))
        slot.pieces.append(text)
        out.append(self._emit_delta(slot, "summary", text))
        return out

    def _signature(self, index: int, signature: str) -> list[bytes]:
        slot = self._slots.get(index)
        if slot is not None and isinstance(slot.block, ir.ThinkingBlock):
            slot.block.signature = (slot.block.signature or "") + signature
        return []

    def _arguments_delta(self, index: int, fragment: str) -> list[bytes]:
        slot = self._slots.get(index)
        if slot is None or not fragment or not isinstance(slot.block, ir.ToolCallBlock):
            return []
        slot.pieces.append(fragment)
        if slot.custom:
            return []  # freeform input is sent whole at the end: the JSON wrapper cannot stream
        return [self._emit_delta(slot, "arguments", fragment)]

    def _block_stop(self, index: int) -> list[bytes]:
        slot = self._slots.pop(index, None)
        if slot is None:
            return []
        match slot.block:
            case ir.TextBlock() | ir.RefusalBlock():
                return self._close_part(slot)
            case ir.ThinkingBlock():
                return self._close_reasoning(slot, slot.block)
            case ir.ToolCallBlock(id=call_id, name=name):
                return self._close_call(slot, ir.ToolCallBlock(call_id, name, slot.text))
            case _:
                return []

    def _close_part(self, slot: _Slot) -> list[bytes]:
        where = self._where(slot)
        block = slot.block
        if isinstance(block, ir.RefusalBlock):
            part = text_part(ir.RefusalBlock(slot.text))
            done = self._emit("response.refusal.done", {**where, "refusal": slot.text})
        else:
            part = text_part(ir.TextBlock(slot.text))
            done = self._emit(
                "response.output_text.done", {**where, "text": slot.text, "logprobs": []}
            )
        if self._message is not None and self._message.item_id == slot.item_id:
            self._message.parts[slot.content_index] = part
        return [done, self._emit("response.content_part.done", {**where, "part": part})]

    def _close_reasoning(self, slot: _Slot, block: ir.ThinkingBlock) -> list[bytes]:
        out: list[bytes] = []
        where = self._summary_where(slot)
        if slot.summary_open:
            part = {"type": "summary_text", "text": slot.text}
            out.append(
                self._emit("response.reasoning_summary_text.done", {**where, "text": slot.text})
            )
            out.append(self._emit("response.reasoning_summary_part.done", {**where, "part": part}))
        full = ir.ThinkingBlock(
            text=slot.text, signature=block.signature, origin=block.origin, redacted=block.redacted
        )
        out.append(self._done_item(slot.output_index, reasoning_item(full, slot.item_id)))
        return out

    def _close_call(self, slot: _Slot, block: ir.ToolCallBlock) -> list[bytes]:
        item = call_item(block, slot.item_id, self._request.tools, "completed")
        where = {"item_id": slot.item_id, "output_index": slot.output_index}
        if _is_custom(item):
            raw_input = item["input"]
            out = [
                self._emit("response.custom_tool_call_input.delta", {**where, "delta": raw_input}),
                self._emit("response.custom_tool_call_input.done", {**where, "input": raw_input}),
            ]
        else:
            payload = {**where, "name": item["name"], "arguments": block.arguments}
            out = [self._emit("response.function_call_arguments.done", payload)]
        out.append(self._done_item(slot.output_index, item))
        return out

    def _close_message(self) -> list[bytes]:
        message = self._message
        if message is None:
            return []
        out: list[bytes] = []
        for index in [i for i, s in self._slots.items() if s.item_id == message.item_id]:
            out += self._block_stop(index)
        self._message = None
        parts = [part for part in message.parts if part is not None]
        out.append(
            self._done_item(message.output_index, message_item(message.item_id, parts, "completed"))
        )
        return out

    def _close_all(self) -> list[bytes]:
        out: list[bytes] = []
        for index in sorted(self._slots):
            out += self._block_stop(index)
        return out + self._hosted.close() + self._close_message()

    # --- termination -------------------------------------------------------------------------

    def _terminal(self) -> dict[str, Any]:
        body = self._snapshot()
        body["output"] = [self._items[i] for i in sorted(self._items)]
        return body

    def _finish(self, event: ir.Finish) -> list[bytes]:
        out = self._close_all()
        self._ended = True
        body = self._terminal()
        finish_envelope(body, event.stop_reason, event.raw_stop_reason, event.usage or self._usage)
        body["completed_at"] = int(time.time())
        kind = {"completed": "response.completed", "incomplete": "response.incomplete"}
        name = kind.get(body["status"], "response.failed")
        return [*out, self._emit(name, {"response": body})]

    def _error(self, message: str, kind: str) -> list[bytes]:
        out = self._close_all()
        self._ended = True
        _, code = error_fields(kind)
        out.append(self._emit("error", {"code": code, "message": message, "param": None}))
        body = self._terminal()
        finish_envelope(body, "error", message, self._usage)
        body["error"] = {"code": "server_error", "message": message}
        out.append(self._emit("response.failed", {"response": body}))
        return out


def _is_custom(item: dict[str, Any]) -> bool:
    return bool(item["type"] == "custom_tool_call")


def _frame(kind: str, sequence: int | str, payload: dict[str, Any]) -> bytes:
    body = {"type": kind, "sequence_number": sequence, **payload}
    return sse.encode(wire.encoder.encode(body), kind)
