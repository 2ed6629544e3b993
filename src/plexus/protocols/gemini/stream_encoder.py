"""IR stream events → Gemini `streamGenerateContent?alt=sse` chunks for a client
(protocols.md 4.9, 7.5)."""

from __future__ import annotations

from typing import Literal

from plexus import ir, sse
from plexus.protocols import common
from plexus.protocols.frames import DELTA_MARKER, DeltaTemplates
from plexus.protocols.gemini import wire
from plexus.protocols.gemini.parts import client_signature
from plexus.protocols.gemini.response import (
    encode_usage,
    error_body,
    finish_reason_for,
)
from plexus.protocols.gemini.server_tools import client_part, grounding_of

_OpenKind = Literal["text", "thinking"]


class StreamEncoder:
    """Writes IR stream events as Gemini SSE chunks for a Gemini client.

    States:
      streaming  each text or thought delta is one chunk; a tool call is buffered from BlockStart
                 to BlockStop and sent whole as one functionCall part, calls in the order they
                 started (a call that stops first waits for the ones before it); a Gemini
                 signature-only thinking block waits in `_pending` and rides on the next part.
                 A server tool block is one part at its start (Python code execution as
                 executableCode / codeExecutionResult, else text); web searches wait for the end.
      done       Finish sent the calls still open, then the last chunk (finishReason,
                 usageMetadata, groundingMetadata of the web searches), or an error chunk was
                 written; the stream then just ends, as Gemini's does (no terminator).
    """

    def __init__(self, request: ir.Request) -> None:
        self._model = request.model
        self._id = common.mint_id("gen-")
        self._open: dict[int, ir.ToolCallBlock | ir.ThinkingBlock] = {}
        self._calls: list[int] = []  # tool calls not sent yet, in the order they started
        self._stopped: set[int] = set()
        self._pending: str | None = None
        self._pending_call_only = False  # another family's token waits for a functionCall
        self._usage: ir.Usage | None = None
        self._server_blocks: list[ir.Block] = []  # web searches end as the grounding metadata
        self._done = False
        self._templates: DeltaTemplates[bool] = DeltaTemplates(self._marked_chunk)  # by thought

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
                self._calls.append(event.index)
            case ir.BlockStart(block=ir.ThinkingBlock() as thinking):
                self._open[event.index] = ir.ThinkingBlock(
                    thinking.text, thinking.signature, thinking.origin, thinking.redacted
                )
            case ir.BlockStart(block=ir.TextBlock(text=text) | ir.RefusalBlock(text=text)) if text:
                return [self._text_chunk(text, thought=False)]
            case ir.BlockStart(block=ir.ServerToolCallBlock() | ir.ServerToolResultBlock() as tool):
                return self._server_part(tool)
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
        if self._pending is not None and not thought and not self._pending_call_only:
            return self._chunk([self._signed(wire.Part(text=text))])
        return self._templates.render(thought, text)

    def _marked_chunk(self, thought: bool) -> bytes:
        return self._chunk([wire.Part(text=DELTA_MARKER, thought=True if thought else None)])

    def _signed(self, part: wire.Part) -> wire.Part:
        if self._pending is not None:
            part.thoughtSignature, self._pending = self._pending, None
        return part

    def _server_part(self, block: ir.ServerToolCallBlock | ir.ServerToolResultBlock) -> list[bytes]:
        self._server_blocks.append(block)
        part = client_part(block)
        if part is None:
            return []
        if not self._pending_call_only:
            part = self._signed(part)
        return [self._chunk([part])]

    def _stop_block(self, index: int) -> list[bytes]:
        block = self._open.get(index)
        if isinstance(block, ir.ToolCallBlock):
            self._stopped.add(index)
            return self._send_calls(finishing=False)
        self._open.pop(index, None)
        if not isinstance(block, ir.ThinkingBlock):
            return []
        signature = client_signature(block)
        if signature is None:
            return []
        if block.text and block.origin == "gemini":
            return [self._chunk([wire.Part(text="", thought=True, thoughtSignature=signature)])]
        # Another family's token (its text inside) or Gemini's signature alone waits for the
        # next part: the first functionCall where Gemini 3 puts it (issue 11 bug 10).
        out = (
            [self._chunk([wire.Part(text="", thoughtSignature=self._pending)])]
            if self._pending
            else []
        )
        self._pending = signature
        self._pending_call_only = block.origin != "gemini"
        return out

    def _send_calls(self, *, finishing: bool) -> list[bytes]:
        """The calls that may go now: stopped ones whose predecessors went (all, at the end)."""
        out: list[bytes] = []
        while self._calls and (finishing or self._calls[0] in self._stopped):
            index = self._calls.pop(0)
            self._stopped.discard(index)
            block = self._open.pop(index, None)
            if isinstance(block, ir.ToolCallBlock):
                arguments = common.parse_arguments(block.arguments)
                call = wire.FunctionCall(name=block.name, args=arguments, id=block.id)
                out.append(self._chunk([self._signed(wire.Part(functionCall=call))]))
        return out

    def _finish(self, event: ir.Finish) -> list[bytes]:
        out = self._send_calls(finishing=True)
        self._done = True
        usage = event.usage or self._usage
        part = self._signed(wire.Part(text=""))
        reason = finish_reason_for(event.stop_reason, event.raw_stop_reason)
        grounding = grounding_of(self._server_blocks)
        out.append(self._chunk([part], reason, encode_usage(usage) if usage else None, grounding))
        return out

    def _error(self, status: int, message: str, kind: str) -> list[bytes]:
        self._done = True
        payload = wire.ErrorResponse(error=error_body(status, message, kind))
        return [sse.encode(wire.encoder.encode(payload))]

    def _chunk(
        self,
        parts: list[wire.Part],
        reason: str | None = None,
        usage: wire.UsageMetadata | None = None,
        grounding: wire.GroundingMetadata | None = None,
    ) -> bytes:
        candidate = wire.Candidate(
            content=wire.Content(role="model", parts=parts),
            finishReason=reason,
            index=0,
            groundingMetadata=grounding,
        )
        payload = wire.GenerateContentResponse(
            candidates=[candidate],
            usageMetadata=usage,
            modelVersion=self._model,
            responseId=self._id,
        )
        return sse.encode(wire.encoder.encode(payload))
