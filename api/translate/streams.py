"""Incremental stream translators between Anthropic message events and OpenAI `chat.completion.chunk`s.

Each takes the upstream's bytes as they arrive (`feed`) and returns the bytes
for the client, possibly b"". `close()` is called at the upstream's end of
stream and finishes the client's stream properly (or with an error event when
the upstream stopped too early); `error()` ends it with an error event in the
client's dialect. Once the stream has ended, every call returns b"".
`usage` is `(input_tokens, output_tokens)` as reported by the upstream so far,
`(None, None)` before it reported any.

`as_upstream_stream` turns a whole answer into the stream its provider would
have sent, for a provider that answers whole when asked to stream; `as_stream`
does the same for a client of the provider's own dialect.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson

from api.translate.answers import (
    FINISH_REASONS,
    REASONING_FIELDS,
    anthropic_usage,
    new_id,
    openai_usage,
    reasoning_of,
    stop_reason,
    text_of,
    thinking_block,
)
from api.translate.requests import tool_input
from api.wire.errors import ANTHROPIC_TYPES, ApiError, Dialect
from api.wire.sse import SSEParser, frame

_STATUS_OF_ANTHROPIC_ERROR: dict[str | None, int] = {
    error_type: status for status, error_type in ANTHROPIC_TYPES.items()}
_NO_SIGNATURE = {"type": "signature_delta", "signature": ""}
"""What closes a thinking block made of another provider's reasoning: only Anthropic can sign one."""


class _StreamTranslator:
    """SSE parsing, JSON decoding and the end-of-stream state shared by both directions.

    `provider_id` is named in the error events, as in every other error of the gateway.
    """

    client_dialect: Dialect = "openai"

    def __init__(self, provider_id: str) -> None:
        self._provider = f"provider '{provider_id}'"
        self._parser = SSEParser()
        self._ended = False
        self.failure: str | None = None
        """The message of the error event that ended the stream, if one did."""

    @property
    def estimated_usage(self) -> tuple[int, int] | None:
        """(input, output) tokens the client was told when the provider reported no usage, if estimated."""
        return None

    def feed(self, chunk: bytes) -> bytes:
        if self._ended:
            return b""
        out = []
        for event in self._parser.feed(chunk):
            out.append(self._on_data(event.data))
            if self._ended:
                break
        return b"".join(out)

    def failed(self, error: ApiError) -> bytes:
        """The event that ends the client's stream when the exchange with the provider failed (the
        connection lost, a timeout): the error as the client's API words it."""
        self._ended = True
        self.failure = error.message
        return error.stream_event(self.client_dialect)

    def error(self, message: str, status: int = 500) -> bytes:
        if self._ended:
            return b""
        self._ended = True
        self.failure = message
        return self._error_event(status, message)

    def _on_data(self, data: str) -> bytes:
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            return self.error(f"{self._provider} sent an event that is not a JSON object: {data[:200]}", 502)
        try:
            return self._on_payload(payload)
        except (KeyError, TypeError, AttributeError):
            return self.error(f"{self._provider} sent an event that cannot be translated: {data[:200]}", 502)

    def _ended_early(self) -> bytes:
        return self.error(f"{self._provider} ended its stream early.", 502)

    def _reported(self, message: str | None, status: int = 500) -> bytes:
        """An error the provider sent mid-stream, its message followed by the provider's id (as a relayed
        error's is), unless it ends with it already (an error event another translator made)."""
        if not message:
            return self.error(f"{self._provider} reported an error.", status)
        return self.error(message if message.endswith(f"({self._provider})") else f"{message} ({self._provider})",
                          status)

    def _on_payload(self, payload: dict) -> bytes:
        raise NotImplementedError

    def _error_event(self, status: int, message: str) -> bytes:
        raise NotImplementedError


class AnthropicToOpenAIStream(_StreamTranslator):
    """Anthropic message events in, OpenAI chunks out.

    Tool calls are numbered 0, 1, 2… in order of appearance, whatever their Anthropic block
    index. Thinking streams as `reasoning_content` deltas (a blank line between two thinking
    blocks); signatures, redacted thinking and server tool blocks are dropped. With
    `include_usage`, every chunk carries `"usage": null` and a last chunk with no choices
    carries the usage.
    """

    def __init__(self, provider_id: str, model: str, include_usage: bool) -> None:
        super().__init__(provider_id)
        self._model = model
        self._include_usage = include_usage
        self._id = "chatcmpl-"  # completed with the message id by message_start
        self._created = int(time.time())
        self._usage: dict = {}  # Anthropic usage, cumulative
        self._tool_calls: dict[int, int] = {}  # Anthropic block index → OpenAI tool call index
        self._thinking: int | None = None  # Anthropic block index of the last thinking sent

    @property
    def usage(self) -> tuple[int | None, int | None]:
        if not self._usage:
            return None, None
        usage = openai_usage(self._usage)
        return usage["prompt_tokens"], usage["completion_tokens"]

    @property
    def reported(self) -> dict | None:
        """The usage as Anthropic reported it (`message_start`'s, updated by `message_delta`'s)."""
        return self._usage or None

    def close(self) -> bytes:
        return self._ended_early()

    def _on_payload(self, event: dict) -> bytes:
        kind = event.get("type")
        if kind == "content_block_delta":
            delta = event["delta"]
            if delta["type"] == "text_delta":
                return self._chunk({"content": delta["text"]})
            if delta["type"] == "thinking_delta":
                return self._reasoning(event["index"], delta["thinking"])
            call = self._tool_calls.get(event["index"])
            if delta["type"] == "input_json_delta" and call is not None and delta["partial_json"]:
                return self._chunk({"tool_calls": [{"index": call, "function": {"arguments": delta["partial_json"]}}]})
        elif kind == "content_block_start":
            block = event["content_block"]
            if block["type"] == "tool_use":
                call = self._tool_calls[event["index"]] = len(self._tool_calls)
                return self._chunk({"tool_calls": [{"index": call, "id": block["id"], "type": "function",
                                                    "function": {"name": block["name"], "arguments": ""}}]})
        elif kind == "message_start":
            message = event["message"]
            self._id = "chatcmpl-" + message["id"]
            self._usage = dict(message.get("usage") or {})
            return self._chunk({"role": "assistant", "content": ""})
        elif kind == "message_delta":
            self._usage.update((key, value) for key, value in (event.get("usage") or {}).items() if value is not None)
            return self._chunk({}, FINISH_REASONS.get(event["delta"].get("stop_reason"), "stop"))
        elif kind == "message_stop":
            self._ended = True
            usage = self._frame([], openai_usage(self._usage)) if self._include_usage else b""
            return usage + b"data: [DONE]\n\n"
        elif kind == "error":
            error = event.get("error") or {}
            return self._reported(error.get("message"), _STATUS_OF_ANTHROPIC_ERROR.get(error.get("type"), 500))
        return b""  # ping, content_block_stop, signatures, and events added to the API later

    def _reasoning(self, index: int, text: str) -> bytes:
        """A thinking delta of block `index` as a `reasoning_content` delta."""
        if not text:
            return b""
        if self._thinking is not None and self._thinking != index:
            text = "\n\n" + text  # another thinking block: as the whole answer joins them
        self._thinking = index
        return self._chunk({"reasoning_content": text})

    def _chunk(self, delta: dict, finish_reason: str | None = None) -> bytes:
        return self._frame([{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}])

    def _frame(self, choices: list, usage: dict | None = None) -> bytes:
        chunk = {"id": self._id, "object": "chat.completion.chunk", "created": self._created,
                 "model": self._model, "choices": choices}
        if self._include_usage:
            chunk["usage"] = usage
        return frame(orjson.dumps(chunk))

    def _error_event(self, status: int, message: str) -> bytes:
        return ApiError(status, message, code="overloaded" if status == 529 else None).stream_event("openai")


@dataclass(slots=True)
class _Block:
    """An Anthropic content block: how it starts, and its pieces while it is held back."""

    start: dict
    pieces: list[str]


class ChatStreamTranslator(_StreamTranslator):
    """A translator of OpenAI chat chunks: the usage they report (in `_usage`), else an estimate:
    `_input_estimate` in, one token per 4 of the `_characters` of content received out."""

    def __init__(self, provider_id: str, input_tokens_estimate: int) -> None:
        super().__init__(provider_id)
        self._input_estimate = input_tokens_estimate
        self._usage: dict | None = None  # OpenAI usage
        self._characters = 0  # of the content pieces received, for the estimate of output tokens
        self._finish_reason: str | None = None

    @property
    def usage(self) -> tuple[int | None, int | None]:
        if self._usage is None:
            return None, None
        return self._usage.get("prompt_tokens"), self._usage.get("completion_tokens")

    @property
    def reported(self) -> dict | None:
        """The usage as the OpenAI provider reported it (its last chunk's)."""
        return self._usage

    @property
    def estimated_usage(self) -> tuple[int, int]:
        return self._input_estimate, -(-self._characters // 4)

    def close(self) -> bytes:
        if self._ended:
            return b""
        return self._ended_early() if self._finish_reason is None else self._end()

    def _on_data(self, data: str) -> bytes:
        return self._end() if data == "[DONE]" else super()._on_data(data)

    def _on_payload(self, chunk: dict) -> bytes:
        """A chunk's pieces (choice 0) handed to `_reasoning`, `_content` and `_tool_call`, after what
        `_begin` says."""
        if (error := chunk.get("error")) is not None:
            return self._reported(error.get("message") if isinstance(error, dict) else str(error))
        out = [self._begin(chunk)]
        if chunk.get("usage"):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if reasoning := reasoning_of(delta):
                out.append(self._reasoning(reasoning))
            # Loops, not list.extend: for the 0-2 pieces of a chunk they take half the time.
            for text in (text_of(delta.get("content")), delta.get("refusal")):
                if text:
                    out.append(self._content(text))  # noqa: PERF401
            for call in delta.get("tool_calls") or ():
                out.append(self._tool_call(call))  # noqa: PERF401
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return b"".join(out)

    def _begin(self, chunk: dict) -> bytes:
        raise NotImplementedError

    def _reasoning(self, text: str) -> bytes:
        raise NotImplementedError

    def _content(self, text: str) -> bytes:
        raise NotImplementedError

    def _tool_call(self, delta: dict) -> bytes:
        raise NotImplementedError

    def _end(self) -> bytes:
        raise NotImplementedError


class OpenAIToAnthropicStream(ChatStreamTranslator):
    """OpenAI chunks in, Anthropic message events out (choice 0 only).

    Blocks are numbered 0, 1, 2… in order of appearance, one open at a time, as Anthropic
    streams them. Reasoning (`reasoning_content` or `reasoning` deltas) is a thinking block,
    closed by an empty `signature_delta` as Anthropic closes its own. Reasoning and text
    stream live until the first tool call starts; that tool call then streams live. Its
    block cannot be closed before the answer ends, since OpenAI may still send pieces of it
    (parallel calls may interleave by index), so anything arriving after it starts (further
    tool calls, text, reasoning) is held back and sent at the end, in order of appearance,
    each block in one delta. With the usual order (reasoning, text, then calls one after the
    other) only the second and later calls are delayed, to the end of the answer.

    A tool call delta with a new `id` starts a new call even at a known index (some
    providers number every call 0). Refusal text is treated as text. Without upstream
    usage, `input_tokens` stays the estimate given and `output_tokens` is one per 4 characters
    of the text, reasoning and tool arguments received (not one per piece: a provider answering
    whole sends the answer in one piece).
    """

    client_dialect = "anthropic"

    def __init__(self, provider_id: str, model: str, input_tokens_estimate: int = 0) -> None:
        super().__init__(provider_id, input_tokens_estimate)
        self._model = model
        self._started = False
        self._index = -1  # of the last block started
        self._open: str | None = None  # the type of block `_index` while it is open
        self._live_call: _Block | None = None
        self._calls: dict[int, _Block] = {}  # OpenAI tool call index → its block
        self._held: list[_Block] = []

    def _begin(self, chunk: dict) -> bytes:
        return b"" if self._started else self._message_start(chunk.get("id"))

    def _content(self, text: str) -> bytes:
        return self._piece({"type": "text", "text": ""}, text)

    def _reasoning(self, text: str) -> bytes:
        return self._piece(thinking_block(""), text)

    def _piece(self, start: dict, piece: str) -> bytes:
        """A piece of text or thinking: added to the open block of its type, else to a new one; held
        back once a tool call is live."""
        self._characters += len(piece)
        kind = start["type"]
        if self._live_call is not None:
            if self._held and self._held[-1].start["type"] == kind:
                self._held[-1].pieces.append(piece)
            else:
                self._held.append(_Block(start, [piece]))
            return b""
        opening = b"" if self._open == kind else self._start_block(start)
        return opening + self._delta(kind, piece)

    def _tool_call(self, delta: dict) -> bytes:
        index = delta.get("index", 0)
        function = delta.get("function") or {}
        call = self._calls.get(index)
        out = b""
        call_id = delta.get("id")
        if call is None or (call_id and call_id != call.start["id"]):
            call = self._calls[index] = _Block({"type": "tool_use", "id": call_id or new_id("toolu_"),
                                                "name": function.get("name") or "", "input": {}}, [])
            if self._live_call is None:
                self._live_call = call
                out = self._start_block(call.start)
            else:
                self._held.append(call)
        if arguments := function.get("arguments"):
            self._characters += len(arguments)
            if call is self._live_call:
                out += self._delta("tool_use", arguments)
            else:
                call.pieces.append(arguments)
        return out

    def _end(self) -> bytes:
        """Everything after the last content piece: held blocks, the stop reason, usage, message_stop."""
        self._ended = True
        out = [] if self._started else [self._message_start(None)]
        for block in self._held:
            out.append(self._start_block(block.start))
            if block.pieces:
                out.append(self._delta(block.start["type"], "".join(block.pieces)))
        out.append(self._stop_block())
        usage = anthropic_usage(self._usage) if self._usage is not None else {"output_tokens": self.estimated_usage[1]}
        out.append(_event({"type": "message_delta",
                           "delta": {"stop_reason": stop_reason(self._finish_reason, bool(self._calls)),
                                     "stop_sequence": None},
                           "usage": usage}))
        out.append(_event({"type": "message_stop"}))
        return b"".join(out)

    def _message_start(self, chunk_id: str | None) -> bytes:
        self._started = True
        message_id = "msg_" + chunk_id.removeprefix("chatcmpl-") if chunk_id else new_id("msg_")
        return _event({"type": "message_start",
                       "message": {"id": message_id, "type": "message", "role": "assistant", "model": self._model,
                                   "content": [], "stop_reason": None, "stop_sequence": None,
                                   "usage": {"input_tokens": self._input_estimate, "output_tokens": 0}}})

    def _start_block(self, block: dict) -> bytes:
        """Closes the open block, if any, and starts `block` at the next index."""
        stop = self._stop_block()
        self._index += 1
        self._open = block["type"]
        return stop + _event({"type": "content_block_start", "index": self._index, "content_block": block})

    def _stop_block(self) -> bytes:
        """Closes the open block, if any; a thinking block gets its (empty) signature first, as Anthropic
        streams it (clients such as Claude Code are reported to drop a thinking block without one)."""
        if self._open is None:
            return b""
        signature = _event({"type": "content_block_delta", "index": self._index, "delta": _NO_SIGNATURE}) \
            if self._open == "thinking" else b""
        self._open = None
        return signature + _event({"type": "content_block_stop", "index": self._index})

    def _delta(self, block_type: str, piece: str) -> bytes:
        if block_type == "text":
            delta = {"type": "text_delta", "text": piece}
        elif block_type == "thinking":
            delta = {"type": "thinking_delta", "thinking": piece}
        else:
            delta = {"type": "input_json_delta", "partial_json": piece}
        return _event({"type": "content_block_delta", "index": self._index, "delta": delta})

    def _error_event(self, status: int, message: str) -> bytes:
        return ApiError(status, message).stream_event("anthropic")


def as_upstream_stream(answer: dict, dialect: Dialect) -> bytes:
    """A provider's whole answer (in `dialect`, checked by `read_answer`) as the stream it would have sent, for
    the stream translator: with its usage, and tool call arguments as translating the whole answer reads them."""
    return _as_anthropic_events(answer) if dialect == "anthropic" else _as_openai_chunks(answer, True, translating=True)


def as_stream(answer: dict, dialect: Dialect, include_usage: bool) -> bytes:
    """A provider's whole answer (in `dialect`, checked by `read_answer`) as its API streams it to a client of
    the same dialect; `include_usage` is the OpenAI client's `stream_options.include_usage`."""
    return _as_anthropic_events(answer) if dialect == "anthropic" else _as_openai_chunks(answer, include_usage)


def _as_openai_chunks(completion: dict, include_usage: bool, translating: bool = False) -> bytes:
    """A `chat.completion`, or a legacy `text_completion`, as OpenAI streams it: each choice whole in one
    chunk, then each choice's finish reason in one; with `include_usage`, `"usage": null` on those and a
    last chunk without choices carrying the usage (when there is one); then `[DONE]`."""
    choices = completion["choices"]
    legacy = "text" in choices[0]
    head = {key: completion.get(key) for key in ("id", "created", "model")}
    head["object"] = "text_completion" if legacy else "chat.completion.chunk"
    head.update((key, completion[key]) for key in ("service_tier", "system_fingerprint") if key in completion)
    if include_usage:
        head["usage"] = None
    pieces = [_whole_choice(index, choice, legacy, translating) for index, choice in enumerate(choices)]
    pieces += [_finish(index, choice, legacy) for index, choice in enumerate(choices)]
    chunks = [{**head, "choices": [piece]} for piece in pieces]
    if include_usage and completion.get("usage"):
        chunks.append({**head, "choices": [], "usage": completion["usage"]})
    return b"".join(frame(orjson.dumps(chunk)) for chunk in chunks) + b"data: [DONE]\n\n"


def _whole_choice(index: int, choice: dict, legacy: bool, translating: bool) -> dict:
    """A choice's text (legacy), or its message as one delta (its reasoning field included)."""
    if legacy:
        content = {"text": choice["text"]}
    else:
        message = choice.get("message") or {}
        delta = {"role": "assistant", "content": message.get("content"), "refusal": message.get("refusal")}
        delta.update((key, message[key]) for key in REASONING_FIELDS if key in message)
        if calls := message.get("tool_calls"):
            delta["tool_calls"] = [_whole_call(number, call, translating) for number, call in enumerate(calls)]
        content = {"delta": delta}
    return {"index": choice.get("index", index), **content, "logprobs": choice.get("logprobs"),
            "finish_reason": None}


def _finish(index: int, choice: dict, legacy: bool) -> dict:
    """A choice's finish reason, in a chunk of its own."""
    empty: dict = {"text": ""} if legacy else {"delta": {}}
    return {"index": choice.get("index", index), **empty, "logprobs": None,
            "finish_reason": choice.get("finish_reason")}


def _whole_call(index: int, call: dict, translating: bool) -> dict:
    """A tool call as one delta holds it whole; for a translation, its arguments the JSON object that
    translating the whole answer makes of them (`{"_raw_arguments": ...}` for broken JSON)."""
    if not translating:
        return {"index": index, **call}
    function = call["function"]
    arguments = orjson.dumps(tool_input(function.get("arguments"))).decode()
    return {**call, "index": index, "function": {**function, "arguments": arguments}}


def _as_anthropic_events(message: dict) -> bytes:
    """An Anthropic message as Anthropic streams it: message_start, each block whole in one delta,
    message_delta with the stop reason and output tokens, message_stop."""
    usage = message.get("usage") or {}
    events = [{"type": "message_start", "message": {  # an id, which the stream translator needs
        "id": "", **message, "content": [], "stop_reason": None, "stop_sequence": None}}]
    for index, block in enumerate(message.get("content") or ()):
        events += _block_events(index, block)
    events.append({"type": "message_delta", "delta": {"stop_reason": message.get("stop_reason"),
                                                      "stop_sequence": message.get("stop_sequence")},
                   "usage": {"output_tokens": usage.get("output_tokens")}})
    events.append({"type": "message_stop"})
    return b"".join(_event(event) for event in events)


def _block_events(index: int, block: dict) -> list[dict]:
    """A content block streamed whole: its start, its content in one delta (a thinking block's text, then its
    signature), its stop. Other blocks (redacted thinking, server tools), which the translation drops, only
    start and stop."""
    opening: dict
    if block["type"] == "text":
        opening, deltas = {"type": "text", "text": ""}, [{"type": "text_delta", "text": block["text"]}]
    elif block["type"] == "thinking":
        opening = thinking_block("")
        deltas = [{"type": "thinking_delta", "thinking": block["thinking"]},
                  {"type": "signature_delta", "signature": block.get("signature") or ""}]
    elif block["type"] == "tool_use":
        opening = {**block, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": orjson.dumps(block.get("input") or {}).decode()}]
    else:
        opening, deltas = block, []
    return [{"type": "content_block_start", "index": index, "content_block": opening},
            *({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas),
            {"type": "content_block_stop", "index": index}]


def _event(payload: dict) -> bytes:
    """An Anthropic event: its SSE event name is its `type`."""
    return frame(orjson.dumps(payload), payload["type"])
