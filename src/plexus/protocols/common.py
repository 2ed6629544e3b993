"""Helpers every codec shares: ids, data URLs, tool arguments, reasoning tokens, effort tables
(stream frame templates: frames.py)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from collections.abc import Callable
from typing import Any

import msgspec

from plexus.errors import BadRequest
from plexus.ir import Effort, ErrorReport, Origin

ORIGINS: tuple[Origin, ...] = ("anthropic", "gemini", "openai", "openai-compatible")
_TOKEN_PREFIX = "plx1."


def mint_id(prefix: str) -> str:
    """Return a fresh random id such as `chatcmpl-…`, `msg_…`, `resp_…`, `call_…`."""
    return prefix + secrets.token_hex(12)


def tag_token(origin: Origin, token: str) -> str:
    """Wrap an opaque reasoning token with its origin, for a client API that has no origin field."""
    return f"{_TOKEN_PREFIX}{origin}.{token}"


def untag_token(value: str) -> tuple[Origin | None, str]:
    """Undo `tag_token`; a value without the tag is returned with origin None."""
    if value.startswith(_TOKEN_PREFIX):
        origin, _, token = value[len(_TOKEN_PREFIX) :].partition(".")
        for known in ORIGINS:
            if origin == known:
                return known, token
    return None, value


_SIGNED_CALL = "~" + _TOKEN_PREFIX


def sign_call_id(call_id: str, origin: Origin, token: str) -> str:
    """A tool-call id that also carries the reasoning token signed before the call: clients
    that drop reasoning fields still send tool-call ids back (issue 11 bug 7)."""
    return f"{call_id}~{tag_token(origin, token)}"


def unsign_call_id(value: str) -> tuple[str, Origin | None, str | None]:
    """Undo `sign_call_id`: the provider's call id, and the origin and token it carried."""
    call_id, found, tagged = value.partition(_SIGNED_CALL)
    if not found:
        return value, None, None
    origin, token = untag_token(_TOKEN_PREFIX + tagged)
    if origin is None or not token:
        return value, None, None
    return call_id, origin, token


_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?((?:;[\w-]+=[^;,]*)*);base64,(.*)$", re.DOTALL)


def parse_data_url(url: str) -> tuple[str, str] | None:
    """Return (media type, base64 payload) of a base64 data URL, or None for any other URL."""
    if not url.startswith("data:"):
        return None
    match = _DATA_URL.match(url)
    if match is None:
        raise BadRequest("malformed data URL: expected data:<media type>;base64,<data>")
    return match.group(1) or "application/octet-stream", match.group(3)


def data_url(media_type: str, data: str) -> str:
    """Build a base64 data URL."""
    return f"data:{media_type};base64,{data}"


_GEMINI_FILE = re.compile(r"^(gs://|https://generativelanguage\.googleapis\.com/[^?#]*/files/)")


def portable_url(url: str) -> str:
    """Return a media URL another provider can fetch; refuse Gemini Files API and `gs://` URIs,
    which only Google can read (protocols.md 6.4)."""
    if _GEMINI_FILE.match(url):
        raise BadRequest(
            f"{url} is a Gemini file URI that only a provider of type gemini can read: "
            "send the data inline instead"
        )
    return url


def parse_arguments(arguments: str) -> dict[str, Any]:
    """Parse tool-call arguments to an object; empty means {}, a non-object is wrapped, garbage
    that a truncated model output leaves becomes {} (protocols.md 6.7)."""
    if not arguments.strip():
        return {}
    try:
        value = msgspec.json.decode(arguments)
    except msgspec.DecodeError:
        return {}
    return value if isinstance(value, dict) else {"value": value}


def dump_json(value: Any) -> str:
    """Serialise compactly, keeping non-ASCII characters."""
    return msgspec.json.encode(value).decode()


_ANTHROPIC_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def anthropic_tool_id(call_id: str) -> str:
    """Return `call_id` if Anthropic accepts it, else a deterministic valid id derived from it,
    so calls and results still pair without stored state (protocols.md 6.7)."""
    if _ANTHROPIC_ID.match(call_id):
        return call_id
    digest = base64.b32encode(hashlib.sha256(call_id.encode()).digest()).decode().rstrip("=")
    return "toolu_" + digest[:24].lower()


# Effort ↔ budget, protocols.md 6.10 (a gateway convention, not a vendor specification).
EFFORT_BUDGET: dict[Effort, int] = {
    "none": 0,
    "minimal": 1024,
    "low": 2048,
    "medium": 8192,
    "high": 16384,
    "xhigh": 24576,
    "max": 32000,
}


def effort_for_budget(budget: int) -> Effort:
    """Map a thinking budget back to an effort level."""
    if budget <= 0:
        return "none"
    for limit, effort in ((1024, "minimal"), (3072, "low"), (12288, "medium"), (20480, "high")):
        if budget <= limit:
            return effort  # type: ignore[return-value]
    return "xhigh" if budget <= 28672 else "max"


def budget_for(effort: Effort | None, budget: int | None) -> int | None:
    """Return the explicit budget, else the budget of the effort level, else None."""
    if budget is not None:
        return budget
    return EFFORT_BUDGET[effort] if effort is not None else None


_MAX_END_USER_ID = 64


def end_user_id(user: str) -> str:
    """Fit an end-user id into OpenAI's 64-character limit (Claude Code sends a long JSON
    string): short ids pass unchanged, longer ones become a stable hash."""
    if len(user) <= _MAX_END_USER_ID:
        return user
    return "sha256-" + hashlib.sha256(user.encode()).hexdigest()[:57]


_URLSAFE = str.maketrans("-_", "+/")


def standard_base64(data: str) -> str:
    """Return `data` in standard, padded base64: the IR's form. Gemini clients (the google-genai
    SDK) send URL-safe base64, which Anthropic and OpenAI reject."""
    if "-" in data or "_" in data:
        data = data.translate(_URLSAFE)
    remainder = len(data) % 4
    return data + "=" * (4 - remainder) if remainder in (2, 3) else data


def error_message(body: bytes) -> str | None:
    """The message of an error body in any of the four protocols' shapes, or of plain text."""
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        text = body.decode("utf-8", "replace").strip()
        return text[:500] or None
    if isinstance(data, list) and data:
        data = data[0]
    if not isinstance(data, dict):
        return None
    error = data.get("error", data)
    if isinstance(error, dict):
        message = error.get("message")
        return message if isinstance(message, str) else None
    return error if isinstance(error, str) else None


def decode_error(status: int, body: bytes) -> ErrorReport:
    """An error answer whose body says nothing beyond its message."""
    return ErrorReport(message=error_message(body))


def no_output_items(data: bytes) -> list[tuple[str, bytes]]:
    """A protocol whose output items have no ids a client may refer to."""
    return []


def no_item_references(body: bytes, lookup: Callable[[str], bytes | None]) -> bytes:
    """A protocol whose clients never refer to earlier output items."""
    return body
