"""SSE framing: events split anywhere, line endings, comments, multi-line data."""

from __future__ import annotations

from plexus import sse

STREAM = (
    b": OPENROUTER PROCESSING\n\n"
    b'event: message_start\ndata: {"a": "\xc3\xa9"}\n\n'
    b"data: line1\r\ndata: line2\r\n\r\n"
    b"id: 3\nretry: 10\ndata: [DONE]\n\n"
)
EXPECTED = [
    sse.Event("message_start", '{"a": "é"}'),
    sse.Event(None, "line1\nline2"),
    sse.Event(None, "[DONE]"),
]


def feed_in_pieces(data: bytes, size: int) -> list[sse.Event]:
    decoder = sse.Decoder()
    events: list[sse.Event] = []
    for start in range(0, len(data), size):
        events.extend(decoder.feed(data[start : start + size]))
    events.extend(decoder.flush())
    return events


def test_whole_stream() -> None:
    assert feed_in_pieces(STREAM, len(STREAM)) == EXPECTED


def test_every_split_gives_the_same_events() -> None:
    for size in range(1, 12):
        assert feed_in_pieces(STREAM, size) == EXPECTED


def test_runs_of_blank_lines_split_anywhere_give_the_same_events() -> None:
    stream = b"\n\ndata: a\n\n\n\nevent: e\ndata: b\n\n\ndata: c\r\n\r\n\r\n"
    expected = [sse.Event(None, "a"), sse.Event("e", "b"), sse.Event(None, "c")]
    for size in range(1, len(stream) + 1):
        assert feed_in_pieces(stream, size) == expected


def test_last_event_without_blank_line_is_flushed() -> None:
    decoder = sse.Decoder()
    assert decoder.feed(b"data: tail") == []
    assert decoder.flush() == [sse.Event(None, "tail")]


def test_encode() -> None:
    assert sse.encode(b"{}") == b"data: {}\n\n"
    assert sse.encode("{}", "ping") == b"event: ping\ndata: {}\n\n"
