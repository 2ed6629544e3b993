"""Gemini `streamGenerateContent?alt=sse` streams ↔ IR stream events (protocols.md 4.9, 7.5)."""

from __future__ import annotations

from typing import Literal

import msgspec

from plexus import ir, sse
from plexus.errors import kind_for_status
from plexus.protocols import common
from plexus.protocols.gemini import wire
from plexus.protocols.gemini.parts import CallLedger, client_signature
from plexus.protocols.gemini.response import (
    decode_usage,
    encode_usage,
    error_body,
    finish_reason_for,
    map_stop_reason,
)

_OpenKind = Literal["text", "thinking"]


class StreamDecoder:
    """Turns upstream Gemini chunks into IR stream events.

    States:
      idle       no chunk yet; the first chunk emits MessageStart.
      streaming  text and thought parts extend the open block of their kind or open a new one; a
                 functionCall part is a whole block (start, one arguments delta, stop); a
                 signature on a non-thought part is a signature-only thinking block before it.
      finishing  a finishReason (or a prompt blockReason) was seen; later chunks may still bring
                 usage. The stream ends by connection close: finish() emits Finish.
      done       an error chunk was read or finish() ran; nothing more is emitted.
    """

    def __init__(self) -> None:
        self._started = False
        self._done = False
        self._next_index = 0
        self._open: tuple[int, _OpenKind] | None = None
        self._ledger = CallLedger()
        self._saw_tool_call = False
        self._finished = False
        self._stop: ir.StopReason = "end"
        self._raw_stop: str | None = None
        # Every chunk repeats the running counts: keep the last, convert it only when used.
        self._usage: wire.UsageMetadata | None = None

    def feed(self, event: sse.Event) -> list[ir.StreamEvent]:
        """Return the IR events of one upstream SSE event."""
        data = event.data.strip()
        if self._done or not data or data == "[DONE]":
            return []
        try:
            chunk = wire.response_decoder.decode(data)
        except msgspec.DecodeError:
            return self._fail("malformed chunk from the Gemini upstream", 502)
        if chunk.error is not None:
            return self._fail(chunk.error.message or "Gemini stream error", chunk.error.code or 502)
        out: list[ir.StreamEvent] = []
        if chunk.usageMetadata is not None:
            self._usage = chunk.usageMetadata
        if not self._started:
            self._started = True
            out.append(self._message_start(chunk))
        candidate = chunk.candidates[0] if chunk.candidates else None
        if candidate is not None and candidate.content is not None:
            for part in candidate.content.parts:
                self._part(part, out)
        if candidate is not None and candidate.finishReason:
            self._finish_with(map_stop_reason(candidate.finishReason), candidate.finishReason)
        elif candidate is None and chunk.promptFeedback and chunk.promptFeedback.blockReason:
            self._finish_with("content_filter", chunk.promptFeedback.blockReason)
        return out

    def finish(self) -> list[ir.StreamEvent]:
        """Close open blocks and emit Finish, or StreamError when no finishReason came."""
        if self._done:
            return []
        self._done = True
        out = self._close()
        if not self._finished:
            message = "the Gemini upstream ended the stream without a finishReason"
            out.append(ir.StreamError(message=message, kind="api_error", status=502))
            return out
        stop = "tool_use" if self._saw_tool_call and self._stop == "end" else self._stop
        usage = decode_usage(self._usage) if self._usage is not None else None
        out.append(ir.Finish(stop_reason=stop, raw_stop_reason=self._raw_stop, usage=usage))
        return out

    def _message_start(self, chunk: wire.GenerateContentResponse) -> ir.MessageStart:
        usage = None
        if self._usage is not None:
            counts = decode_usage(self._usage)
            usage = ir.Usage(
                input_tokens=counts.input_tokens, cache_read_tokens=counts.cache_read_tokens
            )
        response_id = chunk.responseId or common.mint_id("gen-")
        return ir.MessageStart(id=response_id, model=chunk.modelVersion or "", usage=usage)

    def _finish_with(self, stop: ir.StopReason, raw: str) -> None:
        self._finished = True
        self._stop, self._raw_stop = stop, raw

    def _fail(self, message: str, status: int) -> list[ir.StreamEvent]:
        self._done = True
        out = self._close()
        out.append(ir.StreamError(message=message, kind=kind_for_status(status), status=status))
        return out

    def _part(self, part: wire.Part, out: list[ir.StreamEvent]) -> None:
        if part.thought:
            index = self._ensure_open("thinking", out)
            if part.text:
                out.append(ir.ThinkingDelta(index=index, text=part.text))
            if part.thoughtSignature:
                out.append(ir.SignatureDelta(index=index, signature=part.thoughtSignature))
                out.extend(self._close())
            return
        if part.thoughtSignature:
            out.extend(self._close())
            index = self._start(ir.ThinkingBlock(origin="gemini"), out)
            out.append(ir.SignatureDelta(index=index, signature=part.thoughtSignature))
            out.append(ir.BlockStop(index=index))
        if part.functionCall is not None:
            out.extend(self._close())
            call = part.functionCall
            block = ir.ToolCallBlock(id=self._ledger.call(call), name=call.name)
            index = self._start(block, out)
            out.append(ir.ToolArgumentsDelta(index=index, json=common.dump_json(call.args or {})))
            out.append(ir.BlockStop(index=index))
            self._saw_tool_call = True
        elif part.text:
            index = self._ensure_open("text", out)
            out.append(ir.TextDelta(index=index, text=part.text))

    def _start(self, block: ir.Block, out: list[ir.StreamEvent]) -> int:
        index = self._next_index
        self._next_index += 1
        out.append(ir.BlockStart(index=index, block=block))
        return index

    def _ensure_open(self, kind: _OpenKind, out: list[ir.StreamEvent]) -> int:
        if self._open is not None and self._open[1] == kind:
            return self._open[0]
        out.extend(self._close())
        block: ir.Block = (
            ir.TextBlock(text="") if kind == "text" else ir.ThinkingBlock(origin="gemini")
        )
        index = self._start(block, out)
        self._open = (index, kind)
        return index

    def _close(self) -> list[ir.StreamEvent]:
        if self._open is None:
            return []
        index, self._open = self._open[0], None
        return [ir.BlockStop(index=index)]


class StreamEncoder:
    """Writes IR stream events as Gemini SSE chunks for a Gemini client.

    States:
      streaming  each text or thought delta is one chunk; a tool call is buffered from BlockStart
                 to BlockStop and sent whole as one functionCall part; a Gemini signature-only
                 thinking block waits in `_pending` and rides on the next part.
      done       Finish wrote the last chunk (finishReason, usageMetadata), or an error chunk was
                 written; the stream then just ends, as Gemini's does (no terminator).
    """

    def __init__(self, request: ir.Request) -> None:
        self._model = request.model
        self._id = common.mint_id("gen-")
        self._open: dict[int, ir.ToolCallBlock | ir.ThinkingBlock] = {}
        self._pending: str | None = None
        self._usage: ir.Usage | None = None
        self._done = False
        self._templates: dict[bool, tuple[bytes, bytes]] = {}  # text chunk by `thought`

    def feed(self, event: ir.StreamEvent) -> list[bytes]:
        """Return the SSE chunks for one IR event."""
        if self._done:
            return []
        # Per-token deltas first: each class pattern tried is a Struct isinstance call.
        match event:
            case ir.TextDelta(text=text) if text:
                return [self._text_chunk(text, thought=False)]
            case ir.ThinkingDelta(text=text) if text:
                block = self._open.get(event.index)
                if isinstance(block, ir.ThinkingBlock):
                    block.text += text
                return [self._text_chunk(text, thought=True)]
            case ir.ToolArgumentsDelta():
                block = self._open.get(event.index)
                if isinstance(block, ir.ToolCallBlock):
                    block.arguments += event.json
            case ir.MessageStart():
                self._id = event.id or self._id
                self._model = event.model or self._model
                self._usage = event.usage or self._usage
                self._templates.clear()
            case ir.BlockStart(block=ir.ToolCallBlock() as call):
                self._open[event.index] = ir.ToolCallBlock(call.id, call.name, call.arguments)
            case ir.BlockStart(block=ir.ThinkingBlock() as thinking):
                self._open[event.index] = ir.ThinkingBlock(
                    thinking.text, thinking.signature, thinking.origin, thinking.redacted
                )
            case ir.BlockStart(block=ir.TextBlock(text=text) | ir.RefusalBlock(text=text)) if text:
                return [self._text_chunk(text, thought=False)]
            case ir.SignatureDelta():
                block = self._open.get(event.index)
                if isinstance(block, ir.ThinkingBlock):
                    block.signature = event.signature
            case ir.BlockStop():
                return self._stop_block(event.index)
            case ir.UsageUpdate():
                self._usage = event.usage
            case ir.Finish():
                return self._finish(event)
            case ir.StreamError():
                return self._error(event.status, event.message, event.kind)
        return []

    def finish(self) -> list[bytes]:
        """End the stream; an IR stream that stopped without Finish gets an error chunk."""
        if self._done:
            return []
        return self._error(502, "the upstream stream ended unexpectedly", "api_error")

    def _text_chunk(self, text: str, *, thought: bool) -> bytes:
        """`_chunk` of one text part, by concatenation around a cached template unless a held
        signature rides on it (the per-token hot path)."""
        if self._pending is not None and not thought:
            return self._chunk([self._signed(wire.Part(text=text))])
        template = self._templates.get(thought)
        if template is None:
            part = wire.Part(text=common.DELTA_MARKER, thought=True if thought else None)
            template = self._templates[thought] = common.split_template(self._chunk([part]))
        return template[0] + common.encode_json_string(text) + template[1]

    def _signed(self, part: wire.Part) -> wire.Part:
        if self._pending is not None:
            part.thoughtSignature, self._pending = self._pending, None
        return part

    def _stop_block(self, index: int) -> list[bytes]:
        block = self._open.pop(index, None)
        if isinstance(block, ir.ToolCallBlock):
            call = wire.FunctionCall(
                name=block.name, args=common.parse_arguments(block.arguments), id=block.id
            )
            return [self._chunk([self._signed(wire.Part(functionCall=call))])]
        if not isinstance(block, ir.ThinkingBlock):
            return []
        signature = client_signature(block)
        if signature is None:
            return []
        if block.text or block.origin != "gemini":
            return [self._chunk([wire.Part(text="", thought=True, thoughtSignature=signature)])]
        out = (
            [self._chunk([wire.Part(text="", thoughtSignature=self._pending)])]
            if self._pending
            else []
        )
        self._pending = signature
        return out

    def _finish(self, event: ir.Finish) -> list[bytes]:
        self._done = True
        usage = event.usage or self._usage
        part = self._signed(wire.Part(text=""))
        reason = finish_reason_for(event.stop_reason, event.raw_stop_reason)
        return [self._chunk([part], reason, encode_usage(usage) if usage else None)]

    def _error(self, status: int, message: str, kind: str) -> list[bytes]:
        self._done = True
        payload = wire.ErrorResponse(error=error_body(status, message, kind))
        return [sse.encode(wire.encoder.encode(payload))]

    def _chunk(
        self,
        parts: list[wire.Part],
        reason: str | None = None,
        usage: wire.UsageMetadata | None = None,
    ) -> bytes:
        candidate = wire.Candidate(
            content=wire.Content(role="model", parts=parts), finishReason=reason, index=0
        )
        payload = wire.GenerateContentResponse(
            candidates=[candidate],
            usageMetadata=usage,
            modelVersion=self._model,
            responseId=self._id,
        )
        return sse.encode(wire.encoder.encode(payload))
