"""Per-token stream frames built by concatenation, shared by every stream encoder.

A delta event's frame is encoded once, with a marker where its value goes (and another where a
Responses `sequence_number` goes); each delta is then the bytes around the marker joined with
its value encoded as a JSON string: the hot path of every stream.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import msgspec

DELTA_MARKER = "\x00plexus-delta\x00"
SEQUENCE_MARKER = "\x00plexus-sequence\x00"
encode_json_string = msgspec.json.Encoder().encode
_encode_int = msgspec.json.Encoder().encode

K = TypeVar("K", bound=Hashable)


def split_frame(frame: bytes, marker: str = DELTA_MARKER) -> tuple[bytes, bytes]:
    """The bytes of `frame` before and after the encoded `marker`."""
    head, _, tail = frame.partition(encode_json_string(marker))
    return head, tail


class DeltaTemplates(Generic[K]):
    """Delta frames by key (a field, a block kind, a position): `build(key)` gives the frame
    with `DELTA_MARKER` as the value (and `SEQUENCE_MARKER` as the sequence number when
    `sequenced`), once per key; `render` fills in a value."""

    __slots__ = ("_build", "_cache", "_sequenced")

    def __init__(self, build: Callable[[K], bytes], *, sequenced: bool = False) -> None:
        self._build = build
        self._sequenced = sequenced
        self._cache: dict[K, tuple[bytes, bytes, bytes]] = {}

    def render(self, key: K, value: str, sequence: int = 0) -> bytes:
        """The frame of `key` carrying `value` (and `sequence`)."""
        parts = self._cache.get(key)
        if parts is None:
            parts = self._cache[key] = self._cut(self._build(key))
        if self._sequenced:
            return b"".join(
                (parts[0], _encode_int(sequence), parts[1], encode_json_string(value), parts[2])
            )
        return parts[0] + encode_json_string(value) + parts[2]

    def clear(self) -> None:
        """Forget every frame (what they carry besides the value changed)."""
        self._cache.clear()

    def _cut(self, frame: bytes) -> tuple[bytes, bytes, bytes]:
        if not self._sequenced:
            head, tail = split_frame(frame)
            return head, b"", tail
        head, rest = split_frame(frame, SEQUENCE_MARKER)
        middle, tail = split_frame(rest)
        return head, middle, tail
