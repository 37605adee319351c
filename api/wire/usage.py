"""Token usage read from what a provider sends back, without changing a byte of it."""

from __future__ import annotations

import json
import re

import orjson

from api.wire.errors import Dialect

WHOLE_PARSE_LIMIT = 32 * 1024
"""Answers up to this size are parsed whole for their usage; larger ones only at their usage."""
_DECODER = json.JSONDecoder()
_USAGE_KEY = re.compile(rb'"usage"\s*:\s*')
STREAM_OVERHEAD_EVENTS = 3
"""Events of an OpenAI stream that carry no tokens (role chunk, finish chunk, [DONE])."""


def asks_for_usage(body: dict) -> bool:
    """Whether an OpenAI request asks for a stream's last chunk to carry the usage (`stream_options.include_usage`)."""
    options = body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def usage_counts(dialect: Dialect, usage: object) -> tuple[int | None, int | None]:
    """(input, output) tokens from a `usage` object of either dialect (cached input tokens included); OpenAI's
    is Chat Completions' (`prompt_tokens`, `completion_tokens`) or the Responses API's (`input_tokens`,
    `output_tokens`)."""
    if not isinstance(usage, dict):
        return None, None
    if dialect == "openai":
        if "input_tokens" in usage:  # the Responses API's
            return usage["input_tokens"], usage.get("output_tokens")
        return usage.get("prompt_tokens"), usage.get("completion_tokens")
    inputs = [usage.get(key) for key in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")]
    total_input = sum(value for value in inputs if isinstance(value, int)) if inputs[0] is not None else None
    return total_input, usage.get("output_tokens")


def body_usage(body: bytes) -> object:
    """The `usage` object of a complete JSON answer, as the provider reported it (None when it has none).

    A large answer (a batch of embeddings, a long text) is not parsed whole, which would hold the
    event loop for milliseconds per megabyte: its usage is read where the key `"usage"` last
    appears, as the top-level key the APIs put last (inside strings the quotes are escaped).
    """
    if len(body) > WHOLE_PARSE_LIMIT:
        return _last_usage(body)
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return document.get("usage") if isinstance(document, dict) else None


def _last_usage(body: bytes) -> object:
    at = body.rfind(b'"usage"')
    key = _USAGE_KEY.match(body, at) if at >= 0 else None
    if key is None:
        return None
    try:
        return _DECODER.raw_decode(body[key.end():].decode("utf-8", "replace"))[0]
    except ValueError:
        return None


class StreamUsage:
    """Follows a relayed SSE stream: the usage it reports, else how many data events it had.

    Only `data:` lines that mention "usage" or "error" are parsed; the rest is counted. `error` is the
    message of an error event the provider ended the stream with (OpenAI's `{"error": {...}}`,
    Anthropic's `{"type": "error", ...}`, the Responses API's `{"type": "error", "message": ...}` or
    `response.failed`). The Responses API's usage is in its `response.completed` (or `.incomplete`) event's
    `response`; `response` is the response as its events last showed it (every one of them mentions "usage").
    `reported` is the usage object as the provider reported it: OpenAI's last one, Anthropic's `message_start`
    usage updated by its `message_delta`'s.
    """

    __slots__ = ("_tail", "dialect", "error", "events", "input_tokens", "output_tokens", "reported", "response")

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.events = 0
        self.error: str | None = None
        self.response: dict | None = None
        self.reported: dict | None = None
        self._tail = b""

    def feed(self, chunk: bytes) -> None:
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        for line in lines:
            if not line.startswith(b"data:"):
                continue
            self.events += 1
            if b'"usage"' in line or b'"error"' in line:
                self._read(line[5:])

    def _read(self, data: bytes) -> None:
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if not isinstance(event, dict):
            return
        if event.get("type") == "error" and isinstance(event.get("message"), str):  # the Responses API's
            self.error = event["message"]
            return
        if isinstance(event.get("response"), dict):  # a Responses API event: its response holds usage and error
            event = self.response = event["response"]
        if isinstance(error := event.get("error"), dict) and (self.dialect == "openai" or event.get("type") == "error"):
            self.error = str(error.get("message") or error.get("type") or "error event")
            return
        usage = event.get("usage")
        if usage is None and isinstance(event.get("message"), dict):  # Anthropic's message_start
            usage = event["message"].get("usage")
        if isinstance(usage, dict):
            self.reported = {**self.reported, **{key: value for key, value in usage.items() if value is not None}} \
                if self.reported and self.dialect == "anthropic" else usage
        inputs, outputs = usage_counts(self.dialect, usage)
        # Anthropic's message_delta carries only the cumulative output count.
        self.input_tokens = inputs if inputs is not None else self.input_tokens
        self.output_tokens = outputs if outputs is not None else self.output_tokens

    def estimated_output(self) -> int:
        """Output tokens when the stream reported none: about one per content event."""
        return max(self.events - STREAM_OVERHEAD_EVENTS, 0)
