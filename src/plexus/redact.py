"""Secrets kept out of what leaves the gateway: relayed error bodies, error messages, logs.

An upstream (or a proxy in front of it) may echo the request's headers in an error body; the
provider key it carried must never reach the client or the log (issue 10).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[redacted]"
_MIN_LENGTH = 8  # shorter values (a version, a flag) would mask innocent text


class Redactor:
    """Replaces every configured secret in text and bytes with `MASK`."""

    __slots__ = ("_bytes", "_text")

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if len(s) >= _MIN_LENGTH}, key=len, reverse=True)
        self._text = re.compile("|".join(map(re.escape, values))) if values else None
        encoded = [re.escape(value.encode("utf-8")) for value in values]
        self._bytes = re.compile(b"|".join(encoded)) if encoded else None

    def text(self, value: str) -> str:
        """`value` with every secret masked."""
        return self._text.sub(MASK, value) if self._text is not None else value

    def bytes(self, value: bytes) -> bytes:
        """`value` with every secret masked."""
        return self._bytes.sub(MASK.encode(), value) if self._bytes is not None else value


NONE = Redactor(())
"""A redactor with no secrets to mask."""
