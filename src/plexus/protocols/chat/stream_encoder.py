"""IR stream events → client `chat.completion.chunk` SSE frames (chat as the client's API)."""

from __future__ import annotations

import time
from typing import Any, Literal

from plexus import ir, sse
from plexus.protocols.chat import wire
from plexus.protocols.chat.reasoning import details_for
from plexus.protocols.chat.response import chat_id, encode_finish_reason, encode_usage, error_object
from plexus.protocols.common import mint_id, sign_call_id
from plexus.protocols.frames import DELTA_MARKER, DeltaTemplates
from plexus.protocols.server_tools import separated, text_of

_Kind = Literal["text", "thinking", "refusal", "tool", "other"]
_DeltaField = Literal["content", "reasoning_content"]


class StreamEncoder:
    """Writes Chat Completions chunks for IR events (protocols.md 7.2).

    States:
      FRESH   nothing sent; the first event sends the `role: assistant` chunk.
      OPEN    chunks flow. Each IR block index maps to a delta field; tool calls are numbered
              0, 1, 2... in the order they start. A Gemini signature-only thinking block waits
              (PENDING) for the next block: a tool call gets it as `reasoning.encrypted` by id.
      CLOSED  Finish sent the finish chunk, the usage chunk when asked, and `[DONE]`; or a
              StreamError sent `data: {"error": ...}`. Later events are ignored.
    """

    def __init__(self, request: ir.Request, *, created: int | None = None) -> None:
        self._include_usage = request.include_usage
        self._id = mint_id("chatcmpl-")
        self._model = request.model
        self._created = created if created is not None else int(time.time())
        self._state: Literal["fresh", "open", "closed"] = "fresh"
        self._kinds: dict[int, _Kind] = {}
        self._tool_positions: dict[int, int] = {}
        self._thinking: dict[int, ir.ThinkingBlock] = {}
        # Reasoning deltas, joined once when their block stops (not re-concatenated per delta).
        self._thinking_parts: dict[int, list[str]] = {}
        self._pending: ir.ThinkingBlock | None = None
        self._signer: ir.ThinkingBlock | None = None  # its token goes in the next call's id
        self._detail_index = 0
        self._usage: ir.Usage | None = None
        self._after_text = False  # the last content sent was text, not a server tool's
        # By delta field, or by tool position for argument fragments.
        self._templates: DeltaTemplates[_DeltaField | int] = DeltaTemplates(self._marked_chunk)

    def feed(self, event: ir.StreamEvent) -> list[bytes]:
        """Return the SSE frames for one IR event."""
        if self._state == "closed":
            return []
        out: list[bytes] = []
        # `type() is`, and deltas first below: a Struct isinstance that misses is costly per token.
        if type(event) is ir.MessageStart:
            self._id = chat_id(event.id) if event.id else self._id
            self._model = event.model or self._model
            self._usage = event.usage
            self._templates.clear()
        if self._state == "fresh" and not isinstance(event, ir.StreamError):
            self._state = "open"
            out.append(self._chunk({"role": "assistant", "content": ""}))
        match event:
            case ir.TextDelta():
                self._text(event.index, event.text, out)
            case ir.ThinkingDelta():
                parts = self._thinking_parts.get(event.index)
                if parts is not None:  # else a delta for no open block: sent, never remembered
                    parts.append(event.text)
                out.append(self._delta_frame("reasoning_content", event.text))
            case ir.BlockStart():
                self._start(event, out)
            case ir.SignatureDelta():
                block = self._thinking.get(event.index)
                if block is not None:
                    block.signature = (block.signature or "") + event.signature
            case ir.ToolArgumentsDelta():
                self._arguments(event.index, event.json, out)
            case ir.BlockStop():
                self._stop(event.index, out)
            case ir.UsageUpdate():
                self._usage = event.usage
            case ir.Finish():
                self._finish(event, out)
            case ir.StreamError():
                out.append(self._error(event.message, event.kind))
        return out

    def finish(self) -> list[bytes]:
        """End the stream; an IR stream that stopped without Finish ends with an error frame."""
        if self._state == "closed":
            return []
        return [self._error("upstream stream ended unexpectedly", "api_error")]

    # --- frames ----------------------------------------------------------------------------

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return self._frame([{"delta": delta, "finish_reason": finish_reason, "index": 0}])

    def _frame(self, choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
        """A `chat.completion.chunk`; `usage` (null but on the usage chunk) only when asked for."""
        chunk: dict[str, Any] = {
            "id": self._id,
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }
        if self._include_usage:
            chunk["usage"] = usage
        chunk["object"] = "chat.completion.chunk"
        return sse.encode(wire.ENCODER.encode(chunk))

    def _delta_frame(self, field: _DeltaField | int, text: str) -> bytes:
        """The same bytes as `_chunk` with only `field` set (an int: that tool position's
        arguments), built from a cached template."""
        return self._templates.render(field, text)

    def _marked_chunk(self, field: _DeltaField | int) -> bytes:
        return self._chunk(_marked_delta(field))

    def _error(self, message: str, kind: str) -> bytes:
        self._state = "closed"
        return sse.encode(wire.ENCODER.encode(error_object(message, kind)))

    def _details(self, entries: list[dict[str, Any]]) -> bytes:
        # Every entry gets its own `index`: the SDK accumulator merges list entries by index.
        for entry in entries:
            entry["index"] = self._detail_index
            self._detail_index += 1
        return self._chunk({"reasoning_details": entries})

    # --- blocks ----------------------------------------------------------------------------

    def _start(self, event: ir.BlockStart, out: list[bytes]) -> None:
        block = event.block
        call_id = block.id if isinstance(block, ir.ToolCallBlock) else None
        self._flush_pending(call_id, out)
        match block:
            case ir.ToolCallBlock():
                position = len(self._tool_positions)
                self._kinds[event.index] = "tool"
                self._tool_positions[event.index] = position
                call_id = block.id or mint_id("call_")
                signer = self._signer
                if signer is not None and signer.origin is not None and signer.signature:
                    # Issue 11 bug 7: the token rides in the id clients always send back.
                    call_id = sign_call_id(call_id, signer.origin, signer.signature)
                    self._signer = None
                # `function` first: the key order these frames have always had.
                call = {
                    "function": {"name": block.name, "arguments": block.arguments},
                    "id": call_id,
                    "type": "function",
                    "index": position,
                }
                out.append(self._chunk({"tool_calls": [call]}))
            case ir.ThinkingBlock():
                self._kinds[event.index] = "thinking"
                self._thinking[event.index] = ir.ThinkingBlock(
                    text=block.text,
                    signature=block.signature,
                    origin=block.origin,
                    redacted=block.redacted,
                    item_id=block.item_id,
                )
                self._thinking_parts[event.index] = [block.text]
                if block.text:
                    out.append(self._chunk({"reasoning_content": block.text}))
            case ir.TextBlock():
                self._kinds[event.index] = "text"
                self._text(event.index, block.text, out)
            case ir.RefusalBlock():
                self._kinds[event.index] = "refusal"
                self._text(event.index, block.text, out)
            case ir.ServerToolCallBlock() | ir.ServerToolResultBlock():
                # Chat has no server tools: readable text on lines of its own, in `content`.
                self._kinds[event.index] = "other"
                text = separated(text_of(block) or "", after_text=self._after_text)
                out.append(self._delta_frame("content", text))
                self._after_text = False
            case _:
                self._kinds[event.index] = "other"

    def _text(self, index: int, text: str, out: list[bytes]) -> None:
        if not text:
            return
        if self._kinds.get(index) == "refusal":
            out.append(self._chunk({"refusal": text}))
        else:
            self._after_text = True
            out.append(self._delta_frame("content", text))

    def _arguments(self, index: int, fragment: str, out: list[bytes]) -> None:
        position = self._tool_positions.get(index)
        if position is None or not fragment:
            return
        out.append(self._delta_frame(position, fragment))

    def _stop(self, index: int, out: list[bytes]) -> None:
        block = self._thinking.pop(index, None)
        parts = self._thinking_parts.pop(index, [])
        if block is None or not (block.signature or block.redacted):
            return
        block.text = "".join(parts)
        if block.signature and block.origin is not None:
            self._signer = block
        if block.origin == "gemini" and not block.text and not block.redacted:
            self._flush_pending(None, out)
            self._pending = block
            return
        out.append(self._details(details_for(block)))

    def _flush_pending(self, call_id: str | None, out: list[bytes]) -> None:
        if self._pending is not None:
            out.append(self._details(details_for(self._pending, call_id)))
            self._pending = None

    def _finish(self, event: ir.Finish, out: list[bytes]) -> None:
        self._flush_pending(None, out)
        reason = encode_finish_reason(event.stop_reason, event.raw_stop_reason)
        if self._tool_positions and event.stop_reason == "end":
            reason = "tool_calls"
        out.append(self._chunk({}, finish_reason=reason))
        if self._include_usage:
            out.append(self._frame([], encode_usage(event.usage or self._usage or ir.Usage())))
        out.append(sse.DONE)
        self._state = "closed"


def _marked_delta(field: _DeltaField | int) -> dict[str, Any]:
    """A delta whose `field` holds `DELTA_MARKER`, to cut a template from."""
    if isinstance(field, int):
        return {"tool_calls": [{"function": {"arguments": DELTA_MARKER}, "index": field}]}
    return {field: DELTA_MARKER}
