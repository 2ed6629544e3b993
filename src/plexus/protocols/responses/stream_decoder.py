"""Upstream Responses SSE events → IR stream events (protocols.md 3.7, 7.3 "RS upstream")."""

from __future__ import annotations

import msgspec

from plexus import ir, sse
from plexus.protocols import common
from plexus.protocols.blocks import OpenBlocks
from plexus.protocols.responses import hosted, wire
from plexus.protocols.responses.reasoning import thinking_from_reasoning
from plexus.protocols.responses.response import decode_item, decode_usage, stop_reason_of

_TERMINAL = frozenset({"response.completed", "response.incomplete", "response.failed"})


class StreamDecoder:
    """Turns upstream Responses events into IR stream events.

    States: waiting (nothing seen) → streaming (MessageStart sent; blocks open and close as items
    and content parts do) → ended (a terminal or `error` event was seen; later events ignored).
    Items are keyed by `item_id`, falling back to `output_index` and then to the last item added,
    because compatible servers (llama.cpp) omit `sequence_number` and `output_index`. A hosted
    tool item (web search, code interpreter) becomes whole blocks at its `output_item.done`.
    """

    def __init__(self) -> None:
        self._started = False
        self._ended = False
        self._blocks: OpenBlocks[str] = OpenBlocks()  # by `item:<id>` or `text:<id>:<part>`
        self._streamed: set[int] = set()
        self._arguments: dict[int, str] = {}
        self._custom: set[int] = set()
        self._item_keys: dict[int, str] = {}
        self._last_item = ""
        self._has_tool_calls = False
        self._seen_text: set[str] = set()

    def feed(self, event: sse.Event) -> list[ir.StreamEvent]:
        """Return the IR events for one upstream SSE event."""
        if self._ended or event.data.strip() == "[DONE]":
            return []
        try:
            body = wire.event_decoder.decode(event.data)
        except msgspec.ValidationError:
            return []  # an event type whose fields we do not read has a shape we did not expect
        except msgspec.DecodeError:
            return self._fail(f"malformed upstream event: {event.data[:200]}")
        out: list[ir.StreamEvent] = []
        if not self._started:
            self._started = True
            response = body.response or wire.ResponseBody()
            out.append(ir.MessageStart(id=response.id, model=response.model))
        out.extend(self._dispatch(body, event.data))
        return out

    def finish(self) -> list[ir.StreamEvent]:
        """Close open blocks and report a stream that ended without a terminal event."""
        if self._ended:
            return []
        return self._fail("upstream stream ended without a terminal event")

    # --- dispatch --------------------------------------------------------------------------

    def _dispatch(self, body: wire.StreamEventBody, data: str) -> list[ir.StreamEvent]:
        kind = body.type
        if kind in _TERMINAL and body.response is not None:
            return self._terminal(body.response)
        match kind:
            case "response.output_item.done" if body.item and hosted.is_hosted(body.item.type):
                return self._hosted_item(data)
            case "response.output_item.added" if body.item is not None:
                return self._item_added(body, body.item)
            case "response.output_item.done" if body.item is not None:
                return self._item_done(body, body.item)
            case "response.content_part.added" if body.part is not None:
                if body.part.type in ("output_text", "refusal"):
                    return self._open_text(body, body.part.type == "refusal")
                return []
            case "response.output_text.delta" | "response.refusal.delta":
                return self._text_delta(body)
            case "response.content_part.done":
                return self._close(self._text_key(body))
            case "response.function_call_arguments.delta" | "response.custom_tool_call_input.delta":
                return self._arguments_delta(body)
            case "response.function_call_arguments.done" | "response.custom_tool_call_input.done":
                return self._arguments_done(body)
            case "response.reasoning_summary_part.added" if (body.summary_index or 0) > 0:
                return self._thinking(body, "\n\n")
            case "response.reasoning_summary_text.delta" | "response.reasoning_text.delta":
                return self._thinking(body, body.delta or "")
            case "error":
                error = body.error or wire.ResponseErrorBody()
                return self._fail(
                    body.message or error.message or "upstream error", body.code or error.code
                )
            case _:
                return []

    # --- items -----------------------------------------------------------------------------

    def _item_key(self, body: wire.StreamEventBody) -> str:
        if body.item_id:
            return body.item_id
        if body.output_index is not None and body.output_index in self._item_keys:
            return self._item_keys[body.output_index]
        return self._last_item

    def _item_added(
        self, body: wire.StreamEventBody, item: wire.OutputItem
    ) -> list[ir.StreamEvent]:
        key = (
            item.id
            or f"#{body.output_index if body.output_index is not None else len(self._item_keys)}"
        )
        if body.output_index is not None:
            self._item_keys[body.output_index] = key
        self._last_item = key
        match item.type:
            case "function_call" | "custom_tool_call":
                self._has_tool_calls = True
                call = ir.ToolCallBlock(id=item.call_id or item.id or key, name=item.name or "")
                out = self._open_block("item:" + key, call)
                index = self._blocks.get("item:" + key)
                assert index is not None
                if item.type == "custom_tool_call":
                    self._custom.add(index)
                    out.append(self._args(index, '{"input":"'))
                elif item.arguments:
                    out.append(self._args(index, item.arguments))
                return out
            case "reasoning":
                return self._open_block(
                    "item:" + key, ir.ThinkingBlock(origin="openai", item_id=item.id)
                )
            case _:
                return []

    def _item_done(self, body: wire.StreamEventBody, item: wire.OutputItem) -> list[ir.StreamEvent]:
        key = item.id or self._item_key(body)
        out: list[ir.StreamEvent] = []
        if item.type == "message":
            for text_key in [k for k in self._blocks.open_keys() if k.startswith(f"text:{key}:")]:
                out.extend(self._close(text_key))
            if not any(k.startswith(f"text:{key}:") for k in self._seen_text):
                out.extend(self._whole_message(item))
            return out
        index = self._blocks.get("item:" + key)
        if index is None:
            return self._whole_item(item)
        if item.type == "reasoning":
            block = decode_item(item)[0]
            if index not in self._streamed and isinstance(block, ir.ThinkingBlock) and block.text:
                out.append(ir.ThinkingDelta(index, block.text))
            if isinstance(block, ir.ThinkingBlock) and block.signature is not None:
                out.append(ir.SignatureDelta(index, block.signature))
        elif item.type in ("function_call", "custom_tool_call"):
            out.extend(self._complete_arguments(index, item.arguments, item.input))
        return out + self._close("item:" + key)

    def _hosted_item(self, data: str) -> list[ir.StreamEvent]:
        # A hosted tool item goes out whole once done: its call, then its result.
        out: list[ir.StreamEvent] = []
        for raw in hosted.raw_items(data, "item"):
            for block in hosted.decode_item(raw, from_client=False):
                index = self._blocks.start(block, out)
                out.append(ir.BlockStop(index))
        return out

    def _whole_message(self, item: wire.OutputItem) -> list[ir.StreamEvent]:
        # A server that sent the message only in `output_item.done`.
        out: list[ir.StreamEvent] = []
        for block in decode_item(item):
            text = block.text if isinstance(block, ir.TextBlock | ir.RefusalBlock) else ""
            start = ir.RefusalBlock("") if isinstance(block, ir.RefusalBlock) else ir.TextBlock("")
            index = self._blocks.start(start, out)
            out += [ir.TextDelta(index, text), ir.BlockStop(index)]
        return out

    def _whole_item(self, item: wire.OutputItem) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        for block in decode_item(item):
            match block:
                case ir.ToolCallBlock(id=call_id, name=name, arguments=arguments):
                    self._has_tool_calls = True
                    index = self._blocks.start(ir.ToolCallBlock(call_id, name), out)
                    out.append(self._args(index, arguments))
                case ir.ThinkingBlock():
                    start = thinking_from_reasoning(item.id, "", None)
                    index = self._blocks.start(start, out)
                    if block.text:
                        out.append(ir.ThinkingDelta(index, block.text))
                    if block.signature is not None:
                        out.append(ir.SignatureDelta(index, block.signature))
                case _:
                    continue
            out.append(ir.BlockStop(index))
        return out

    # --- text, arguments, thinking ---------------------------------------------------------

    def _text_key(self, body: wire.StreamEventBody) -> str:
        return f"text:{self._item_key(body)}:{body.content_index or 0}"

    def _open_text(self, body: wire.StreamEventBody, refusal: bool) -> list[ir.StreamEvent]:
        key = self._text_key(body)
        self._seen_text.add(key)
        return self._open_block(key, ir.RefusalBlock("") if refusal else ir.TextBlock(""))

    def _text_delta(self, body: wire.StreamEventBody) -> list[ir.StreamEvent]:
        key = self._text_key(body)
        out: list[ir.StreamEvent] = []
        if key not in self._blocks:
            out = self._open_text(body, body.type == "response.refusal.delta")
        index = self._blocks.get(key)
        if body.delta and index is not None:
            self._streamed.add(index)
            out.append(ir.TextDelta(index, body.delta))
        return out

    def _arguments_delta(self, body: wire.StreamEventBody) -> list[ir.StreamEvent]:
        index = self._blocks.get("item:" + self._item_key(body))
        if index is None or not body.delta:
            return []
        self._streamed.add(index)
        fragment = common.dump_json(body.delta)[1:-1] if index in self._custom else body.delta
        return [self._args(index, fragment)]

    def _arguments_done(self, body: wire.StreamEventBody) -> list[ir.StreamEvent]:
        index = self._blocks.get("item:" + self._item_key(body))
        if index is None:
            return []
        return self._complete_arguments(index, body.arguments, body.input)

    def _complete_arguments(
        self, index: int, arguments: str | None, raw_input: str | None
    ) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        if index in self._custom:
            if index not in self._streamed and raw_input:
                out.append(self._args(index, common.dump_json(raw_input)[1:-1]))
            self._custom.discard(index)
            out.append(self._args(index, '"}'))
        elif index not in self._streamed and arguments and not self._arguments.get(index):
            out.append(self._args(index, arguments))
        self._streamed.add(index)
        return out

    def _thinking(self, body: wire.StreamEventBody, text: str) -> list[ir.StreamEvent]:
        index = self._blocks.get("item:" + self._item_key(body))
        if index is None or not text:
            return []
        self._streamed.add(index)
        return [ir.ThinkingDelta(index, text)]

    # --- blocks and termination --------------------------------------------------------------

    def _open_block(self, key: str, block: ir.Block) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        if key not in self._blocks:
            self._blocks.open(key, block, out)
        return out

    def _args(self, index: int, fragment: str) -> ir.ToolArgumentsDelta:
        self._arguments[index] = self._arguments.get(index, "") + fragment
        return ir.ToolArgumentsDelta(index, fragment)

    def _close(self, key: str) -> list[ir.StreamEvent]:
        index = self._blocks.get(key)
        out: list[ir.StreamEvent] = []
        if index is not None and index in self._custom:
            self._custom.discard(index)  # a freeform input is a JSON string still open
            out.append(self._args(index, '"}'))
        self._blocks.close(key, out)
        return out

    def _close_all(self) -> list[ir.StreamEvent]:
        out: list[ir.StreamEvent] = []
        for key in self._blocks.open_keys():
            out.extend(self._close(key))
        return out

    def _terminal(self, response: wire.ResponseBody) -> list[ir.StreamEvent]:
        out = self._close_all()
        self._ended = True
        if response.status == "failed":
            error = response.error or wire.ResponseErrorBody()
            out.append(
                ir.StreamError(error.message or "upstream response failed", _kind(error.code))
            )
            return out
        reason, raw = stop_reason_of(response, self._has_tool_calls)
        usage = decode_usage(response.usage) if response.usage is not None else None
        out.append(ir.Finish(stop_reason=reason, raw_stop_reason=raw, usage=usage))
        return out

    def _fail(self, message: str, code: str | None = None) -> list[ir.StreamEvent]:
        out = self._close_all()
        self._ended = True
        out.append(ir.StreamError(message, _kind(code)))
        return out


def _kind(code: str | None) -> str:
    match code:
        case "rate_limit_exceeded":
            return "rate_limit"
        case "invalid_prompt" | "context_length_exceeded":
            return "invalid_request"
        case _:
            return "api_error"
