"""Gemini `streamGenerateContent?alt=sse` chunks from an upstream → IR stream events
(protocols.md 4.9, 7.5)."""

from __future__ import annotations

from typing import Literal

import msgspec

from plexus import ir, sse
from plexus.errors import kind_for_status
from plexus.protocols import common
from plexus.protocols.blocks import OpenBlocks
from plexus.protocols.gemini import server_tools, wire
from plexus.protocols.gemini.parts import CallLedger
from plexus.protocols.gemini.response import (
    decode_usage,
    map_stop_reason,
)

_OpenKind = Literal["text", "thinking"]


class StreamDecoder:
    """Turns upstream Gemini chunks into IR stream events.

    States:
      idle       no chunk yet; the first chunk emits MessageStart.
      streaming  text and thought parts extend the open block of their kind or open a new one; a
                 functionCall part is a whole block (start, one arguments delta, stop), a server
                 tool part (executableCode, codeExecutionResult) a whole block with no delta; a
                 signature on a non-thought part is a signature-only thinking block before it.
                 The last groundingMetadata seen becomes a web search call and result at the end.
      finishing  a finishReason (or a prompt blockReason) was seen; later chunks may still bring
                 usage. The stream ends by connection close: finish() emits Finish.
      done       an error chunk was read or finish() ran; nothing more is emitted.
    """

    def __init__(self) -> None:
        self._started = False
        self._done = False
        self._blocks: OpenBlocks[_OpenKind] = OpenBlocks()  # at most one open at a time
        self._ledger = CallLedger()
        self._saw_tool_call = False
        self._finished = False
        self._stop: ir.StopReason = "end"
        self._raw_stop: str | None = None
        # Every chunk repeats the running counts: keep the last, convert it only when used.
        self._usage: wire.UsageMetadata | None = None
        self._grounding: wire.GroundingMetadata | None = None  # the last seen, sent at the end

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
        if candidate is not None and candidate.groundingMetadata is not None:
            self._grounding = candidate.groundingMetadata
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
        out: list[ir.StreamEvent] = []
        self._blocks.close_all(out)
        if not self._finished:
            message = "the Gemini upstream ended the stream without a finishReason"
            out.append(ir.StreamError(message=message, kind="api_error", status=502))
            return out
        for block in server_tools.grounding_blocks(self._grounding):
            index = self._blocks.start(block, out)
            out.append(ir.BlockStop(index=index))
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
        out: list[ir.StreamEvent] = []
        self._blocks.close_all(out)
        out.append(ir.StreamError(message=message, kind=kind_for_status(status), status=status))
        return out

    def _part(self, part: wire.Part, out: list[ir.StreamEvent]) -> None:
        if part.thought:
            index = self._ensure_open("thinking", out)
            if part.text:
                out.append(ir.ThinkingDelta(index=index, text=part.text))
            if part.thoughtSignature:
                out.append(ir.SignatureDelta(index=index, signature=part.thoughtSignature))
                self._blocks.close_all(out)
            return
        if part.thoughtSignature:
            self._blocks.close_all(out)
            index = self._blocks.start(ir.ThinkingBlock(origin="gemini"), out)
            out.append(ir.SignatureDelta(index=index, signature=part.thoughtSignature))
            out.append(ir.BlockStop(index=index))
        if part.functionCall is not None:
            self._blocks.close_all(out)
            call = part.functionCall
            block = ir.ToolCallBlock(id=self._ledger.call(call), name=call.name)
            index = self._blocks.start(block, out)
            out.append(ir.ToolArgumentsDelta(index=index, json=common.dump_json(call.args or {})))
            out.append(ir.BlockStop(index=index))
            self._saw_tool_call = True
        elif server_tools.is_server_part(part):
            self._blocks.close_all(out)
            tool = server_tools.decode_part(part, self._ledger.server(part), from_client=False)
            index = self._blocks.start(tool, out)
            out.append(ir.BlockStop(index=index))
        elif part.text:
            index = self._ensure_open("text", out)
            out.append(ir.TextDelta(index=index, text=part.text))

    def _ensure_open(self, kind: _OpenKind, out: list[ir.StreamEvent]) -> int:
        index = self._blocks.get(kind)
        if index is not None:
            return index
        self._blocks.close_all(out)
        block: ir.Block = (
            ir.TextBlock(text="") if kind == "text" else ir.ThinkingBlock(origin="gemini")
        )
        return self._blocks.open(kind, block, out)
