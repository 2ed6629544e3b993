"""IR stream events to Anthropic SSE for a Messages client (protocols.md 2.10, 7.3)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import msgspec

from plexus import ir, sse
from plexus.protocols import common
from plexus.protocols.frames import DELTA_MARKER, DeltaTemplates
from plexus.protocols.messages import server_tools, wire
from plexus.protocols.messages.response import (
    client_signature,
    client_tool_id,
    encode_stop_reason,
    encode_usage,
    error_object,
    message_id,
    stop_details,
)

_State = Literal["idle", "open", "closed"]
_Kind = Literal["text", "thinking", "redacted", "tool_use", "server"]
_BlockDelta = ir.TextDelta | ir.ThinkingDelta | ir.SignatureDelta | ir.ToolArgumentsDelta


@dataclass
class _Queued:
    """A block the upstream opened while another was open: replayed once its turn comes."""

    block: ir.Block
    deltas: list[_BlockDelta] = field(default_factory=list)
    stopped: bool = False


class StreamEncoder:
    """Turns IR stream events into the Anthropic SSE a Messages client expects.

    States: `idle` (nothing sent) -> `open` after `message_start` (sent on the first event of
    any kind) -> `closed` after `message_delta` + `message_stop`, or after an `error` event.
    Anthropic clients allow one open block at a time with indexes 0, 1, 2…, so a block the
    upstream opens while another is open (interleaved parallel tool calls) is queued with its
    deltas and replayed when the open one stops. A thinking block's signature is held and sent
    as one `signature_delta` just before its `content_block_stop`. A server tool block comes
    whole: its `content_block_start` carries it (a `server_tool_use` its input as one
    `input_json_delta`, as Anthropic streams it), or a text block carries its text.
    """

    def __init__(self, request: ir.Request) -> None:
        self._request = request
        self._state: _State = "idle"
        self._next_index = 0
        self._active: int | None = None  # IR index of the block open on the wire
        self._kind: _Kind = "text"
        self._origin: ir.Origin | None = None
        self._signature: str | None = None
        self._queued: dict[int, _Queued] = {}
        self._usage = ir.Usage()
        self._saw_tool = False
        # By (wire block index, delta type): one per block, which is short-lived.
        self._templates: DeltaTemplates[tuple[int, str, str]] = DeltaTemplates(self._marked_frame)

    def feed(self, event: ir.StreamEvent) -> list[bytes]:
        """Return the framed SSE events for one IR event."""
        if self._state == "closed":
            return []
        out: list[bytes] = []
        if self._state == "idle" and not isinstance(event, ir.StreamError):
            self._start(event if isinstance(event, ir.MessageStart) else None, out)
        match event:  # deltas first: a Struct isinstance that misses is costly per token
            case (
                ir.TextDelta() | ir.ThinkingDelta() | ir.SignatureDelta() | ir.ToolArgumentsDelta()
            ):
                self._route_delta(event, out)
            case ir.BlockStart(index=index, block=block):
                if self._active is None:
                    self._open(index, block, out)
                else:
                    self._queued[index] = _Queued(block)
            case ir.BlockStop(index=index):
                self._route_stop(index, out)
            case ir.UsageUpdate(usage=usage):
                self._usage = msgspec.structs.replace(usage)
            case ir.Finish():
                self._finish(event, out)
            case ir.StreamError(message=message, kind=kind):
                self._state = "closed"
                out.append(sse.encode(wire.ENCODER.encode(error_object(message, kind)), "error"))
        return out

    def finish(self) -> list[bytes]:
        """End the stream: a stream that never finished gets an `error` event, not a clean stop."""
        if self._state == "closed":
            return []
        return self.feed(ir.StreamError(message="upstream stream ended unexpectedly"))

    def _emit(self, out: list[bytes], payload: dict[str, Any]) -> None:
        out.append(sse.encode(wire.ENCODER.encode(payload), payload["type"]))

    def _start(self, event: ir.MessageStart | None, out: list[bytes]) -> None:
        self._state = "open"
        if event is not None and event.usage is not None:
            self._usage = msgspec.structs.replace(event.usage)
        message: dict[str, Any] = {
            "id": message_id(event.id) if event and event.id else common.mint_id("msg_"),
            "type": "message",
            "role": "assistant",
            "model": (event.model if event else "") or self._request.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": encode_usage(self._usage),
        }
        self._emit(out, {"type": "message_start", "message": message})

    def _open(self, index: int, block: ir.Block, out: list[bytes]) -> None:
        self._active = index
        shell: dict[str, Any]
        follow: _BlockDelta | None = None
        match block:
            case ir.ThinkingBlock(redacted=redacted, origin="anthropic") if redacted:
                self._kind = "redacted"
                shell = {"type": "redacted_thinking", "data": redacted}
            case ir.ThinkingBlock(text=text):
                self._kind, self._origin = "thinking", block.origin
                self._signature = block.signature or block.redacted
                shell = {"type": "thinking", "thinking": "", "signature": ""}
                follow = ir.ThinkingDelta(index=index, text=text) if text else None
            case ir.ToolCallBlock(id=call_id, name=name, arguments=arguments):
                self._kind, self._saw_tool = "tool_use", True
                shell = {
                    "type": "tool_use",
                    "id": client_tool_id(call_id),
                    "name": name,
                    "input": {},
                }
                follow = ir.ToolArgumentsDelta(index=index, json=arguments) if arguments else None
            case ir.TextBlock(text=text) | ir.RefusalBlock(text=text):
                self._kind = "text"
                shell = {"type": "text", "text": ""}
                follow = ir.TextDelta(index=index, text=text) if text else None
            case ir.ServerToolCallBlock() | ir.ServerToolResultBlock():
                self._open_server(block, out)
                return
            case _:
                self._kind = "text"
                shell = {"type": "text", "text": ""}
        self._emit(
            out, {"type": "content_block_start", "index": self._next_index, "content_block": shell}
        )
        if follow is not None:
            self._delta(follow, out)

    def _open_server(
        self, block: ir.ServerToolCallBlock | ir.ServerToolResultBlock, out: list[bytes]
    ) -> None:
        encoded = server_tools.encode_for_client(block)
        start = {"type": "content_block_start", "index": self._next_index}
        if encoded["type"] == "text":
            self._kind = "text"
            self._emit(out, {**start, "content_block": {"type": "text", "text": ""}})
            out.append(self._delta_frame("text_delta", "text", encoded["text"]))
            return
        self._kind = "server"
        if encoded["type"] != server_tools.SERVER_TOOL_USE:
            self._emit(out, {**start, "content_block": encoded})
            return
        self._emit(out, {**start, "content_block": {**encoded, "input": {}}})
        arguments = common.dump_json(encoded.get("input") or {})
        out.append(self._delta_frame("input_json_delta", "partial_json", arguments))

    def _route_delta(self, event: _BlockDelta, out: list[bytes]) -> None:
        if event.index == self._active:
            self._delta(event, out)
        elif event.index in self._queued:
            self._queued[event.index].deltas.append(event)

    def _delta(self, event: _BlockDelta, out: list[bytes]) -> None:
        match event:
            case ir.TextDelta(text=text) if text and self._kind == "text":
                out.append(self._delta_frame("text_delta", "text", text))
            case ir.ThinkingDelta(text=text) if text and self._kind == "thinking":
                out.append(self._delta_frame("thinking_delta", "thinking", text))
            case ir.SignatureDelta(signature=signature):
                self._signature = signature
            case ir.ToolArgumentsDelta(json=fragment) if fragment and self._kind == "tool_use":
                out.append(self._delta_frame("input_json_delta", "partial_json", fragment))

    def _delta_frame(self, delta_type: str, key: str, value: str) -> bytes:
        """A `content_block_delta` frame, built by concatenation around a cached template of
        the open block's frame (the per-token hot path)."""
        return self._templates.render((self._next_index, delta_type, key), value)

    def _marked_frame(self, where: tuple[int, str, str]) -> bytes:
        index, delta_type, key = where
        delta = {"type": delta_type, key: DELTA_MARKER}
        probe: list[bytes] = []
        self._emit(probe, {"type": "content_block_delta", "index": index, "delta": delta})
        return probe[0]

    def _route_stop(self, index: int, out: list[bytes]) -> None:
        if index == self._active:
            self._close(out)
            self._drain(out, everything=False)
        elif index in self._queued:
            self._queued[index].stopped = True

    def _close(self, out: list[bytes]) -> None:
        if self._kind == "thinking":
            token = ir.ThinkingBlock(signature=self._signature, origin=self._origin)
            delta = {"type": "signature_delta", "signature": client_signature(token)}
            self._emit(
                out, {"type": "content_block_delta", "index": self._next_index, "delta": delta}
            )
        self._emit(out, {"type": "content_block_stop", "index": self._next_index})
        self._next_index += 1
        self._templates.clear()
        self._active, self._origin, self._signature = None, None, None

    def _drain(self, out: list[bytes], *, everything: bool) -> None:
        while self._queued and self._active is None:
            index = next(iter(self._queued))
            queued = self._queued.pop(index)
            self._open(index, queued.block, out)
            for delta in queued.deltas:
                self._delta(delta, out)
            if queued.stopped or everything:
                self._close(out)

    def _finish(self, event: ir.Finish, out: list[bytes]) -> None:
        if self._active is not None:
            self._close(out)
        self._drain(out, everything=True)
        if event.usage is not None:
            self._usage = event.usage
        reason = event.stop_reason
        if reason == "end" and self._saw_tool:
            reason = "tool_use"
        stop_reason = encode_stop_reason(reason, event.raw_stop_reason)
        delta: dict[str, Any] = {
            "stop_reason": stop_reason,
            "stop_sequence": event.stop_sequence if stop_reason == "stop_sequence" else None,
        }
        details = stop_details(stop_reason)
        if details is not None:
            delta["stop_details"] = details
        self._emit(
            out, {"type": "message_delta", "delta": delta, "usage": encode_usage(self._usage)}
        )
        self._emit(out, {"type": "message_stop"})
        self._state = "closed"
