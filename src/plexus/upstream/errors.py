"""An upstream's error answer as a `GatewayError`: its status and message kept."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from plexus.errors import UpstreamError, kind_for_status
from plexus.redact import Redactor


def upstream_error(
    status: int, body: bytes, headers: Mapping[str, str], redactor: Redactor
) -> UpstreamError:
    """An upstream's error answer, its status and message kept, every configured secret masked
    (an upstream may echo the request's headers)."""
    message = redactor.text(_error_message(body) or f"upstream returned HTTP {status}")
    return UpstreamError(
        message, status=status, kind=kind_for_status(status), retry_after=headers.get("retry-after")
    )


def _error_message(body: bytes) -> str | None:
    """The message of any of the four protocols' error bodies, or of a plain-text one."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
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
