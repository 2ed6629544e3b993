"""The benchmark mock's answers: a ~1 KB body or the SSE events of a stream, per protocol."""

from __future__ import annotations

import json
from collections.abc import Callable

ANSWER = (
    "The quick brown fox jumps over the lazy dog while the benchmark measures every microsecond. "
    * 11
).strip()  # ~1 KB of text
CREATED = 1_700_000_000


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _pieces(n: int) -> list[str]:
    """Split ANSWER into n deltas (each at least one character)."""
    words = ANSWER.split(" ")
    out = [" ".join(words[i * len(words) // n : (i + 1) * len(words) // n]) + " " for i in range(n)]
    return [p if p.strip() else "x " for p in out]


# ---------------------------------------------------------------------------------------------
# Payload builders: (protocol, model) -> full JSON body / list of SSE event bytes


def full_body(proto: str, model: str) -> bytes:
    if proto == "chat":
        return _dumps(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": CREATED,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": ANSWER, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 25, "completion_tokens": 210, "total_tokens": 235},
                "system_fingerprint": "fp_bench",
            }
        )
    if proto == "messages":
        return _dumps(
            {
                "id": "msg_bench",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": ANSWER}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 25, "output_tokens": 210},
            }
        )
    if proto == "responses":
        return _dumps(_response_obj(model, "completed", ANSWER))
    if proto == "gemini":
        return _dumps(
            {
                "candidates": [
                    {
                        "content": {"parts": [{"text": ANSWER}], "role": "model"},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {
                    "promptTokenCount": 25,
                    "candidatesTokenCount": 210,
                    "totalTokenCount": 235,
                },
                "modelVersion": model,
                "responseId": "gem_bench",
            }
        )
    raise ValueError(proto)


def _response_obj(model: str, status: str, text: str | None) -> dict[str, object]:
    output: list[object] = []
    if text is not None:
        output = [
            {
                "type": "message",
                "id": "msg_bench",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ]
    return {
        "id": "resp_bench",
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "model": model,
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "temperature": 1.0,
        "top_p": 1.0,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "usage": (
            {
                "input_tokens": 25,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 210,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 235,
            }
            if status == "completed"
            else None
        ),
    }


def stream_events(proto: str, model: str, n: int) -> list[bytes]:
    """The SSE events (each ending with a blank line) for a stream of n content deltas."""
    return _STREAMS[proto](model, n, _pieces(n))


def _chat_stream(model: str, n: int, pieces: list[str]) -> list[bytes]:
    ev: list[bytes] = []

    def chunk(delta: dict[str, object], finish: str | None, usage: object = None) -> bytes:
        obj: dict[str, object] = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": "fp_bench",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if usage is not None:
            obj["usage"] = usage
        return b"data: " + _dumps(obj) + b"\n\n"

    ev.append(chunk({"role": "assistant", "content": ""}, None))
    ev.extend(chunk({"content": p}, None) for p in pieces)
    ev.append(
        chunk({}, "stop", {"prompt_tokens": 25, "completion_tokens": n, "total_tokens": 25 + n})
    )
    ev.append(b"data: [DONE]\n\n")
    return ev


def _messages_stream(model: str, n: int, pieces: list[str]) -> list[bytes]:
    ev: list[bytes] = []

    def named(name: str, obj: dict[str, object]) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + _dumps(obj) + b"\n\n"

    ev.append(
        named(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": "msg_bench",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 25, "output_tokens": 1},
                },
            },
        )
    )
    ev.append(
        named(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        )
    )
    ev.extend(
        named(
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": p},
            },
        )
        for p in pieces
    )
    ev.append(named("content_block_stop", {"type": "content_block_stop", "index": 0}))
    ev.append(
        named(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": n},
            },
        )
    )
    ev.append(named("message_stop", {"type": "message_stop"}))
    return ev


def _responses_stream(model: str, n: int, pieces: list[str]) -> list[bytes]:
    ev: list[bytes] = []
    seq = 0

    def rev(obj: dict[str, object]) -> bytes:
        nonlocal seq
        obj["sequence_number"] = seq
        seq += 1
        return b"event: " + str(obj["type"]).encode() + b"\ndata: " + _dumps(obj) + b"\n\n"

    item = {
        "type": "message",
        "id": "msg_bench",
        "status": "in_progress",
        "role": "assistant",
        "content": [],
    }
    part = {"type": "output_text", "text": "", "annotations": []}
    ev.append(
        rev({"type": "response.created", "response": _response_obj(model, "in_progress", None)})
    )
    ev.append(
        rev(
            {
                "type": "response.in_progress",
                "response": _response_obj(model, "in_progress", None),
            }
        )
    )
    ev.append(rev({"type": "response.output_item.added", "output_index": 0, "item": item}))
    ev.append(
        rev(
            {
                "type": "response.content_part.added",
                "item_id": "msg_bench",
                "output_index": 0,
                "content_index": 0,
                "part": part,
            }
        )
    )
    ev.extend(
        rev(
            {
                "type": "response.output_text.delta",
                "item_id": "msg_bench",
                "output_index": 0,
                "content_index": 0,
                "delta": p,
                "logprobs": [],
            }
        )
        for p in pieces
    )
    text = "".join(pieces)
    ev.append(
        rev(
            {
                "type": "response.output_text.done",
                "item_id": "msg_bench",
                "output_index": 0,
                "content_index": 0,
                "text": text,
                "logprobs": [],
            }
        )
    )
    ev.append(
        rev(
            {
                "type": "response.content_part.done",
                "item_id": "msg_bench",
                "output_index": 0,
                "content_index": 0,
                "part": {**part, "text": text},
            }
        )
    )
    ev.append(
        rev(
            {
                "type": "response.output_item.done",
                "output_index": 0,
                "item": {**item, "status": "completed", "content": [{**part, "text": text}]},
            }
        )
    )
    ev.append(
        rev({"type": "response.completed", "response": _response_obj(model, "completed", text)})
    )
    return ev


def _gemini_stream(model: str, n: int, pieces: list[str]) -> list[bytes]:
    ev: list[bytes] = []
    for i, p in enumerate(pieces):
        candidate: dict[str, object] = {
            "content": {"parts": [{"text": p}], "role": "model"},
            "index": 0,
        }
        obj: dict[str, object] = {
            "candidates": [candidate],
            "modelVersion": model,
            "responseId": "gem_bench",
        }
        if i == len(pieces) - 1:
            candidate["finishReason"] = "STOP"
            obj["usageMetadata"] = {
                "promptTokenCount": 25,
                "candidatesTokenCount": n,
                "totalTokenCount": 25 + n,
            }
        # Gemini frames its SSE with CRLF (as tests/mocks/gemini_upstream.py does), and some
        # clients split on it: Portkey's Gemini stream parser splits on "\r\n" only.
        ev.append(b"data: " + _dumps(obj) + b"\r\n\r\n")
    return ev


_STREAMS: dict[str, Callable[[str, int, list[str]], list[bytes]]] = {
    "chat": _chat_stream,
    "messages": _messages_stream,
    "responses": _responses_stream,
    "gemini": _gemini_stream,
}
