"""A chat completion stream as a Responses API stream, incrementally (see `streams` for the protocol), and the
end of a passed-through Responses stream whose provider failed."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import cast

import orjson

from api.translate.answers import new_id
from api.translate.responses_api import (
    call_item,
    called_tools,
    custom_input,
    estimated_usage,
    message_item,
    reasoning_item,
    response_object,
    responses_usage,
    status_of,
)
from api.translate.streams import ChatStreamTranslator
from api.wire.errors import ApiError
from api.wire.sse import frame
from api.wire.usage import StreamUsage

_TEXT_PART = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
_SUMMARY_PART = {"type": "summary_text", "text": ""}


@dataclass(slots=True)
class _Item:
    """An output item being streamed: where it is, how it was announced, its pieces so far."""

    index: int
    added: dict
    pieces: list[str] = field(default_factory=list)
    done: dict | None = None
    """The whole item, once closed."""

    def whole(self, status: str) -> dict:
        text, item = "".join(self.pieces), self.added
        if item["type"] == "reasoning":
            return reasoning_item(item["id"], text)
        if item["type"] == "message":
            return message_item(item["id"], text, status)
        if item["type"] == "custom_tool_call":
            return {**item, "input": custom_input(text), "status": status}
        return {**item, "arguments": text, "status": status}


class ChatToResponsesStream(ChatStreamTranslator):
    """OpenAI chat chunks in (choice 0 only), Responses events out, each with its `sequence_number`.

    `response.created` and `response.in_progress` come first. Reasoning deltas stream as a reasoning
    item's summary text, text and refusal deltas as a message's `output_text`, each item closed when
    another kind begins; tool calls are function call items, open until the answer ends (pieces of
    parallel calls may interleave). A tool call delta with a new `id` starts a new call even at a known
    index. A call of a custom tool is a custom tool call item, its input (read from the whole arguments)
    one delta when the item closes. The end is `response.completed`, or `response.incomplete` when the
    provider stopped on length or its content filter, carrying the whole response and its usage
    (estimated, `input_estimate` in and one token per 4 characters out, without the provider's). An
    error ends the stream with `response.failed`.
    """

    def __init__(self, provider_id: str, model: str, echo: dict, input_estimate: int = 0) -> None:
        super().__init__(provider_id, input_estimate)
        self._model, self._echo = model, echo
        self._called = called_tools(echo["tools"])
        self._id = new_id("resp_")
        self._created_at = int(time.time())
        self._sequence = 0
        self._started = False
        self._items: list[_Item] = []
        self._open: _Item | None = None  # the reasoning or message item receiving pieces
        self._calls: dict[int, _Item] = {}  # chat tool call index → its item

    def failed(self, error: ApiError) -> bytes:
        return self.error(error.message, error.status)

    def _begin(self, chunk: dict) -> bytes:
        return self._start()

    def _reasoning(self, text: str) -> bytes:
        return self._piece("reasoning", text)

    def _content(self, text: str) -> bytes:
        return self._piece("message", text)

    def _start(self) -> bytes:
        """`response.created` and `response.in_progress`, once."""
        if self._started:
            return b""
        self._started = True
        response = self._response("in_progress", [])
        return self._event("response.created", response=response) + \
            self._event("response.in_progress", response=response)

    def _piece(self, kind: str, piece: str) -> bytes:
        """A piece of reasoning or text: added to the open item of its kind, else to a new one."""
        self._characters += len(piece)
        out = b""
        if self._open is None or self._open.added["type"] != kind:
            out = self._close_open()
            if kind == "reasoning":
                self._open = self._add({"id": new_id("rs_"), "type": "reasoning", "summary": []})
                out += self._added(self._open) + self._event("response.reasoning_summary_part.added",
                                                             **self._at(self._open), summary_index=0,
                                                             part=_SUMMARY_PART)
            else:
                self._open = self._add({"id": new_id("msg_"), "type": "message", "role": "assistant",
                                        "status": "in_progress", "content": []})
                out += self._added(self._open) + self._event(
                    "response.content_part.added", **self._at(self._open), content_index=0, part=_TEXT_PART)
        self._open.pieces.append(piece)
        if kind == "reasoning":
            return out + self._event("response.reasoning_summary_text.delta", **self._at(self._open),
                                     summary_index=0, delta=piece)
        return out + self._event("response.output_text.delta", **self._at(self._open), content_index=0,
                                 delta=piece, logprobs=[])

    def _tool_call(self, delta: dict) -> bytes:
        index = delta.get("index", 0)
        function = delta.get("function") or {}
        call, call_id, out = self._calls.get(index), delta.get("id"), b""
        if call is None or (call_id and call_id != call.added["call_id"]):
            call = self._calls[index] = self._add(call_item(
                call_id or new_id("call_"), function.get("name") or "", "", "in_progress", self._called))
            out = self._close_open() + self._added(call)
        if arguments := function.get("arguments"):
            self._characters += len(arguments)
            call.pieces.append(arguments)
            if call.added["type"] == "function_call":
                out += self._event("response.function_call_arguments.delta", **self._at(call), delta=arguments)
        return out

    def _add(self, item: dict) -> _Item:
        self._items.append(added := _Item(len(self._items), item))
        return added

    def _added(self, item: _Item) -> bytes:
        return self._event("response.output_item.added", output_index=item.index, item=item.added)

    def _close_open(self) -> bytes:
        closing, self._open = self._open, None
        return self._close(closing, "completed") if closing is not None else b""

    def _close(self, item: _Item, status: str) -> bytes:
        """The events that end an item: its text's, its part's, and `response.output_item.done`."""
        item.done = whole = item.whole(status)
        where, kind = self._at(item), whole["type"]
        if kind == "reasoning":
            part = whole["summary"][0]
            out = self._event("response.reasoning_summary_text.done", **where, summary_index=0, text=part["text"]) + \
                self._event("response.reasoning_summary_part.done", **where, summary_index=0, part=part)
        elif kind == "message":
            part = whole["content"][0]
            out = self._event("response.output_text.done", **where, content_index=0, text=part["text"], logprobs=[]) + \
                self._event("response.content_part.done", **where, content_index=0, part=part)
        elif kind == "custom_tool_call":
            text = whole["input"]
            out = (self._event("response.custom_tool_call_input.delta", **where, delta=text) if text else b"") + \
                self._event("response.custom_tool_call_input.done", **where, input=text)
        else:
            out = self._event("response.function_call_arguments.done", **where, name=whole["name"],
                              arguments=whole["arguments"])
        return out + self._event("response.output_item.done", output_index=item.index, item=whole)

    def _end(self) -> bytes:
        """Every open item closed, then `response.completed` (or `.incomplete`) with the whole response."""
        out = [self._start()]
        status = status_of(self._finish_reason)
        item_status = "completed" if status == "completed" else "incomplete"
        out += [self._close(item, item_status) for item in self._items if item.done is None]
        self._ended, self._open = True, None
        usage = responses_usage(self._usage) if self._usage else estimated_usage(self._input_estimate, self._characters)
        output = cast("list[dict]", [item.done for item in self._items])  # every item is closed now
        response = self._response(status, output, usage)
        out.append(self._event(f"response.{status}", response=response))
        return b"".join(out)

    def _error_event(self, status: int, message: str) -> bytes:
        """`response.failed`, its output the items so far (unfinished ones incomplete)."""
        output = [item.done or item.whole("incomplete") for item in self._items]
        return self._start() + self._event("response.failed",
                                           response=self._response("failed", output, error=failure(status, message)))

    def _response(self, status: str, output: list[dict], usage: dict | None = None, error: dict | None = None) -> dict:
        return response_object(self._id, self._created_at, self._model, self._echo, status, output, usage, error,
                               self._finish_reason)

    @staticmethod
    def _at(item: _Item) -> dict:
        return {"item_id": item.added["id"], "output_index": item.index}

    def _event(self, kind: str, **fields) -> bytes:
        self._sequence += 1
        return frame(orjson.dumps({"type": kind, "sequence_number": self._sequence - 1, **fields}), kind)


def failure(status: int, message: str) -> dict:
    """A failed response's `error`."""
    return {"code": "rate_limit_exceeded" if status == 429 else "server_error", "message": message}


def passthrough_failed(error: ApiError, stream: StreamUsage) -> bytes:
    """The event that ends a passed-through Responses stream whose provider failed mid-way (`stream` followed
    it), numbered on from its events (the API numbers them 0, 1, 2...): `response.failed` with the response
    as the stream last showed it, or an `error` event when it showed none yet; nothing after its own end."""
    response = stream.response
    if stream.error is not None or (response is not None and response.get("status") not in ("queued", "in_progress")):
        return b""
    if response is None:
        kind, fields = "error", {**failure(error.status, error.message), "param": None}
    else:
        kind, fields = "response.failed", {"response": {**response, "status": "failed",
                                                        "error": failure(error.status, error.message)}}
    return frame(orjson.dumps({"type": kind, "sequence_number": stream.events, **fields}), kind)
