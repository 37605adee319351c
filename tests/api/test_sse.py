"""The incremental SSE parser and event framing."""

from __future__ import annotations

import pytest

from api.wire.sse import SSEEvent, SSEParser, frame


def parse(data: bytes, size: int | None = None) -> list[SSEEvent]:
    """All events of `data` fed in pieces of `size` bytes (at once when None)."""
    parser = SSEParser()
    if size is None:
        return parser.feed(data)
    events = []
    for start in range(0, len(data), size):
        events += parser.feed(data[start:start + size])
    return events


@pytest.mark.parametrize("stream, expected", [
    pytest.param(b"data: hello\n\n", [SSEEvent(None, "hello")], id="one event"),
    pytest.param(b"event: ping\ndata: {}\n\n", [SSEEvent("ping", "{}")], id="named event"),
    pytest.param(b"data: a\ndata: b\n\n", [SSEEvent(None, "a\nb")], id="data lines joined with newline"),
    pytest.param(b"data:x\n\n", [SSEEvent(None, "x")], id="no space after colon"),
    pytest.param(b"data:  x \n\n", [SSEEvent(None, " x ")], id="only one space dropped"),
    pytest.param(b"data\n\n", [SSEEvent(None, "")], id="field without colon is an empty data line"),
    pytest.param(b"data:\n\n", [SSEEvent(None, "")], id="empty data line"),
    pytest.param(b": keep-alive\ndata: x\n\n", [SSEEvent(None, "x")], id="comment ignored"),
    pytest.param(b": only a comment\n\n", [], id="comment-only event dropped"),
    pytest.param(b"event: ping\n\n", [], id="event without data dropped"),
    pytest.param(b"id: 7\nretry: 10\nfoo: bar\ndata: x\n\n", [SSEEvent(None, "x")], id="other fields ignored"),
    pytest.param(b"event: a\ndata: 1\n\ndata: 2\n\n", [SSEEvent("a", "1"), SSEEvent(None, "2")],
                 id="event name reset after dispatch"),
    pytest.param(b"event: a\n\ndata: 2\n\n", [SSEEvent(None, "2")], id="event name reset by a dropped event"),
    pytest.param(b"data: x\n\n\n\ndata: y\n\n", [SSEEvent(None, "x"), SSEEvent(None, "y")], id="extra blank lines"),
    pytest.param(b"data: a:b: c\n\n", [SSEEvent(None, "a:b: c")], id="colons in value kept"),
    pytest.param(b"data: x\n\ndata: unterminated", [SSEEvent(None, "x")], id="unterminated event not dispatched"),
    pytest.param("data: héllo ✓ 🎉\n\n".encode(), [SSEEvent(None, "héllo ✓ 🎉")], id="utf-8"),
    pytest.param(b"data: \xff\n\n", [SSEEvent(None, "\ufffd")], id="invalid utf-8 replaced"),
])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_parse(stream, expected, newline):
    data = stream.replace(b"\n", newline)
    assert parse(data) == expected
    assert parse(data, 1) == expected  # split everywhere: inside UTF-8 sequences and between \r and \n
    assert parse(data, 3) == expected


def test_mixed_line_ends():
    assert parse(b"event: e\rdata: 1\r\ndata: 2\n\r\ndata: 3\r\r", 1) == [SSEEvent("e", "1\n2"), SSEEvent(None, "3")]


def test_cr_at_chunk_end_then_lf():
    parser = SSEParser()
    assert parser.feed(b"data: x\r") == []
    assert parser.feed(b"\n\r") == [SSEEvent(None, "x")]
    assert parser.feed(b"\ndata: y\n\n") == [SSEEvent(None, "y")]  # the \n after \r is not a second blank line


def test_lf_after_cr_only_skipped_once():
    parser = SSEParser()
    assert parser.feed(b"data: x\r") == []
    assert parser.feed(b"") == []
    assert parser.feed(b"\n") == []
    assert parser.feed(b"\n") == [SSEEvent(None, "x")]


def test_empty_feeds():
    parser = SSEParser()
    assert parser.feed(b"") == []
    assert parser.feed(b"data: x\r") == []
    assert parser.feed(b"") == []
    assert parser.feed(b"\ndata: y\r\n\r\n") == [SSEEvent(None, "x\ny")]


def test_one_large_event_in_small_pieces():
    data = b"data: " + b"x" * 200_000 + b"\n\n"
    assert parse(data, 10) == [SSEEvent(None, "x" * 200_000)]


def test_incremental_results():
    parser = SSEParser()
    assert parser.feed(b"data: {\"a\":") == []
    assert parser.feed(b" 1}\n") == []
    assert parser.feed(b"\ndata: 2\n\nda") == [SSEEvent(None, '{"a": 1}'), SSEEvent(None, "2")]
    assert parser.feed(b"ta: 3\n\n") == [SSEEvent(None, "3")]


@pytest.mark.parametrize("data, event, expected", [
    (b'{"a":1}', None, b'data: {"a":1}\n\n'),
    (b"[DONE]", None, b"data: [DONE]\n\n"),
    (b'{"type":"ping"}', "ping", b'event: ping\ndata: {"type":"ping"}\n\n'),
])
def test_frame(data, event, expected):
    assert frame(data, event) == expected
    assert parse(expected) == [SSEEvent(event, data.decode())]
