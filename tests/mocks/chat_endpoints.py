"""The OpenAI-compatible mock's other endpoints: `POST /v1/embeddings` and the legacy
`POST /v1/completions` (with fill-in-the-middle `suffix`, streamed or not).

They validate as OpenAI does (Bearer auth, required fields, unknown fields, ranges, the input
forms of `EmbeddingCreateParams`) and answer in OpenAI's shapes: embeddings as floats or as the
base64 of little-endian float32 bytes, completions as `text_completion` objects and chunks
ending with `data: [DONE]`, the usage chunk (empty `choices`) only with `include_usage`.
"""

from __future__ import annotations

import array
import base64
import json
import sys
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.mocks.base import MockState, Received, Reply, mock_vector

ErrorAnswer = Callable[..., web.Response]  # chat_upstream's `_error(status, message, kind, ...)`

_EMBEDDING_FIELDS = {"model", "input", "dimensions", "encoding_format", "user"}
_COMPLETION_FIELDS = {
    "model", "prompt", "best_of", "echo", "frequency_penalty", "logit_bias", "logprobs",
    "max_tokens", "n", "presence_penalty", "seed", "stop", "stream", "stream_options",
    "suffix", "temperature", "top_p", "user",
}  # fmt: skip
_RANGES = {
    "temperature": (0, 2), "top_p": (0, 1), "frequency_penalty": (-2, 2),
    "presence_penalty": (-2, 2), "logprobs": (0, 5), "max_tokens": (0, 1 << 20),
    "n": (1, 128), "best_of": (1, 20),
}  # fmt: skip
_MAX_INPUTS = 2048


class Invalid(Exception):
    """A request OpenAI would answer with 400 invalid_request_error."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param = message, param


def add_routes(app: web.Application, state: MockState, error: ErrorAnswer) -> None:
    """Serve `/v1/embeddings` and `/v1/completions` on the mock's application."""

    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            message = "We could not parse the JSON body of your request."
            return error(400, message, "invalid_request_error", None)
        state.received.append(
            Received(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        if request.headers.get("Authorization") != f"Bearer {state.api_key}":
            message = "Incorrect API key provided."
            return error(401, message, "invalid_request_error", "invalid_api_key")
        embeddings = request.path.endswith("/embeddings")
        try:
            (validate_embeddings if embeddings else validate_completions)(body)
        except Invalid as invalid:
            kind, param = "invalid_request_error", invalid.param
            return error(400, invalid.message, kind, "invalid_value", param)
        reply = state.next_reply()
        if reply.error_status is not None:
            kind = "rate_limit_error" if reply.error_status == 429 else "server_error"
            return error(reply.error_status, reply.error_message, kind, None)
        if embeddings:
            return web.json_response(_embeddings(body, reply))
        if body.get("stream"):
            return await _stream(request, body, reply)
        return web.json_response(_completion(body, reply))

    app.router.add_post("/v1/embeddings", handle)
    app.router.add_post("/v1/completions", handle)


def _check_known(body: Any, allowed: set[str]) -> None:
    if not isinstance(body, dict):
        raise Invalid("The request body must be a JSON object.")
    for key in body:
        if key not in allowed:
            raise Invalid(f"Unrecognized request argument supplied: {key}", key)
    if not isinstance(body.get("model"), str):
        raise Invalid("you must provide a model parameter", "model")


def _check_ranges(body: dict[str, Any]) -> None:
    for key, (low, high) in _RANGES.items():
        value = body.get(key)
        if value is not None and (not isinstance(value, int | float) or not low <= value <= high):
            raise Invalid(f"Invalid '{key}': expected a value between {low} and {high}.", key)


def validate_embeddings(body: Any) -> None:
    """Raise `Invalid` the way OpenAI rejects an embeddings request."""
    _check_known(body, _EMBEDDING_FIELDS)
    if "input" not in body:
        raise Invalid("'input' is a required property", "input")
    _texts(body["input"])
    if body.get("encoding_format") not in (None, "float", "base64"):
        message = "Invalid value for 'encoding_format': expected float or base64."
        raise Invalid(message, "encoding_format")
    dimensions = body.get("dimensions")
    if dimensions is not None and (not isinstance(dimensions, int) or dimensions < 1):
        raise Invalid("Invalid 'dimensions': integer below minimum value.", "dimensions")


def _texts(value: Any) -> list[str]:
    """The inputs as texts (token lists written out), or `Invalid` for a form OpenAI refuses."""
    if isinstance(value, str):
        inputs: list[Any] = [value]
    elif isinstance(value, list) and value and all(isinstance(i, int) for i in value):
        inputs = [value]
    elif isinstance(value, list) and 0 < len(value) <= _MAX_INPUTS:
        inputs = value
    else:
        raise Invalid("'$.input' is invalid. Please check the API reference.", "input")
    texts = []
    for item in inputs:
        if isinstance(item, list) and item and all(isinstance(i, int) for i in item):
            texts.append(",".join(map(str, item)))
        elif isinstance(item, str) and item:
            texts.append(item)
        else:
            raise Invalid("'$.input' is invalid. Please check the API reference.", "input")
    return texts


def validate_completions(body: Any) -> None:
    """Raise `Invalid` the way OpenAI rejects a legacy completions request."""
    _check_known(body, _COMPLETION_FIELDS)
    if "prompt" not in body:
        raise Invalid("'prompt' is a required property", "prompt")
    _check_ranges(body)
    suffix = body.get("suffix")
    if suffix is not None and not isinstance(suffix, str):
        raise Invalid("Invalid type for 'suffix': expected a string.", "suffix")
    if "stream_options" in body and not body.get("stream"):
        raise Invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            "stream_options",
        )


def _embeddings(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    dimensions = body.get("dimensions") or 8
    base64_wanted = body.get("encoding_format") == "base64"
    data = []
    for index, text in enumerate(_texts(body["input"])):
        vector: Any = mock_vector(text, dimensions)
        if base64_wanted:
            packed = array.array("f", vector)
            if sys.byteorder == "big":
                packed.byteswap()
            vector = base64.b64encode(packed.tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": vector})
    usage = {"prompt_tokens": reply.input_tokens, "total_tokens": reply.input_tokens}
    return {"object": "list", "data": data, "model": reply.model or body["model"], "usage": usage}


def _usage(reply: Reply) -> dict[str, Any]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _chunk(body: dict[str, Any], reply: Reply, choices: list[Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "cmpl-mock0001",
        "object": "text_completion",
        "created": int(time.time()),
        "model": reply.model or body["model"],
        "choices": choices,
        "system_fingerprint": None,
        **extra,
    }


def _choice(text: str, finish: str | None) -> dict[str, Any]:
    return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish}


def _finish(reply: Reply) -> str:
    return "length" if reply.stop == "length" else "stop"


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    return _chunk(body, reply, [_choice(reply.text, _finish(reply))], usage=_usage(reply))


async def _stream(request: web.Request, body: dict[str, Any], reply: Reply) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    extra = {"usage": None} if with_usage else {}
    pieces = [reply.text[start : start + 4] for start in range(0, len(reply.text), 4)]
    chunks = [_chunk(body, reply, [_choice(piece, None)], **extra) for piece in pieces]
    chunks.append(_chunk(body, reply, [_choice("", _finish(reply))], **extra))
    if with_usage:
        chunks.append(_chunk(body, reply, [], usage=_usage(reply)))
    frames = [b"data: " + json.dumps(chunk).encode() + b"\n\n" for chunk in chunks]
    frames.append(b"data: [DONE]\n\n")
    for sent, frame in enumerate(frames):
        if reply.cut_after_events is not None and sent >= reply.cut_after_events:
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write(frame)
    await response.write_eof()
    return response
