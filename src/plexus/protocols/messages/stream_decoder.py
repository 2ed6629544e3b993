"""Anthropic SSE events from an upstream to IR stream events (protocols.md 2.10)."""

from __future__ import annotations

from typing import Literal

import msgspec

from plexus import ir, sse
from plexus.protocols.blocks import OpenBlocks
from plexus.protocols.messages import server_tools, wire
from plexus.protocols.messages.response import decode_usage, map_stop_reason, stream_error

_State = Literal["waiting", "streaming", "done", "failed"]


class StreamDecoder:
    """Turns an Anthropic upstream's SSE events into IR stream events.

    States: `waiting` (before `message_start`; pings allowed) -> `streaming` (blocks open and
    close; `message_delta` records the stop reason and cumulative usage) -> `done` after
    `message_stop` (emits Finish), or `failed` after an `error` event or a malformed payload.
    Events after `done`/`failed` are ignored. Upstream block indexes map to IR indexes 0, 1, …;
    blocks with no IR form are skipped with their deltas. A `server_tool_use` is held until its
    `content_block_stop` and goes out whole (BlockStart, BlockStop) with the input its deltas
    carried; server tool results come whole in their `content_block_start`.
    """

    def __init__(self) -> None:
        self._state: _State = "waiting"
        self._blocks: OpenBlocks[int] = OpenBlocks()  # by the upstream's block index
        self._usage = ir.Usage()
        self._raw_stop: str | None = None
        self._stop_sequence: str | None = None
        self._server_calls: dict[int, tuple[bytes, list[str]]] = {}  # shell, input fragments

    def feed(self, event: sse.Event) -> list[ir.StreamEvent]:
        """Return the IR events for one upstream SSE event."""
        if self._state in ("done", "failed"):
            return []
        try:
            payload = wire.PAYLOAD_DECODER.decode(event.data)
        except msgspec.DecodeError as error:
            return self._fail(ir.StreamError(message=f"malformed upstream event: {error}"))
        match payload.type:
            case "message_start":
                return self._message_start(payload)
            case "content_block_start":
                return self._block_start(payload)
            case "content_block_delta":
                return self._block_delta(payload)
            case "content_block_stop":
                return self._block_stop(payload)
            case "message_delta":
                return self._message_delta(payload)
            case "message_stop":
                return self._message_stop()
            case "error":
                return self._fail(stream_error(payload.error))
            case _:
                return []  # ping and future event types

    def finish(self) -> list[ir.StreamEvent]:
        """Close open blocks and report a stream that ended without `message_stop`."""
        if self._state in ("done", "failed"):
            return []
        return self._fail(ir.StreamError(message="upstream stream ended without message_stop"))

    def _fail(self, error: ir.StreamError) -> list[ir.StreamEvent]:
        events: list[ir.StreamEvent] = []
        self._blocks.close_all(events)
        self._state = "failed"
        events.append(error)
        return events

    def _message_start(self, payload: wire.StreamPayload) -> list[ir.StreamEvent]:
        if self._state != "waiting":
            return []  # a duplicated message_start changes nothing
        self._state = "streaming"
        message = payload.message or wire.WireMessage()
        usage = decode_usage(message.usage, self._usage)
        return [ir.MessageStart(id=message.id, model=message.model, usage=_copy(usage))]

    def _block_start(self, payload: wire.StreamPayload) -> list[ir.StreamEvent]:
        raw = payload.content_block
        if not raw or payload.index is None:
            return []
        try:
            block = wire.BLOCK_DECODER.decode(raw)
        except msgspec.DecodeError as error:
            return self._fail(ir.StreamError(message=f"malformed upstream block: {error}"))
        out: list[ir.StreamEvent] = []
        if block.type == server_tools.SERVER_TOOL_USE:
            self._server_calls[payload.index] = (bytes(raw), [])
            return out
        if server_tools.is_server_block(block.type):
            result = server_tools.decode_block(block, bytes(raw), from_client=False)
            self._blocks.open(payload.index, result, out)
            return out
        match block.type:
            case "text":
                index = self._blocks.open(payload.index, ir.TextBlock(text=""), out)
                if block.text:
                    out.append(ir.TextDelta(index=index, text=block.text))
            case "thinking":
                thinking = ir.ThinkingBlock(text="", origin="anthropic")
                index = self._blocks.open(payload.index, thinking, out)
                if block.thinking:
                    out.append(ir.ThinkingDelta(index=index, text=block.thinking))
                if block.signature:
                    out.append(ir.SignatureDelta(index=index, signature=block.signature))
            case "redacted_thinking":
                redacted = ir.ThinkingBlock(redacted=block.data or "", origin="anthropic")
                self._blocks.open(payload.index, redacted, out)
            case "tool_use":
                call = ir.ToolCallBlock(id=block.id or "", name=block.name or "")
                index = self._blocks.open(payload.index, call, out)
                arguments = bytes(block.input).decode() if block.input else ""
                if arguments.strip() not in ("", "{}"):
                    out.append(ir.ToolArgumentsDelta(index=index, json=arguments))
        return out

    def _block_delta(self, payload: wire.StreamPayload) -> list[ir.StreamEvent]:
        delta = payload.delta
        if self._server_calls:  # rare: skip the lookup on the per-token path
            held = self._server_calls.get(payload.index if payload.index is not None else -1)
            if held is not None:
                if delta is not None and delta.partial_json:
                    held[1].append(delta.partial_json)
                return []
        index = self._blocks.get(payload.index if payload.index is not None else -1)
        if delta is None or index is None:
            return []
        match delta.type:
            case "text_delta" if delta.text:
                return [ir.TextDelta(index=index, text=delta.text)]
            case "thinking_delta" if delta.thinking:
                return [ir.ThinkingDelta(index=index, text=delta.thinking)]
            case "signature_delta" if delta.signature:
                return [ir.SignatureDelta(index=index, signature=delta.signature)]
            case "input_json_delta" if delta.partial_json:
                return [ir.ToolArgumentsDelta(index=index, json=delta.partial_json)]
            case _:
                return []  # empty fragments, citations_delta, future delta types

    def _block_stop(self, payload: wire.StreamPayload) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        key = payload.index if payload.index is not None else -1
        server_call = self._server_calls.pop(key, None)
        if server_call is not None:
            shell, fragments = server_call
            try:
                call = server_tools.completed_call(shell, "".join(fragments))
            except msgspec.DecodeError as error:
                return self._fail(ir.StreamError(message=f"malformed server tool input: {error}"))
            index = self._blocks.start(call, out)
            out.append(ir.BlockStop(index))
            return out
        self._blocks.close(key, out)
        return out

    def _message_delta(self, payload: wire.StreamPayload) -> list[ir.StreamEvent]:
        if payload.delta is not None and payload.delta.stop_reason is not None:
            self._raw_stop = payload.delta.stop_reason
            self._stop_sequence = payload.delta.stop_sequence
        decode_usage(payload.usage, self._usage)
        return [ir.UsageUpdate(usage=_copy(self._usage))]

    def _message_stop(self) -> list[ir.StreamEvent]:
        events: list[ir.StreamEvent] = []
        self._blocks.close_all(events)
        self._state = "done"
        events.append(
            ir.Finish(
                stop_reason=map_stop_reason(self._raw_stop),
                raw_stop_reason=self._raw_stop,
                stop_sequence=self._stop_sequence,
                usage=_copy(self._usage),
            )
        )
        return events


def _copy(usage: ir.Usage) -> ir.Usage:
    return msgspec.structs.replace(usage)
