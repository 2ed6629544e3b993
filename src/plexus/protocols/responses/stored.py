"""Responses kept by the gateway (`responses.store`): what a request continues
(`previous_response_id`), the kept conversation spliced in front of its input, and the bodies
of `GET`/`DELETE /v1/responses/{id}` and `GET /v1/responses/{id}/input_items`.

A kept turn is its own input items and the Response object, both as the client's JSON, so a
continued request is the one the client would have sent with the whole conversation in `input`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from plexus.errors import BadRequest, GatewayError, NotFound
from plexus.protocols.responses import wire

_HEX = frozenset("0123456789abcdef")
_KEPT_STATUSES = frozenset({"completed", "incomplete"})  # a failed answer is not continued
_TERMINAL_EVENTS = frozenset({"response.completed", "response.incomplete"})


class _Continues(msgspec.Struct):
    previous_response_id: str | None = None
    store: bool | None = None


class _Input(msgspec.Struct):
    input: str | list[msgspec.Raw] | None = None


class _Output(msgspec.Struct):
    output: list[msgspec.Raw] = msgspec.field(default_factory=list)


class _Kept(msgspec.Struct):
    """A Response object, or a stream event carrying one."""

    type: str | None = None
    id: str = ""
    status: str | None = None
    response: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


_continues = msgspec.json.Decoder(_Continues)
_input = msgspec.json.Decoder(_Input)
_output = msgspec.json.Decoder(_Output)
_kept = msgspec.json.Decoder(_Kept)
_items = msgspec.json.Decoder(list[msgspec.Raw])


def continuation(body: bytes) -> tuple[str | None, bool]:
    """`previous_response_id`, and whether `store` leaves the answer to keep (its default)."""
    if b'"previous_response_id"' not in body and b'"store"' not in body:
        return None, True
    try:
        view = _continues.decode(body)
    except msgspec.ValidationError as error:
        raise BadRequest(f"invalid request: {error}") from error
    return view.previous_response_id or None, view.store is not False


def own_input(body: bytes) -> str:
    """The request's input items as a JSON array (a string input is one user message)."""
    given = _input.decode(body).input
    if isinstance(given, str):
        return wire.encoder.encode([{"role": "user", "content": given}]).decode()
    return (b"[" + b",".join(given) + b"]").decode() if given else "[]"


def splice(body: bytes, conversation: list[tuple[str, str]]) -> bytes:
    """`body` with the conversation's items in front of its input and no
    `previous_response_id` (`instructions` are the request's own: they are not inherited)."""
    data: dict[str, Any] = msgspec.json.decode(body)
    items = _conversation_items(conversation)
    given = data.get("input")
    if isinstance(given, str):
        items.append({"role": "user", "content": given})
    elif isinstance(given, list):
        items.extend(given)
    data["input"] = items
    data.pop("previous_response_id", None)
    return msgspec.json.encode(data)


def _conversation_items(conversation: list[tuple[str, str]]) -> list[Any]:
    items: list[Any] = []
    for inputs, answer in conversation:
        items.extend(_items.decode(inputs))
        items.extend(_output.decode(answer).output)
    return items


def kept_answer(data: bytes) -> tuple[str, str] | None:
    """The id and JSON of a completed (or incomplete) Response in a body or terminal event."""
    try:
        view = _kept.decode(data)
        if view.type in _TERMINAL_EVENTS and view.response:
            data = bytes(view.response)
            view = _kept.decode(data)
    except msgspec.DecodeError:
        return None
    if not view.id or view.status not in _KEPT_STATUSES:
        return None
    return view.id, data.decode()


def issued_here(answer_id: str) -> bool:
    """Whether an id has the form of those the gateway mints (`resp_` and 24 hex digits;
    OpenAI's own are longer), so that a miss may be an answer another worker is writing."""
    digits = answer_id.removeprefix("resp_")
    return len(answer_id) == 29 and len(digits) == 24 and all(c in _HEX for c in digits)


def deleted(answer_id: str) -> bytes:
    """What `DELETE /v1/responses/{id}` answers."""
    return wire.encoder.encode({"id": answer_id, "object": "response", "deleted": True})


def list_items(answer_id: str, conversation: list[tuple[str, str]], query: dict[str, str]) -> bytes:
    """A page of `GET /v1/responses/{id}/input_items`: every item the response was made from
    (the conversation it continued, then its own input), newest first unless `order=asc`."""
    limit = _limit(query.get("limit", "20"))
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise BadRequest(f"Invalid value: '{order}'. Supported values are: 'asc' and 'desc'.")
    *earlier, (own, _answer) = conversation
    raw = [*_conversation_items(earlier), *_items.decode(own)]
    items = [_listed(msgspec.json.decode(item), answer_id, n) for n, item in enumerate(raw)]
    if order == "desc":
        items.reverse()
    after = query.get("after")
    if after:
        ids = [item["id"] for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    page = items[:limit]
    return wire.encoder.encode(
        {
            "object": "list",
            "data": page,
            "first_id": page[0]["id"] if page else None,
            "last_id": page[-1]["id"] if page else None,
            "has_more": len(items) > limit,
        }
    )


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise BadRequest(f"Invalid 'limit': expected an integer from 1 to 100, got {value!r}.")
    return int(value)


def _listed(item: dict[str, Any], answer_id: str, position: int) -> dict[str, Any]:
    """An input item as the API lists it: typed, with an id, a message's content as parts."""
    kind = item.setdefault("type", "message")
    if kind == "message":
        content = item.get("content")
        if isinstance(content, str):
            part = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": part, "text": content}]
        item.setdefault("status", "completed")
    if not item.get("id"):
        # Input items have no id of their own: one derived from the response and the place.
        digest = hashlib.sha256(f"{answer_id}/{position}".encode()).hexdigest()[:40]
        item["id"] = ("msg_" if kind == "message" else "item_") + digest
    return item


def unknown_answer(answer_id: str) -> GatewayError:
    """404, as the API answers an id it does not hold."""
    message = f"Response with id '{answer_id}' not found."
    return _answered(NotFound(message), None, None)


def unknown_continuation(answer_id: str, missing: str) -> GatewayError:
    """404 `previous_response_not_found` with its param, as the API answers it."""
    message = f"Previous response with id '{answer_id}' not found."
    if missing != answer_id:
        message += f" An earlier response of its conversation, '{missing}', is no longer kept."
    error = NotFound(message, param="previous_response_id")
    return _answered(error, "previous_response_id", "previous_response_not_found")


def _answered(error: GatewayError, param: str | None, code: str | None) -> GatewayError:
    """`error` with the API's own body (its `param` and `code` are not those of its kind)."""
    fields = {"message": error.message, "type": "invalid_request_error", "param": param}
    body = wire.encoder.encode({"error": {**fields, "code": code}})
    error.relay = ("responses", error.status, body)
    return error


__all__ = [
    "continuation",
    "deleted",
    "issued_here",
    "kept_answer",
    "list_items",
    "own_input",
    "splice",
    "unknown_answer",
    "unknown_continuation",
]
