"""The Gemini mock's embeddings: `models/{model}:embedContent` and `:batchEmbedContents`.

Validated as the Gemini API does (https://ai.google.dev/api/embeddings): unknown fields, a
non-empty `content` of text parts, `taskType` from its enum, `title` only for
RETRIEVAL_DOCUMENT, at most 100 requests in a batch, and each batch request naming the model of
the URL as `models/{model}`. Answers carry `embedding` or `embeddings` and `usageMetadata`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.mocks.base import MockState, mock_vector

ACTIONS = ("embedContent", "batchEmbedContents")
_FIELDS = {"model", "content", "taskType", "title", "outputDimensionality"}
_TASKS = {
    "TASK_TYPE_UNSPECIFIED", "RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY",
    "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION",
    "CODE_RETRIEVAL_QUERY",
}  # fmt: skip
_MAX_BATCH = 100


class Invalid(Exception):
    """A request the real API would answer with 400 INVALID_ARGUMENT."""


def _camel(key: str) -> str:
    return re.sub(r"_([a-z])", lambda match: match.group(1).upper(), key)


def _request(item: Any, model: str, where: str, model_required: bool) -> tuple[str, int]:
    """The text and dimensions of one EmbedContentRequest."""
    if not isinstance(item, dict):
        raise Invalid(f"Invalid value at '{where}': expected an object")
    fields = {_camel(key): value for key, value in item.items()}
    for key in item:
        if _camel(key) not in _FIELDS:
            raise Invalid(
                f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': "
                "Cannot find field."
            )
    named = fields.get("model")
    if (named is not None or model_required) and named != f"models/{model}":
        raise Invalid(f"* {where}.model: the model must match the request URL (models/{model})")
    content = fields.get("content")
    if not isinstance(content, dict):
        raise Invalid(f"* {where}.content: content is not specified")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise Invalid(f"* {where}.content.parts: contents.parts must not be empty.")
    if set(content) - {"parts", "role"}:
        raise Invalid(f"Invalid JSON payload received. Unknown name at '{where}.content'.")
    texts: list[str] = []
    for part in parts:
        text = part.get("text") if isinstance(part, dict) else None
        if not isinstance(text, str) or not text:
            raise Invalid(f"* {where}.content.parts: only non-empty text parts can be embedded.")
        texts.append(text)
    task = fields.get("taskType")
    if task is not None and task not in _TASKS:
        raise Invalid(f"Invalid value at '{where}.task_type' ({task})")
    if fields.get("title") is not None and task != "RETRIEVAL_DOCUMENT":
        raise Invalid("Setting title is only supported for the RETRIEVAL_DOCUMENT task type.")
    dimensions = fields.get("outputDimensionality", 8)
    if not isinstance(dimensions, int) or not 1 <= dimensions <= 3072:
        raise Invalid(f"* {where}.output_dimensionality: must be between 1 and 3072")
    return "".join(texts), dimensions


def validate(body: dict[str, Any], model: str, action: str) -> list[tuple[str, int]]:
    """The (text, dimensions) of each request, or `Invalid` as the real API answers."""
    if action == "embedContent":
        return [_request(body, model, "", model_required=False)]
    if set(body) - {"requests"}:
        raise Invalid('Invalid JSON payload received. Unknown name "model": Cannot find field.')
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise Invalid("* BatchEmbedContentsRequest.requests: requests must not be empty")
    if len(requests) > _MAX_BATCH:
        raise Invalid(f"* BatchEmbedContentsRequest.requests: at most {_MAX_BATCH} requests")
    return [
        _request(item, model, f"requests[{index}]", model_required=True)
        for index, item in enumerate(requests)
    ]


def answer(
    state: MockState,
    body: dict[str, Any],
    model: str,
    action: str,
    error: Callable[[int, str], web.Response],
) -> web.Response:
    """Answer an embeddings request (after the key check), or its error."""
    try:
        inputs = validate(body, model, action)
    except Invalid as invalid:
        return error(400, str(invalid))
    reply = state.next_reply()
    if reply.error_status is not None:
        return error(reply.error_status, reply.error_message)
    usage = {
        "promptTokenCount": reply.input_tokens,
        "promptTokenDetails": [{"modality": "TEXT", "tokenCount": reply.input_tokens}],
    }
    vectors = [{"values": mock_vector(text, dimensions)} for text, dimensions in inputs]
    if action == "embedContent":
        return web.json_response({"embedding": vectors[0], "usageMetadata": usage})
    return web.json_response({"embeddings": vectors, "usageMetadata": usage})
