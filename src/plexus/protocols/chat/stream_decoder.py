"""Upstream `chat.completion.chunk` SSE events → IR stream events (chat as the provider)."""

from __future__ import annotations

from typing import Literal

import msgspec

from plexus import ir, sse
from plexus.errors import kind_for_status
from plexus.protocols.blocks import OpenBlocks
from plexus.protocols.chat import wire
from plexus.protocols.chat.reasoning import origin_for_format
from plexus.protocols.chat.response import decode_usage, error_kind, map_stop_reason
from plexus.protocols.common import mint_id

_Kind = Literal["text", "thinking", "refusal"]
_CURRENT = "current"  # the key of the open text, thinking or refusal block


class StreamDecoder:
    """Turns Chat Completions chunks into IR events, tolerant of vendor quirks (protocols.md 5).

    States:
      WAITING    no chunk yet; the first chunk emits MessageStart.
      STREAMING  deltas flow. At most one text, thinking or refusal block is open at a time;
                 any number of tool-call blocks are open, keyed by the upstream tool index.
      FINISHING  a finish_reason arrived and every block is closed; the usage chunk may follow.
      DONE       `[DONE]`, an error frame or finish() ended the stream; later events are ignored.
    Finish is held until `[DONE]` (or finish()) so it carries the trailing usage chunk.
    """

    def __init__(self) -> None:
        self._state: Literal["waiting", "streaming", "finishing", "done"] = "waiting"
        # Open blocks: the current text, thinking or refusal one, and tool calls by
        # (upstream index, id): an index reused with a new id is a new call.
        self._blocks: OpenBlocks[str | tuple[int, str]] = OpenBlocks()
        self._current: tuple[_Kind, int] | None = None
        self._thinking_origin: ir.Origin | None = None
        # The open thinking block's text, joined only when a signed detail may repeat it: a
        # growing string would be copied whole on every delta.
        self._thinking_parts: list[str] = []
        self._thinking_signed = False
        self._tools: dict[int, tuple[int, str]] = {}  # upstream index -> (IR index, id)
        self._last_tool_key: int | None = None
        self._saw_tool = False
        self._finish_reason: str | None = None
        self._usage: ir.Usage | None = None

    def feed(self, event: sse.Event) -> list[ir.StreamEvent]:
        """Return the IR events of one upstream SSE event."""
        if self._state == "done":
            return []
        data = event.data.strip()
        if data == "[DONE]":
            return self._end()
        if not data:
            return []
        try:
            chunk = wire.CHUNK_DECODER.decode(data)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            return self._fail(f"malformed upstream chunk: {error}", "api_error", 502)
        if chunk.error is not None:
            return self._fail_with(chunk.error)
        out: list[ir.StreamEvent] = []
        if self._state == "waiting":
            self._state = "streaming"
            out.append(_message_start(chunk))
        if chunk.usage is not None:
            self._usage = decode_usage(chunk.usage)
        for choice in chunk.choices or []:
            if choice.index != 0:
                continue
            if choice.delta is not None:
                self._delta(choice.delta, out)
            if choice.finish_reason:
                self._finish_reason = choice.finish_reason
                self._close_all(out)
                self._state = "finishing"
        return out

    def finish(self) -> list[ir.StreamEvent]:
        """End the stream at upstream EOF: Finish if a finish_reason was seen, else StreamError."""
        if self._state == "done":
            return []
        if self._finish_reason is not None:
            return self._end()
        return self._fail("upstream stream ended without [DONE]", "api_error", 502)

    # --- terminal events -------------------------------------------------------------------

    def _end(self) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        self._close_all(out)
        stop = "tool_use" if self._saw_tool else map_stop_reason(self._finish_reason)
        out.append(
            ir.Finish(stop_reason=stop, raw_stop_reason=self._finish_reason, usage=self._usage)
        )
        self._state = "done"
        return out

    def _fail_with(self, error: wire.ErrorObject | str) -> list[ir.StreamEvent]:
        if isinstance(error, str):
            return self._fail(error, "api_error", 502)
        message = error.message or "upstream error"
        if isinstance(error.code, int) and 400 <= error.code < 600:
            return self._fail(message, kind_for_status(error.code), error.code)
        return self._fail(message, error_kind(error.type), 502)

    def _fail(self, message: str, kind: str, status: int) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        self._close_all(out)
        out.append(ir.StreamError(message=message, kind=kind, status=status))
        self._state = "done"
        return out

    # --- blocks ----------------------------------------------------------------------------

    def _close_current(self, out: list[ir.StreamEvent]) -> None:
        self._blocks.close(_CURRENT, out)
        self._current = None

    def _close_all(self, out: list[ir.StreamEvent]) -> None:
        self._close_current(out)
        self._blocks.close_all(out)
        self._tools.clear()

    def _ensure(
        self, kind: _Kind, out: list[ir.StreamEvent], origin: ir.Origin | None = None
    ) -> int:
        current = self._current
        if current is not None and current[0] == kind:
            same_thinking = origin == self._thinking_origin and not self._thinking_signed
            if kind != "thinking" or same_thinking:
                return current[1]
        self._close_current(out)
        block: ir.Block
        match kind:
            case "text":
                block = ir.TextBlock(text="")
            case "refusal":
                block = ir.RefusalBlock(text="")
            case "thinking":
                block = ir.ThinkingBlock(origin=origin)
                self._thinking_origin, self._thinking_parts = origin, []
                self._thinking_signed = False
        self._current = (kind, self._blocks.open(_CURRENT, block, out))
        return self._current[1]

    # --- deltas ----------------------------------------------------------------------------

    def _delta(self, delta: wire.ResponseMessage, out: list[ir.StreamEvent]) -> None:
        # Precedence per protocols.md 5.1: reasoning_details, then reasoning_content, reasoning.
        if delta.reasoning_details:
            for detail in delta.reasoning_details:
                self._detail(detail, out)
        elif delta.reasoning_content or delta.reasoning:
            self._thinking(
                delta.reasoning_content or delta.reasoning or "", "openai-compatible", out
            )
        if delta.content:
            out.append(ir.TextDelta(index=self._ensure("text", out), text=delta.content))
        if delta.refusal:
            out.append(ir.TextDelta(index=self._ensure("refusal", out), text=delta.refusal))
        for call in delta.tool_calls or []:
            self._tool_call(call, out)

    def _thinking(self, text: str, origin: ir.Origin, out: list[ir.StreamEvent]) -> None:
        index = self._ensure("thinking", out, origin)
        self._thinking_parts.append(text)
        out.append(ir.ThinkingDelta(index=index, text=text))

    def _detail(self, detail: wire.ReasoningDetail, out: list[ir.StreamEvent]) -> None:
        origin = origin_for_format(detail.format)
        if detail.type in ("reasoning.text", "reasoning.summary"):
            text = (detail.text if detail.type == "reasoning.text" else detail.summary) or ""
            # A detail that repeats the whole text streamed so far only brings its signature.
            repeated = bool(detail.signature) and text == "".join(self._thinking_parts)
            if text and not (repeated and self._current_is_thinking(origin)):
                self._thinking(text, origin, out)
            if detail.signature:
                index = self._ensure("thinking", out, origin)
                out.append(ir.SignatureDelta(index=index, signature=detail.signature))
                self._thinking_signed = True
        elif detail.type == "reasoning.encrypted" and detail.data:
            self._encrypted(detail, origin, out)

    def _current_is_thinking(self, origin: ir.Origin) -> bool:
        current = self._current
        return current is not None and current[0] == "thinking" and self._thinking_origin == origin

    def _encrypted(
        self, detail: wire.ReasoningDetail, origin: ir.Origin, out: list[ir.StreamEvent]
    ) -> None:
        data = detail.data or ""
        current = self._current
        signable = current is not None and self._current_is_thinking(origin)
        if origin == "openai" and current is not None and signable and not self._thinking_signed:
            out.append(ir.SignatureDelta(index=current[1], signature=data))
            self._thinking_signed = True
            return
        self._close_current(out)
        if origin == "anthropic":
            index = self._blocks.start(ir.ThinkingBlock(redacted=data, origin=origin), out)
        else:
            index = self._blocks.start(ir.ThinkingBlock(origin=origin, item_id=detail.id), out)
            out.append(ir.SignatureDelta(index=index, signature=data))
        out.append(ir.BlockStop(index=index))

    def _tool_call(self, call: wire.ToolCall, out: list[ir.StreamEvent]) -> None:
        # Missing index: the last call (or 0); an index reused with a new id: a new call.
        key = call.index if call.index is not None else (self._last_tool_key or 0)
        self._last_tool_key = key
        known = self._tools.get(key)
        if known is None or (call.id and call.id != known[1]):
            self._close_current(out)
            call_id = call.id or mint_id("call_")
            name = (call.function.name if call.function else None) or ""
            call_block = ir.ToolCallBlock(id=call_id, name=name)
            index = self._blocks.open((key, call_id), call_block, out)
            self._tools[key] = (index, call_id)
            self._saw_tool = True
            known = (index, call_id)
        arguments = call.function.arguments if call.function else None
        if arguments:
            out.append(ir.ToolArgumentsDelta(index=known[0], json=arguments))


def _message_start(chunk: wire.Chunk) -> ir.MessageStart:
    usage = decode_usage(chunk.usage) if chunk.usage is not None else None
    return ir.MessageStart(
        id=chunk.id or mint_id("chatcmpl-"), model=chunk.model or "", usage=usage
    )
