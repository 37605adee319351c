"""Stream translators, checked against the SDKs' own stream accumulators."""

from __future__ import annotations

import orjson
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from api.wire.sse import SSEParser
from api.translate.answers import anthropic_to_openai_response, openai_to_anthropic_response
from api.translate.streams import AnthropicToOpenAIStream, OpenAIToAnthropicStream, as_upstream_stream

SPLITS = [None, 1, 7, 64]  # feed at once, byte by byte, and in odd-sized pieces
CREATED = 1_741_569_952


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    monkeypatch.setattr("api.translate.streams.time.time", lambda: CREATED + 0.5)


def run(translator, data: bytes, size: int | None = None) -> bytes:
    """Everything the client gets for upstream `data` fed in pieces of `size` bytes, then EOF."""
    if size is None:
        out = translator.feed(data)
    else:
        out = b"".join(translator.feed(data[start:start + size]) for start in range(0, len(data), size))
    return out + translator.close()


def events(data: bytes) -> list[tuple[str | None, object]]:
    return [(event.event, event.data if event.data == "[DONE]" else orjson.loads(event.data))
            for event in SSEParser().feed(data)]


# --- Anthropic → OpenAI ----------------------------------------------------------------------------

def anthropic_sse(*payloads: dict) -> bytes:
    """Anthropic's wire format: each event named after its type, CRLF-free, blank-line separated."""
    return b"".join(b"event: " + payload["type"].encode() + b"\ndata: " + orjson.dumps(payload) + b"\n\n"
                    for payload in payloads)


MESSAGE_START = {"type": "message_start", "message": {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
    "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": None, "stop_sequence": None,
    "usage": {"input_tokens": 472, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2048,
              "output_tokens": 2}}}
PING = {"type": "ping"}
MESSAGE_STOP = {"type": "message_stop"}


def block_start(index: int, block: dict) -> dict:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict) -> dict:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def block_stop(index: int) -> dict:
    return {"type": "content_block_stop", "index": index}


def message_delta(stop_reason: str, output_tokens: int) -> dict:
    return {"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": output_tokens}}


def text_deltas(index: int, *pieces: str) -> list[dict]:
    return [block_delta(index, {"type": "text_delta", "text": piece}) for piece in pieces]


def json_deltas(index: int, *pieces: str) -> list[dict]:
    return [block_delta(index, {"type": "input_json_delta", "partial_json": piece}) for piece in pieces]


ANTHROPIC_TOOL_STREAM = anthropic_sse(
    MESSAGE_START,
    block_start(0, {"type": "thinking", "thinking": "", "signature": ""}),
    PING,
    block_delta(0, {"type": "thinking_delta", "thinking": "The user wants the weather."}),
    block_delta(0, {"type": "signature_delta", "signature": "EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds"}),
    block_stop(0),
    block_start(1, {"type": "text", "text": ""}),
    *text_deltas(1, "Okay, let me ", "check the weather in Paris ", "and the time. ✓"),
    block_stop(1),
    block_start(2, {"type": "tool_use", "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "name": "get_weather", "input": {}}),
    *json_deltas(2, "", '{"location":', ' "Paris, Fr', 'ance", "unit": "celsius"}'),
    block_stop(2),
    block_start(3, {"type": "tool_use", "id": "toolu_01ABcdEFghIJklMNopQRstuv", "name": "get_time", "input": {}}),
    *json_deltas(3, "", '{"tz": "Europe/Paris"}'),
    block_stop(3),
    message_delta("tool_use", 89),
    MESSAGE_STOP,
)


def openai_accumulate(data: bytes):
    """The final completion the OpenAI SDK builds from a translated stream."""
    state = ChatCompletionStreamState()
    for _, payload in events(data):
        if payload != "[DONE]":
            state.handle_chunk(ChatCompletionChunk.model_validate(payload))
    return state.get_final_completion()


@pytest.mark.parametrize("size", SPLITS)
def test_anthropic_stream_accumulated_by_the_openai_sdk(size):
    translator = AnthropicToOpenAIStream("anthropic", "anthropic:claude", include_usage=True)
    out = run(translator, ANTHROPIC_TOOL_STREAM, size)
    assert out == run(AnthropicToOpenAIStream("anthropic", "anthropic:claude", include_usage=True), ANTHROPIC_TOOL_STREAM)
    assert out.endswith(b"data: [DONE]\n\n")
    completion = openai_accumulate(out)
    assert completion.id == "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL"
    assert completion.model == "anthropic:claude"
    assert completion.created == CREATED
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Okay, let me check the weather in Paris and the time. ✓"
    assert [(call.id, call.function.name, call.function.arguments) for call in choice.message.tool_calls] == [
        ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather", '{"location": "Paris, France", "unit": "celsius"}'),
        ("toolu_01ABcdEFghIJklMNopQRstuv", "get_time", '{"tz": "Europe/Paris"}')]
    assert completion.usage.model_dump(exclude_none=True) == {
        "prompt_tokens": 2520, "completion_tokens": 89, "total_tokens": 2609,
        "prompt_tokens_details": {"cached_tokens": 2048}}
    assert translator.usage == (2520, 89)


def test_anthropic_stream_chunks():
    out = run(AnthropicToOpenAIStream("anthropic", "claude", include_usage=True), anthropic_sse(
        MESSAGE_START, block_start(0, {"type": "text", "text": ""}), *text_deltas(0, "Hi"), block_stop(0),
        message_delta("end_turn", 5), MESSAGE_STOP))
    common = {"id": "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL", "object": "chat.completion.chunk",
              "created": CREATED, "model": "claude"}

    def chunk(delta, finish_reason=None):
        return {**common, "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                       "finish_reason": finish_reason}], "usage": None}

    assert events(out) == [
        (None, chunk({"role": "assistant", "content": ""})),
        (None, chunk({"content": "Hi"})),
        (None, chunk({}, "stop")),
        (None, {**common, "choices": [], "usage": {"prompt_tokens": 2520, "completion_tokens": 5,
                                                   "total_tokens": 2525,
                                                   "prompt_tokens_details": {"cached_tokens": 2048}}}),
        (None, "[DONE]"),
    ]


def test_anthropic_stream_without_usage_option():
    out = run(AnthropicToOpenAIStream("anthropic", "claude", include_usage=False), ANTHROPIC_TOOL_STREAM)
    chunks = [payload for _, payload in events(out)]
    assert chunks[-1] == "[DONE]"
    assert all("usage" not in chunk and len(chunk["choices"]) == 1 for chunk in chunks[:-1])
    assert openai_accumulate(out).choices[0].finish_reason == "tool_calls"


def test_anthropic_tool_call_indexes_count_calls_not_blocks():
    out = run(AnthropicToOpenAIStream("anthropic", "claude", include_usage=False), ANTHROPIC_TOOL_STREAM)
    indexes = [call["index"] for _, chunk in events(out)[:-1]
               for call in chunk["choices"][0]["delta"].get("tool_calls", ())]
    assert indexes == [0, 0, 0, 0, 1, 1]  # empty input_json_delta pieces are not sent


def test_anthropic_thinking_streams_as_reasoning_content_before_the_content():
    out = run(AnthropicToOpenAIStream("anthropic", "claude", include_usage=False), ANTHROPIC_TOOL_STREAM)
    received = [chunk for _, chunk in events(out)[:-1]]
    assert [chunk["choices"][0]["delta"] for chunk in received[:3]] == [
        {"role": "assistant", "content": ""}, {"reasoning_content": "The user wants the weather."},
        {"content": "Okay, let me "}]
    assert b"signature" not in out and b"EqQBCgIYAhIM" not in out  # signatures have no place in OpenAI's chunks
    delta = ChatCompletionChunk.model_validate(received[1]).choices[0].delta  # as the SDK gives it to clients
    assert delta.reasoning_content == "The user wants the weather." and delta.content is None
    message = openai_accumulate(out).choices[0].message
    assert message.reasoning_content == "The user wants the weather."
    assert message.content == "Okay, let me check the weather in Paris and the time. ✓"


def thinking_deltas(index: int, *pieces: str, signature: str = "EqQBCgIYAhIM1gbcDa9GJ") -> list[dict]:
    return [*(block_delta(index, {"type": "thinking_delta", "thinking": piece}) for piece in pieces),
            block_delta(index, {"type": "signature_delta", "signature": signature})]


THINKING_START = {"type": "thinking", "thinking": "", "signature": ""}


def test_anthropic_thinking_blocks_joined_and_redacted_thinking_dropped():
    """Interleaved thinking: several thinking blocks (and a redacted one) in one answer, a tool call between."""
    translator = AnthropicToOpenAIStream("anthropic", "claude", include_usage=False)
    out = run(translator, anthropic_sse(
        MESSAGE_START,
        block_start(0, THINKING_START), *thinking_deltas(0, "Let me ", "", "think."), block_stop(0),
        block_start(1, {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}), block_stop(1),
        block_start(2, {"type": "tool_use", "id": "toolu_01", "name": "now", "input": {}}),
        *json_deltas(2, "{}"), block_stop(2),
        block_start(3, THINKING_START), *thinking_deltas(3, "Done."), block_stop(3),
        block_start(4, {"type": "text", "text": ""}), *text_deltas(4, "Hi"), block_stop(4),
        message_delta("tool_use", 30), MESSAGE_STOP))
    received = [chunk["choices"][0]["delta"] for _, chunk in events(out)[:-1]]
    assert [delta["reasoning_content"] for delta in received if "reasoning_content" in delta] == [
        "Let me ", "think.", "\n\nDone."]
    assert [call["index"] for delta in received for call in delta.get("tool_calls", ())] == [0, 0]
    whole = anthropic_to_openai_response(whole_message([
        {"type": "thinking", "thinking": "Let me think.", "signature": "EqQB"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"},
        {"type": "tool_use", "id": "toolu_01", "name": "now", "input": {}},
        {"type": "thinking", "thinking": "Done.", "signature": "EqQB"}, {"type": "text", "text": "Hi"}],
        "tool_use"), "claude")
    assert openai_accumulate(out).choices[0].message.reasoning_content == \
        whole["choices"][0]["message"]["reasoning_content"] == "Let me think.\n\nDone."


@pytest.mark.parametrize("stop_reason, finish_reason", [
    ("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"), ("refusal", "content_filter"),
    ("pause_turn", "stop"), ("tool_use", "tool_calls"),
])
def test_anthropic_stop_reasons(stop_reason, finish_reason):
    out = run(AnthropicToOpenAIStream("anthropic", "claude", include_usage=False),
              anthropic_sse(MESSAGE_START, message_delta(stop_reason, 1), MESSAGE_STOP))
    assert events(out)[-2][1]["choices"][0]["finish_reason"] == finish_reason


def test_anthropic_message_delta_with_cumulative_input_usage():
    delta = message_delta("end_turn", 30)
    delta["usage"].update(input_tokens=500, cache_read_input_tokens=None)
    translator = AnthropicToOpenAIStream("anthropic", "claude", include_usage=True)
    out = run(translator, anthropic_sse(MESSAGE_START, delta, MESSAGE_STOP))
    assert events(out)[-2][1]["usage"]["prompt_tokens"] == 500 + 2048
    assert translator.usage == (2548, 30)


ANTHROPIC_OVERLOADED = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


@pytest.mark.parametrize("size", SPLITS)
def test_anthropic_error_event_mid_stream(size):
    translator = AnthropicToOpenAIStream("anthropic", "claude", include_usage=True)
    stream = anthropic_sse(MESSAGE_START, block_start(0, {"type": "text", "text": ""}), *text_deltas(0, "Hel"),
                           ANTHROPIC_OVERLOADED, *text_deltas(0, "lo"), MESSAGE_STOP)
    received = events(run(translator, stream, size))
    assert [payload["choices"][0]["delta"] for _, payload in received[:-1]] == [
        {"role": "assistant", "content": ""}, {"content": "Hel"}]
    assert received[-1] == (None, {"error": {"message": "Overloaded (provider 'anthropic')", "type": "server_error",
                                             "param": None, "code": "overloaded"}})
    assert translator.feed(b"data: {}\n\n") == b"" and translator.close() == b""


@pytest.mark.parametrize("stream", [
    pytest.param(b"", id="nothing"),
    pytest.param(anthropic_sse(MESSAGE_START, block_start(0, {"type": "text", "text": ""}), *text_deltas(0, "Hi")),
                 id="mid-message"),
    pytest.param(anthropic_sse(MESSAGE_START, message_delta("end_turn", 3)), id="before message_stop"),
])
def test_anthropic_early_eof(stream):
    translator = AnthropicToOpenAIStream("anthropic", "claude", include_usage=False)
    out = translator.feed(stream)
    assert events(translator.close()) == [(None, {"error": {"message": "provider 'anthropic' ended its stream early.",
                                                            "type": "server_error", "param": None, "code": None}})]
    assert b"[DONE]" not in out
    assert translator.close() == b""


def test_anthropic_close_after_done_is_empty():
    translator = AnthropicToOpenAIStream("anthropic", "claude", include_usage=False)
    assert translator.feed(anthropic_sse(MESSAGE_START, message_delta("end_turn", 3), MESSAGE_STOP))
    assert translator.close() == b""
    assert translator.error("late") == b""


@pytest.mark.parametrize("status, error", [
    (502, {"message": "upstream timed out", "type": "server_error", "param": None, "code": None}),
    (529, {"message": "upstream timed out", "type": "server_error", "param": None, "code": "overloaded"}),
    (429, {"message": "upstream timed out", "type": "rate_limit_error", "param": None, "code": None}),
])
def test_anthropic_stream_error_method(status, error):
    translator = AnthropicToOpenAIStream("anthropic", "claude", include_usage=False)
    translator.feed(anthropic_sse(MESSAGE_START))
    assert events(translator.error("upstream timed out", status)) == [(None, {"error": error})]
    assert translator.close() == b""


def test_anthropic_invalid_event():
    translator = AnthropicToOpenAIStream("anthropic", "claude", include_usage=False)
    out = translator.feed(b"event: message_start\ndata: {not json\n\n")
    assert events(out)[0][1]["error"]["message"].startswith(
        "provider 'anthropic' sent an event that is not a JSON object")
    assert translator.close() == b""


def test_anthropic_malformed_event():
    translator = AnthropicToOpenAIStream("anthropic", "claude", include_usage=False)
    out = translator.feed(anthropic_sse({"type": "content_block_delta", "index": 0}))
    assert events(out)[0][1]["error"]["message"] == (  # what it sent, not a Python exception
        'provider \'anthropic\' sent an event that cannot be translated: {"type":"content_block_delta","index":0}')


def test_anthropic_usage_before_any_event():
    assert AnthropicToOpenAIStream("anthropic", "claude", include_usage=True).usage == (None, None)


# --- OpenAI → Anthropic ----------------------------------------------------------------------------

CHUNK_ID = "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"


def openai_chunk(delta: dict | None = None, finish_reason: str | None = None, *, usage: dict | None = None,
                 choices: list | None = None) -> bytes:
    """One frame as OpenAI sends it."""
    chunk = {"id": CHUNK_ID, "object": "chat.completion.chunk", "created": 1741570283, "model": "gpt-4o-2024-08-06",
             "service_tier": "default", "system_fingerprint": "fp_eb9dce56a8",
             "choices": choices if choices is not None else [
                 {"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish_reason}],
             "usage": usage}
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def tool_delta(index: int, arguments: str, call_id: str | None = None, name: str | None = None) -> dict:
    call = {"index": index, "function": {"arguments": arguments}}
    if call_id:
        call.update(id=call_id, type="function")
        call["function"]["name"] = name
    return {"tool_calls": [call]}


OPENAI_USAGE = {"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                              "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}
DONE = b"data: [DONE]\n\n"

OPENAI_TOOL_STREAM = b"".join([
    openai_chunk({"role": "assistant", "content": "", "refusal": None}),
    openai_chunk({"content": "Checking "}),
    openai_chunk({"content": "both. ✓"}),
    openai_chunk(tool_delta(0, "", "call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather")),
    openai_chunk(tool_delta(0, '{"loc')),
    openai_chunk(tool_delta(0, 'ation": "Paris"}')),
    openai_chunk(tool_delta(1, "", "call_SN6lJxJ7nJYvNbgJxFvWn7Yt", "get_time")),
    openai_chunk(tool_delta(1, '{"tz": ')),
    openai_chunk(tool_delta(1, '"CET"}')),
    openai_chunk({}, "tool_calls"),
    openai_chunk(choices=[], usage=OPENAI_USAGE),
    DONE,
])


def anthropic_events(data: bytes) -> list[dict]:
    """The events of a translated stream, checked: SSE names match types, blocks are numbered 0, 1, 2…
    in order, one open at a time, and deltas go to the open block."""
    received = events(data)
    assert all(name == payload["type"] for name, payload in received)
    payloads = [payload for _, payload in received]
    open_index, next_index = None, 0
    for payload in payloads:
        if payload["type"] == "content_block_start":
            assert open_index is None and payload["index"] == next_index
            open_index, next_index = next_index, next_index + 1
        elif payload["type"] in ("content_block_delta", "content_block_stop"):
            assert payload["index"] == open_index
            if payload["type"] == "content_block_stop":
                open_index = None
    assert open_index is None
    return payloads


def anthropic_accumulate(payloads: list[dict]):
    """The final message the Anthropic SDK builds from a translated stream."""
    assert [payload["type"] for payload in payloads].count("message_start") == 1
    assert payloads[-1]["type"] == "message_stop"
    snapshot, json_buffers = None, {}
    for payload in payloads:
        snapshot = accumulate_event(event=payload, current_snapshot=snapshot, json_bufs=json_buffers)
    return snapshot


def blocks(message) -> list[dict]:
    return [block.model_dump(include={"type", "text", "id", "name", "input"}) for block in message.content]


@pytest.mark.parametrize("size", SPLITS)
def test_openai_stream_accumulated_by_the_anthropic_sdk(size):
    translator = OpenAIToAnthropicStream("mistral", "openai:gpt-4o", input_tokens_estimate=1234)
    out = run(translator, OPENAI_TOOL_STREAM, size)
    assert out == run(OpenAIToAnthropicStream("mistral", "openai:gpt-4o", 1234), OPENAI_TOOL_STREAM)
    payloads = anthropic_events(out)
    assert [(payload["type"], payload.get("index")) for payload in payloads] == [
        ("message_start", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2), ("content_block_delta", 2),  # the second call comes whole, at the end
        ("content_block_stop", 2),
        ("message_delta", None), ("message_stop", None)]
    assert payloads[0] == {"type": "message_start", "message": {
        "id": "msg_B9MHDbslfkBeAs8l4bebGdFOJ6PeG", "type": "message", "role": "assistant", "model": "openai:gpt-4o",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 1234, "output_tokens": 0}}}
    message = anthropic_accumulate(payloads)
    assert blocks(message) == [
        {"type": "text", "text": "Checking both. ✓"},
        {"type": "tool_use", "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA", "name": "get_weather",
         "input": {"location": "Paris"}},
        {"type": "tool_use", "id": "call_SN6lJxJ7nJYvNbgJxFvWn7Yt", "name": "get_time", "input": {"tz": "CET"}}]
    assert message.stop_reason == "tool_use" and message.stop_sequence is None
    assert (message.usage.input_tokens, message.usage.output_tokens, message.usage.cache_read_input_tokens) == (
        86, 300, 1920)
    assert translator.usage == (2006, 300)


def openai_reasoning_stream(field: str) -> bytes:
    """A stream as DeepSeek sends it (`reasoning_content`; its other field null), or OpenRouter (`reasoning`)."""
    return b"".join([
        openai_chunk({"role": "assistant", "content": None, field: ""}),
        openai_chunk({"content": None, field: "The user wants "}),
        openai_chunk({"content": None, field: "the weather."}),
        openai_chunk({"content": "Checking.", field: None}),
        openai_chunk(tool_delta(0, "", "call_1", "get_weather")),
        openai_chunk(tool_delta(0, '{"location": "Paris"}')),
        openai_chunk({"content": "", field: None}, "tool_calls"),
        openai_chunk(choices=[], usage={"prompt_tokens": 20, "completion_tokens": 90, "total_tokens": 110,
                                        "completion_tokens_details": {"reasoning_tokens": 80}}),
        DONE,
    ])


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("size", SPLITS)
def test_openai_reasoning_streams_as_a_thinking_block_first(field, size):
    translator = OpenAIToAnthropicStream("mistral", "deepseek-reasoner", 7)
    payloads = anthropic_events(run(translator, openai_reasoning_stream(field), size))
    assert [(payload["type"], payload.get("index")) for payload in payloads] == [
        ("message_start", None),
        ("content_block_start", 0), ("content_block_delta", 0), ("content_block_delta", 0),
        ("content_block_delta", 0), ("content_block_stop", 0),
        ("content_block_start", 1), ("content_block_delta", 1), ("content_block_stop", 1),
        ("content_block_start", 2), ("content_block_delta", 2), ("content_block_stop", 2),
        ("message_delta", None), ("message_stop", None)]
    assert payloads[1]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert [payload["delta"] for payload in payloads[2:5]] == [
        {"type": "thinking_delta", "thinking": "The user wants "}, {"type": "thinking_delta", "thinking": "the weather."},
        {"type": "signature_delta", "signature": ""}]
    message = anthropic_accumulate(payloads)
    assert [block.model_dump(exclude_none=True) for block in message.content] == [
        {"type": "thinking", "thinking": "The user wants the weather.", "signature": ""},
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"location": "Paris"}}]
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens == 90  # reasoning tokens are within completion_tokens, counted once
    assert translator.usage == (20, 90)


@pytest.mark.parametrize("chunks, expected_blocks", [
    pytest.param([{"reasoning_content": "Hm"}, {"reasoning_content": "m."}],
                 [{"type": "thinking", "thinking": "Hmm.", "signature": ""}], id="only reasoning"),
    pytest.param([{"reasoning_content": "Same.", "reasoning": "Same."}, {"content": "Hi"}],
                 [{"type": "thinking", "thinking": "Same.", "signature": ""}, {"type": "text", "text": "Hi"}],
                 id="both fields in one delta: said once"),
    pytest.param([{"content": "Hi. "}, {"reasoning": "And now?"}, {"content": "Bye."}],
                 [{"type": "text", "text": "Hi. "}, {"type": "thinking", "thinking": "And now?", "signature": ""},
                  {"type": "text", "text": "Bye."}], id="reasoning after text: in order of appearance"),
    pytest.param([{"reasoning": "First."}, tool_delta(0, '{"a": 1}', "call_1", "f"), {"reasoning": "Then."},
                  {"content": "Done."}],
                 [{"type": "thinking", "thinking": "First.", "signature": ""},
                  {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
                  {"type": "thinking", "thinking": "Then.", "signature": ""}, {"type": "text", "text": "Done."}],
                 id="reasoning after a tool call: held to the end, in order"),
    pytest.param([{"reasoning": {"effort": "low"}, "content": "Hi"}], [{"type": "text", "text": "Hi"}],
                 id="reasoning that is not a string is ignored"),
])
def test_openai_reasoning_block_order(chunks, expected_blocks):
    stream = b"".join([openai_chunk({"role": "assistant"}), *(openai_chunk(delta) for delta in chunks),
                       openai_chunk({}, "stop"), DONE])
    payloads = anthropic_events(run(OpenAIToAnthropicStream("mistral", "gpt"), stream))
    message = anthropic_accumulate(payloads)
    assert [block.model_dump(exclude_none=True) for block in message.content] == expected_blocks
    stops = [payload["index"] for payload in payloads if payload["type"] == "content_block_stop"]
    signed = [payload["index"] for payload in payloads if payload.get("delta", {}).get("type") == "signature_delta"]
    assert signed == [index for index, block in zip(stops, expected_blocks) if block["type"] == "thinking"]


def test_openai_reasoning_without_usage_is_counted_in_the_estimate():
    translator = OpenAIToAnthropicStream("mistral", "gpt", input_tokens_estimate=5)
    stream = b"".join([openai_chunk({"reasoning_content": "Hmm, "}), openai_chunk({"reasoning_content": "a greeting."}),
                       openai_chunk({"content": "Hello!"}), openai_chunk({}, "stop"), DONE])
    message = anthropic_accumulate(anthropic_events(run(translator, stream)))
    assert (message.usage.input_tokens, message.usage.output_tokens) == (5, 6)  # 22 characters, 4 a token


def test_openai_stream_plain_text_exact_events():
    out = run(OpenAIToAnthropicStream("mistral", "gpt", 10), b"".join([
        openai_chunk({"role": "assistant", "content": ""}), openai_chunk({"content": "Hi"}),
        openai_chunk({}, "stop"), DONE]))
    assert out == (
        b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_B9MHDbslfkBeAs8l4bebGdFOJ6PeG",'
        b'"type":"message","role":"assistant","model":"gpt","content":[],"stop_reason":null,"stop_sequence":null,'
        b'"usage":{"input_tokens":10,"output_tokens":0}}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
        b'"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
        b'"delta":{"type":"text_delta","text":"Hi"}}\n\n'
        b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn",'
        b'"stop_sequence":null},"usage":{"output_tokens":1}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n')


@pytest.mark.parametrize("chunks, expected_blocks, stop_reason", [
    pytest.param([tool_delta(0, '{"a": 1}', "call_1", "f"), {"content": "Done."}],
                 [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
                  {"type": "text", "text": "Done."}], "tool_use", id="tool call first, then text"),
    pytest.param([tool_delta(0, "", "call_1", "f"), tool_delta(1, "", "call_2", "g"), tool_delta(0, '{"a":'),
                  tool_delta(1, '{"b":'), tool_delta(0, " 1}"), {"content": "and "}, tool_delta(1, " 2}"),
                  {"content": "text"}],
                 [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
                  {"type": "tool_use", "id": "call_2", "name": "g", "input": {"b": 2}},
                  {"type": "text", "text": "and text"}], "tool_use",
                 id="interleaved tool calls and text, in order of appearance"),
    pytest.param([tool_delta(0, '{"a": 1}', "call_1", "f"), tool_delta(0, '{"b": 2}', "call_2", "g")],
                 [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1}},
                  {"type": "tool_use", "id": "call_2", "name": "g", "input": {"b": 2}}], "tool_use",
                 id="calls all numbered 0, told apart by id"),
    pytest.param([{"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                   "function": {"name": "f", "arguments": "{}"}},
                                  {"index": 1, "id": "call_2", "type": "function",
                                   "function": {"name": "g", "arguments": "{}"}}]}],
                 [{"type": "tool_use", "id": "call_1", "name": "f", "input": {}},
                  {"type": "tool_use", "id": "call_2", "name": "g", "input": {}}], "tool_use",
                 id="whole calls in one chunk"),
    pytest.param([tool_delta(0, "", "call_1", "now")],
                 [{"type": "tool_use", "id": "call_1", "name": "now", "input": {}}], "tool_use",
                 id="call without arguments"),
    pytest.param([{"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Hmm."}]}]},
                  {"content": [{"type": "text", "text": "Hel"}]}, {"content": [{"type": "text", "text": "lo"}]}],
                 [{"type": "text", "text": "Hello"}], "end_turn", id="content parts (Mistral): texts joined"),
    pytest.param([{"refusal": "I can't "}, {"refusal": "help."}],
                 [{"type": "text", "text": "I can't help."}], "end_turn", id="refusal as text"),
    pytest.param([], [], "end_turn", id="no content"),
])
def test_openai_stream_block_order(chunks, expected_blocks, stop_reason):
    stream = b"".join([openai_chunk({"role": "assistant"}), *(openai_chunk(delta) for delta in chunks),
                       openai_chunk({}, "stop"), DONE])
    message = anthropic_accumulate(anthropic_events(run(OpenAIToAnthropicStream("mistral", "gpt"), stream)))
    assert blocks(message) == expected_blocks
    assert message.stop_reason == stop_reason


@pytest.mark.parametrize("finish_reason, stop_reason", [
    ("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"), ("tool_calls", "tool_use"),
])
def test_openai_stream_stop_reasons(finish_reason, stop_reason):
    stream = openai_chunk({"content": "x"}) + openai_chunk({}, finish_reason) + DONE
    assert anthropic_accumulate(anthropic_events(run(OpenAIToAnthropicStream("mistral", "gpt"), stream))).stop_reason == \
        stop_reason


def test_openai_stream_without_usage_estimates():
    translator = OpenAIToAnthropicStream("mistral", "gpt", input_tokens_estimate=77)
    stream = b"".join([openai_chunk({"content": "Let "}), openai_chunk({"content": "me."}),
                       openai_chunk(tool_delta(0, '{"x":', "call_1", "f")), openai_chunk(tool_delta(0, "12}")),
                       openai_chunk({}, "tool_calls"), DONE])
    message = anthropic_accumulate(anthropic_events(run(translator, stream)))
    assert (message.usage.input_tokens, message.usage.output_tokens) == (77, 4)  # 15 characters, 4 a token
    assert translator.estimated_usage == (77, 4)
    assert translator.usage == (None, None)


def test_openai_usage_in_the_last_choice_chunk():
    stream = openai_chunk({"content": "x"}) + openai_chunk(
        {}, "stop", usage={"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10}) + DONE
    translator = OpenAIToAnthropicStream("mistral", "gpt", 100)
    message = anthropic_accumulate(anthropic_events(run(translator, stream)))
    assert (message.usage.input_tokens, message.usage.output_tokens) == (9, 1)
    assert translator.usage == (9, 1)


def test_openai_other_choices_ignored():
    stream = openai_chunk(choices=[{"index": 1, "delta": {"content": "other"}, "finish_reason": None},
                                   {"index": 0, "delta": {"content": "mine"}, "finish_reason": None}]) + \
        openai_chunk({}, "stop") + DONE
    message = anthropic_accumulate(anthropic_events(run(OpenAIToAnthropicStream("mistral", "gpt"), stream)))
    assert blocks(message) == [{"type": "text", "text": "mine"}]


def test_openai_done_without_chunks():
    payloads = anthropic_events(run(OpenAIToAnthropicStream("mistral", "gpt", 5), DONE))
    assert [payload["type"] for payload in payloads] == ["message_start", "message_delta", "message_stop"]
    assert payloads[0]["message"]["id"].startswith("msg_")
    assert anthropic_accumulate(payloads).content == []


OPENAI_ERROR_FRAME = b'data: {"error":{"message":"The server had an error while processing your request.",' \
                     b'"type":"server_error","param":null,"code":null}}\n\n'
ANTHROPIC_API_ERROR = ("error", {"type": "error", "error": {
    "type": "api_error", "message": "The server had an error while processing your request. (provider 'mistral')"}})


@pytest.mark.parametrize("size", SPLITS)
def test_openai_error_mid_stream(size):
    translator = OpenAIToAnthropicStream("mistral", "gpt")
    stream = openai_chunk({"content": "Hel"}) + OPENAI_ERROR_FRAME + openai_chunk({"content": "lo"}) + DONE
    received = events(run(translator, stream, size))
    assert [name for name, _ in received] == ["message_start", "content_block_start", "content_block_delta", "error"]
    assert received[-1] == ANTHROPIC_API_ERROR
    assert translator.feed(DONE) == b"" and translator.close() == b""


def test_openai_error_first_gives_only_the_error():
    assert events(run(OpenAIToAnthropicStream("mistral", "gpt"), OPENAI_ERROR_FRAME)) == [ANTHROPIC_API_ERROR]


def test_openai_error_as_a_string():
    assert events(run(OpenAIToAnthropicStream("mistral", "gpt"), b'data: {"error": "model crashed"}\n\n')) == [
        ("error", {"type": "error", "error": {"type": "api_error", "message": "model crashed (provider 'mistral')"}})]


ENDED_EARLY = ("error", {"type": "error", "error": {"type": "api_error",
                                                    "message": "provider 'mistral' ended its stream early."}})


@pytest.mark.parametrize("stream", [
    pytest.param(b"", id="nothing"),
    pytest.param(openai_chunk({"content": "Hel"}), id="mid-answer"),
    pytest.param(openai_chunk(tool_delta(0, '{"a"', "call_1", "f")), id="mid-tool-call"),
])
def test_openai_early_eof(stream):
    translator = OpenAIToAnthropicStream("mistral", "gpt")
    translator.feed(stream)
    assert events(translator.close()) == [ENDED_EARLY]
    assert translator.close() == b""


def test_openai_eof_after_finish_reason_ends_normally():
    translator = OpenAIToAnthropicStream("mistral", "gpt")
    head = translator.feed(openai_chunk({"content": "Hi"}) + openai_chunk({}, "stop"))
    payloads = anthropic_events(head + translator.close())
    assert anthropic_accumulate(payloads).content[0].text == "Hi"
    assert translator.close() == b""


@pytest.mark.parametrize("status, error_type", [(502, "api_error"), (529, "overloaded_error"),
                                                (429, "rate_limit_error")])
def test_openai_stream_error_method(status, error_type):
    translator = OpenAIToAnthropicStream("mistral", "gpt")
    translator.feed(openai_chunk({"content": "Hi"}))
    assert events(translator.error("upstream timed out", status)) == [
        ("error", {"type": "error", "error": {"type": error_type, "message": "upstream timed out"}})]
    assert translator.close() == b"" and translator.error("again") == b""


def test_openai_invalid_event():
    translator = OpenAIToAnthropicStream("mistral", "gpt")
    received = events(translator.feed(b"data: [1, 2]\n\n"))
    assert received[0][0] == "error"
    assert received[0][1]["error"]["message"].startswith(
        "provider 'mistral' sent an event that is not a JSON object")


# --- Whole answers to a client that asked for a stream ---------------------------------------------

THINKING = {"type": "thinking", "thinking": [{"type": "text", "text": "Hmm."}]}


def whole_completion(message: dict, usage: dict | None = OPENAI_USAGE) -> dict:
    return {"id": CHUNK_ID, "object": "chat.completion", "created": 1741570283, "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "refusal": None, **message}, "logprobs": None,
                         "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
            "usage": usage}


@pytest.mark.parametrize("completion", [
    pytest.param(whole_completion({"content": "Checking both. ✓", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}},
        {"type": "function", "function": {"name": "get_time", "arguments": "{oops"}}]}), id="text and tool calls"),
    pytest.param(whole_completion({"content": [THINKING, {"type": "text", "text": "Hi"}]}, usage=None),
                 id="content parts, no usage"),
    pytest.param(whole_completion({"content": None, "refusal": "I can't help with that."}), id="refusal"),
    pytest.param(whole_completion({"content": "4", "reasoning_content": "2 + 2 is 4."}), id="reasoning_content"),
    pytest.param(whole_completion({"content": None, "reasoning": "Paris, then.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}}]},
        usage=None), id="reasoning and a tool call, no usage"),
])
def test_a_whole_openai_answer_streams_as_it_translates(completion):
    """The stream made of a whole answer gives the Anthropic SDK the message its whole translation gives."""
    translator = OpenAIToAnthropicStream("mistral", "gpt", input_tokens_estimate=7)
    streamed = anthropic_accumulate(anthropic_events(run(translator, as_upstream_stream(completion, "openai"))))
    whole = openai_to_anthropic_response(completion, "gpt", input_estimate=7)
    blocks = [block.model_dump(exclude_none=True) for block in streamed.content]
    for block, expected in zip(blocks, whole["content"]):
        if expected.get("id", "").startswith("toolu_"):  # each made one up for the call that had none
            assert block["id"].startswith("toolu_")
            block["id"] = expected["id"]
    assert blocks == whole["content"]
    assert (streamed.id, streamed.stop_reason, streamed.stop_sequence) == (
        whole["id"], whole["stop_reason"], None)
    assert streamed.usage.input_tokens == whole["usage"]["input_tokens"]
    if completion["usage"]:
        assert streamed.usage.output_tokens == whole["usage"]["output_tokens"]
        assert translator.usage == (2006, 300)


def whole_message(content: list[dict], stop_reason: str) -> dict:
    return {**MESSAGE_START["message"], "content": content, "stop_reason": stop_reason,
            "usage": {**MESSAGE_START["message"]["usage"], "output_tokens": 89}}


@pytest.mark.parametrize("message", [
    pytest.param(whole_message([
        {"type": "thinking", "thinking": "The user wants the weather.", "signature": "EqQBCgIYAhIM1gbcDa9GJ"},
        {"type": "text", "text": "Okay, let me check. ✓"},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"location": "Paris"}},
        {"type": "tool_use", "id": "toolu_02", "name": "get_time", "input": {}}], "tool_use"),
        id="thinking, text and tool calls"),
    pytest.param(whole_message([{"type": "text", "text": "Hi"}], "stop_sequence"), id="text"),
    pytest.param(whole_message([], "end_turn"), id="empty"),
])
def test_a_whole_anthropic_answer_streams_as_it_translates(message):
    """The stream made of a whole answer gives the OpenAI SDK the completion its whole translation gives."""
    translator = AnthropicToOpenAIStream("anthropic", "claude", include_usage=True)
    streamed = openai_accumulate(run(translator, as_upstream_stream(message, "anthropic")))
    whole = anthropic_to_openai_response(message, "claude")
    choice, expected = streamed.choices[0], whole["choices"][0]
    assert (choice.message.content or "", choice.finish_reason) == (
        expected["message"]["content"] or "", expected["finish_reason"])
    assert [call.model_dump(include={"id", "type", "function"}) for call in choice.message.tool_calls or ()] == [
        {**call, "function": {**call["function"], "parsed_arguments": None}}
        for call in expected["message"].get("tool_calls", ())]
    assert streamed.id == whole["id"] and streamed.usage.model_dump(exclude_none=True) == whole["usage"]
    assert translator.usage == (2520, 89)


@pytest.mark.parametrize("message", [
    pytest.param(whole_message([
        {"type": "thinking", "thinking": "The user wants the weather.", "signature": "EqQBCgIYAhIM1gbcDa9GJ"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"},
        {"type": "text", "text": "Okay, let me check. ✓"},
        {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"location": "Paris"}},
        {"type": "thinking", "thinking": "And the time.", "signature": "EqQBCgIYAhIM"}], "tool_use"),
        id="thinking blocks, redacted thinking, text and a tool call"),
    pytest.param(whole_message([{"type": "thinking", "thinking": "", "signature": "EqQB"},
                                {"type": "text", "text": "Hi"}], "end_turn"), id="empty thinking"),
])
def test_a_whole_anthropic_answer_with_thinking_streams_its_reasoning(message):
    """The thinking of a whole answer streamed to an OpenAI client is the `reasoning_content` of its whole translation."""
    streamed = openai_accumulate(run(AnthropicToOpenAIStream("anthropic", "claude", include_usage=True),
                                     as_upstream_stream(message, "anthropic"))).choices[0].message
    whole = anthropic_to_openai_response(message, "claude")["choices"][0]["message"]
    assert getattr(streamed, "reasoning_content", None) == whole.get("reasoning_content")
    assert streamed.content == whole["content"]
