"""Server-sent events: an incremental parser and the framing of one event.

The parser follows the WHATWG event-stream rules that matter for LLM APIs:
lines end with `\\n`, `\\r\\n` or `\\r`; a blank line dispatches the event;
lines starting with `:` are comments; `data` lines accumulate (joined with
`\\n`); `event` names the event; one space after the colon is dropped; `id`,
`retry` and unknown fields are ignored. An event without data lines is
dropped, and so is an unterminated event at the end of the stream.
"""

from __future__ import annotations

from typing import NamedTuple

SSE = b"text/event-stream; charset=utf-8"
"""The content type of every stream Gatehouse sends."""
SSE_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))
"""Headers of every stream Gatehouse sends: no caching, no buffering by a proxy in between."""


class SSEEvent(NamedTuple):
    event: str | None
    data: str


class SSEParser:
    """Feed it bytes as they arrive (split anywhere); get back the events completed so far."""

    __slots__ = ("_data", "_event", "_partial", "_skip_lf")

    def __init__(self) -> None:
        self._partial = bytearray()  # an unterminated line (grown in place: linear however small the pieces)
        self._skip_lf = False  # the last chunk ended with `\r`: a leading `\n` belongs to it
        self._event: str | None = None
        self._data: list[str] = []

    def feed(self, data: bytes) -> list[SSEEvent]:
        if self._skip_lf and data:
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        self._partial += data
        if b"\n" not in data and b"\r" not in data:
            return []
        lines = self._partial.splitlines(keepends=True)  # bytes split only on \n, \r\n and \r
        last = lines[-1]
        self._skip_lf = last.endswith(b"\r")
        self._partial = bytearray() if last.endswith((b"\n", b"\r")) else lines.pop()
        events: list[SSEEvent] = []
        for raw in lines:
            # Line ends are ASCII, so a complete line never ends inside a UTF-8 sequence.
            line = raw.rstrip(b"\r\n").decode("utf-8", "replace")
            if not line:
                if self._data:
                    events.append(SSEEvent(self._event, "\n".join(self._data)))
                    self._data = []
                self._event = None
            elif line[0] != ":":
                name, _, value = line.partition(":")
                if value[:1] == " ":
                    value = value[1:]
                if name == "data":
                    self._data.append(value)
                elif name == "event":
                    self._event = value
        return events


def frame(data: bytes, event: str | None = None) -> bytes:
    """One event: `event: NAME` (when given) and `data: DATA`; `data` must be a single line (as JSON from orjson is)."""
    if event is None:
        return b"data: " + data + b"\n\n"
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
