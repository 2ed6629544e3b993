"""Incremental Server-Sent Events parsing and writing (protocols.md 0.3)."""

from __future__ import annotations

from typing import NamedTuple


class Event(NamedTuple):
    """One SSE event: its name (None when absent) and its data lines joined by newlines."""

    name: str | None
    data: str


class Decoder:
    """Turns byte chunks into complete events; comments and `id:`/`retry:` lines are skipped."""

    def __init__(self) -> None:
        self._buffer = b""
        self._name: str | None = None
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Event]:
        """Return the events completed by `chunk`."""
        buffer = self._buffer + chunk if self._buffer else chunk
        if b"\r" in buffer:
            # A lone trailing \r may be the first half of \r\n: keep it for the next chunk.
            keep_cr = buffer.endswith(b"\r")
            buffer = buffer[:-1] if keep_cr else buffer
            buffer = buffer.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            if keep_cr:
                buffer += b"\r"
        events: list[Event] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                break
            self._line(buffer[start:end], events)
            start = end + 1
        self._buffer = buffer[start:]
        return events

    def flush(self) -> list[Event]:
        """Return the last event when the stream ended without a blank line after it."""
        events: list[Event] = []
        if self._buffer:
            self._line(self._buffer.rstrip(b"\r"), events)
            self._buffer = b""
        self._line(b"", events)
        return events

    def _line(self, raw: bytes, events: list[Event]) -> None:
        if not raw:
            if self._data:
                events.append(Event(self._name, "\n".join(self._data)))
            self._name = None
            self._data = []
            return
        if raw[0] == 0x3A:  # ":" comment, e.g. OpenRouter's keep-alive
            return
        line = raw.decode("utf-8", "replace")
        field, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if field == "data":
            self._data.append(value)
        elif field == "event":
            self._name = value


def encode(data: bytes | str, name: str | None = None) -> bytes:
    """Frame one event; `data` must be a single line (JSON is)."""
    payload = data.encode() if isinstance(data, str) else data
    if name is None:
        return b"data: " + payload + b"\n\n"
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"


DONE = b"data: [DONE]\n\n"
"""The Chat Completions stream terminator."""
