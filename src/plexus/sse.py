"""Incremental Server-Sent Events parsing and writing (protocols.md 0.3)."""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, frozen=True, gc=False):
    """One SSE event: its name (None when absent) and its data lines joined by newlines."""

    name: str | None
    data: str


class Decoder:
    """Turns byte chunks into complete events; comments and `id:`/`retry:` lines are skipped.

    Only complete events (ended by a blank line) are parsed, so the only state kept between
    chunks is the unparsed tail; events of one chunk are split in C with `bytes.split`.
    """

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[Event]:
        """Return the events completed by `chunk`."""
        buffer = self._buffer + chunk if self._buffer else chunk
        # `find`, not `in`: `bytes.__contains__` first tries the needle as an int and pays for
        # the TypeError, which costs more than the scan on a typical event.
        if buffer.find(b"\r") >= 0:
            buffer = _normalise_newlines(buffer)
        blocks = buffer.split(b"\n\n")
        self._buffer = blocks.pop()  # the unfinished tail, often b""
        events: list[Event] = []
        for block in blocks:
            if block[:6] == b"data: " and block.find(b"\n") < 0:  # the common case: one data line
                events.append(Event(None, block[6:].decode("utf-8", "replace")))
            else:
                _parse_block(block, events)
        return events

    def flush(self) -> list[Event]:
        """Return the last event when the stream ended without a blank line after it."""
        events: list[Event] = []
        if self._buffer:
            _parse_block(self._buffer.rstrip(b"\r\n"), events)
            self._buffer = b""
        return events


def _normalise_newlines(buffer: bytes) -> bytes:
    # A trailing \r may be the first half of \r\n split across reads: keep it as it is.
    tail = b"\r" if buffer.endswith(b"\r") else b""
    body = buffer[:-1] if tail else buffer
    return body.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + tail


def _parse_block(block: bytes, events: list[Event]) -> None:
    if block[:7] == b"event: ":  # the other common case: `event:` then one `data:` line
        newline = block.find(b"\n")
        if (
            newline > 0
            and block[newline + 1 : newline + 7] == b"data: "
            and block.find(b"\n", newline + 1) < 0
        ):
            name_text = block[7:newline].decode("utf-8", "replace")
            events.append(Event(name_text, block[newline + 7 :].decode("utf-8", "replace")))
            return
    name: str | None = None
    data: list[bytes] = []
    for line in block.split(b"\n"):
        if line.startswith(b"data:"):
            data.append(line[6:] if line[5:6] == b" " else line[5:])
        elif line.startswith(b"event:"):
            value = line[7:] if line[6:7] == b" " else line[6:]
            name = value.decode("utf-8", "replace")
    if data:
        payload = data[0] if len(data) == 1 else b"\n".join(data)
        events.append(Event(name, payload.decode("utf-8", "replace")))


def encode(data: bytes | str, name: str | None = None) -> bytes:
    """Frame one event; `data` must be a single line (JSON is)."""
    payload = data.encode() if isinstance(data, str) else data
    if name is None:
        return b"data: " + payload + b"\n\n"
    return b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n"


DONE = b"data: [DONE]\n\n"
"""The Chat Completions stream terminator."""
