"""Non-streaming answers, stop reasons, usage and error bodies between the two dialects."""

from __future__ import annotations

import time

import anthropic.types
import openai.types.chat
import orjson
import pytest

from api.wire.errors import ApiError
from api.translate import UntranslatableAnswer
from api.translate.answers import (FINISH_REASONS, STOP_REASONS, anthropic_to_openai_response,
                                     openai_to_anthropic_response, read_answer, upstream_error)

ANTHROPIC_USAGE = {"input_tokens": 25, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 1000,
                   "output_tokens": 42}


def anthropic_message(content: list[dict], stop_reason: str = "end_turn", usage: dict = ANTHROPIC_USAGE) -> dict:
    return {"id": "msg_01XFDUDYJgAACzvnptvVoYEL", "type": "message", "role": "assistant",
            "model": "claude-sonnet-4-5-20250929", "content": content, "stop_reason": stop_reason,
            "stop_sequence": None, "usage": usage}


def openai_completion(message: dict, finish_reason: str = "stop", usage: dict | None = None) -> dict:
    return {"id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT", "object": "chat.completion", "created": 1741569952,
            "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"role": "assistant", "refusal": None, "annotations": [], **message},
                         "logprobs": None, "finish_reason": finish_reason}],
            "usage": usage or {"prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
                               "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                               "completion_tokens_details": {"reasoning_tokens": 0}}}


# --- Stop and finish reasons -----------------------------------------------------------------------

@pytest.mark.parametrize("stop_reason, finish_reason", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("tool_use", "tool_calls"),
    ("refusal", "content_filter"), ("pause_turn", "stop"), ("model_context_window_exceeded", "length"),
    ("something_new", "stop"), (None, "stop"),
])
def test_finish_reason(stop_reason, finish_reason):
    assert FINISH_REASONS.get(stop_reason, "stop") == finish_reason
    completion = anthropic_to_openai_response(anthropic_message([], stop_reason), "claude")
    assert completion["choices"][0]["finish_reason"] == finish_reason


@pytest.mark.parametrize("finish_reason, stop_reason", [
    ("stop", "end_turn"), ("length", "max_tokens"), ("tool_calls", "tool_use"), ("function_call", "tool_use"),
    ("content_filter", "refusal"), (None, "end_turn"), ("something_new", "end_turn"),
])
def test_stop_reason(finish_reason, stop_reason):
    assert STOP_REASONS.get(finish_reason, "end_turn") == stop_reason
    message = openai_to_anthropic_response(openai_completion({"content": "x"}, finish_reason), "gpt")
    assert message["stop_reason"] == stop_reason


def test_every_anthropic_stop_reason_has_a_finish_reason():
    from typing import get_args
    assert set(get_args(anthropic.types.StopReason)) <= set(FINISH_REASONS)


# --- Anthropic message → chat.completion -----------------------------------------------------------

@pytest.mark.parametrize("content, stop_reason, message, finish_reason", [
    pytest.param([{"type": "text", "text": "Hello!"}], "end_turn",
                 {"role": "assistant", "content": "Hello!", "refusal": None}, "stop", id="text"),
    pytest.param([{"type": "thinking", "thinking": "Hmm", "signature": "sig"},
                  {"type": "text", "text": "The answer is "}, {"type": "text", "text": "4."}], "end_turn",
                 {"role": "assistant", "content": "The answer is 4.", "reasoning_content": "Hmm", "refusal": None},
                 "stop", id="texts joined, thinking as reasoning_content"),
    pytest.param([{"type": "thinking", "thinking": "First, the weather.", "signature": "sig1"},
                  {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"},
                  {"type": "thinking", "thinking": "", "signature": "sig2"},
                  {"type": "tool_use", "id": "toolu_01", "name": "now", "input": {}},
                  {"type": "thinking", "thinking": "Then the time.", "signature": "sig3"}], "tool_use",
                 {"role": "assistant", "content": None, "tool_calls": [
                     {"id": "toolu_01", "type": "function", "function": {"name": "now", "arguments": "{}"}}],
                  "reasoning_content": "First, the weather.\n\nThen the time.", "refusal": None},
                 "tool_calls", id="thinking blocks joined, redacted thinking and signatures dropped"),
    pytest.param([{"type": "text", "text": "Checking."},
                  {"type": "tool_use", "id": "toolu_01", "name": "get_weather", "input": {"city": "Paris"}},
                  {"type": "tool_use", "id": "toolu_02", "name": "now", "input": {}}], "tool_use",
                 {"role": "assistant", "content": "Checking.", "refusal": None, "tool_calls": [
                     {"id": "toolu_01", "type": "function",
                      "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
                     {"id": "toolu_02", "type": "function", "function": {"name": "now", "arguments": "{}"}}]},
                 "tool_calls", id="text and tool calls"),
    pytest.param([{"type": "tool_use", "id": "toolu_01", "name": "now", "input": {}}], "tool_use",
                 {"role": "assistant", "content": None, "refusal": None, "tool_calls": [
                     {"id": "toolu_01", "type": "function", "function": {"name": "now", "arguments": "{}"}}]},
                 "tool_calls", id="only a tool call: content null"),
    pytest.param([], "max_tokens", {"role": "assistant", "content": "", "refusal": None}, "length",
                 id="empty content"),
])
def test_anthropic_to_openai_response(content, stop_reason, message, finish_reason):
    before = int(time.time())
    completion = anthropic_to_openai_response(anthropic_message(content, stop_reason), "anthropic:claude")
    assert before <= completion.pop("created") <= time.time()
    assert completion == {
        "id": "chatcmpl-msg_01XFDUDYJgAACzvnptvVoYEL", "object": "chat.completion", "model": "anthropic:claude",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": 1125, "completion_tokens": 42, "total_tokens": 1167,
                  "prompt_tokens_details": {"cached_tokens": 1000}},
    }
    openai.types.chat.ChatCompletion.model_validate({**completion, "created": before})


def test_reasoning_content_is_read_through_the_openai_sdk():
    """The OpenAI SDK keeps a field it does not declare: clients read `message.reasoning_content`."""
    completion = anthropic_to_openai_response(anthropic_message([
        {"type": "thinking", "thinking": "2 + 2 is 4.", "signature": "EqQBCgIYAhIM"},
        {"type": "text", "text": "4"}]), "claude")
    message = openai.types.chat.ChatCompletion.model_validate(completion).choices[0].message
    assert message.reasoning_content == "2 + 2 is 4." and message.content == "4"
    assert message.model_extra == {"reasoning_content": "2 + 2 is 4."}


@pytest.mark.parametrize("usage, expected", [
    pytest.param({"input_tokens": 10, "output_tokens": 5},
                 {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                  "prompt_tokens_details": {"cached_tokens": 0}}, id="no cache fields"),
    pytest.param({"input_tokens": 10, "cache_creation_input_tokens": None, "cache_read_input_tokens": None,
                  "output_tokens": 5},
                 {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                  "prompt_tokens_details": {"cached_tokens": 0}}, id="null cache fields"),
    pytest.param({"input_tokens": 3, "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 0,
                  "output_tokens": 1},
                 {"prompt_tokens": 2003, "completion_tokens": 1, "total_tokens": 2004,
                  "prompt_tokens_details": {"cached_tokens": 0}}, id="cache write counts as prompt"),
])
def test_anthropic_usage_to_openai(usage, expected):
    assert anthropic_to_openai_response(anthropic_message([], usage=usage), "m")["usage"] == expected


# --- chat.completion → Anthropic message -----------------------------------------------------------

@pytest.mark.parametrize("reply, finish_reason, content, stop_reason", [
    pytest.param({"content": "Hello!"}, "stop", [{"type": "text", "text": "Hello!"}], "end_turn", id="text"),
    pytest.param({"content": "Checking.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": ""}}]}, "tool_calls",
                 [{"type": "text", "text": "Checking."},
                  {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                  {"type": "tool_use", "id": "call_2", "name": "now", "input": {}}], "tool_use",
                 id="text and tool calls"),
    pytest.param({"content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}, "stop",
                 [{"type": "tool_use", "id": "call_1", "name": "f", "input": {"_raw_arguments": "{oops"}}],
                 "tool_use", id="tool calls with finish_reason stop, bad arguments kept"),
    pytest.param({"content": None, "refusal": "I can't help with that."}, "stop",
                 [{"type": "text", "text": "I can't help with that."}], "end_turn", id="refusal as text"),
    pytest.param({"content": ""}, "length", [], "max_tokens", id="empty content"),
    pytest.param({"content": [{"type": "thinking", "thinking": [{"type": "text", "text": "Hmm."}]},
                              {"type": "text", "text": "Hello"}, {"type": "text", "text": "!"}]}, "stop",
                 [{"type": "text", "text": "Hello!"}], "end_turn", id="content parts (Mistral): texts joined"),
    pytest.param({"content": "Hello!", "reasoning_content": "A greeting."}, "stop",
                 [{"type": "thinking", "thinking": "A greeting.", "signature": ""}, {"type": "text", "text": "Hello!"}],
                 "end_turn", id="reasoning_content (DeepSeek, llama.cpp): a thinking block first"),
    pytest.param({"content": "Hello!", "reasoning": "A greeting."}, "stop",
                 [{"type": "thinking", "thinking": "A greeting.", "signature": ""}, {"type": "text", "text": "Hello!"}],
                 "end_turn", id="reasoning (OpenRouter, Ollama, vLLM)"),
    pytest.param({"content": "Hi", "reasoning_content": "Said once.", "reasoning": "Said once."}, "stop",
                 [{"type": "thinking", "thinking": "Said once.", "signature": ""}, {"type": "text", "text": "Hi"}],
                 "end_turn", id="both fields: one thinking block"),
    pytest.param({"content": None, "reasoning_content": "Paris, then.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}]},
                 "tool_calls",
                 [{"type": "thinking", "thinking": "Paris, then.", "signature": ""},
                  {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}], "tool_use",
                 id="reasoning before a tool call"),
    pytest.param({"content": "Hi", "reasoning_content": None, "reasoning": ""}, "stop",
                 [{"type": "text", "text": "Hi"}], "end_turn", id="null and empty reasoning: no thinking block"),
    pytest.param({"content": "Hi", "reasoning": {"effort": "low"}}, "stop",
                 [{"type": "text", "text": "Hi"}], "end_turn", id="reasoning that is not a string is ignored"),
])
def test_openai_to_anthropic_response(reply, finish_reason, content, stop_reason):
    message = openai_to_anthropic_response(openai_completion(reply, finish_reason), "openai:gpt-4o")
    assert message == {
        "id": "msg_B9MBs8CjcvOU2jLn4n570S5qMJKcT", "type": "message", "role": "assistant",
        "model": "openai:gpt-4o", "content": content, "stop_reason": stop_reason, "stop_sequence": None,
        "usage": {"input_tokens": 19, "output_tokens": 10, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0},
    }
    anthropic.types.Message.model_validate(message)


def test_tool_calls_without_an_id_get_one():
    """Some OpenAI-compatible servers send tool calls without an `id`; Anthropic clients need one to answer."""
    calls = [{"type": "function", "function": {"name": "now", "arguments": "{}"}},
             {"id": None, "type": "function", "function": {"name": "today", "arguments": "{}"}}]
    content = openai_to_anthropic_response(openai_completion({"content": None, "tool_calls": calls}), "m")["content"]
    ids = [block["id"] for block in content]
    assert all(block_id.startswith("toolu_") and len(block_id) == 30 for block_id in ids) and ids[0] != ids[1]


@pytest.mark.parametrize("usage, expected", [
    pytest.param({"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                  "prompt_tokens_details": {"cached_tokens": 1920}},
                 {"input_tokens": 86, "output_tokens": 300, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 1920}, id="cached tokens apart"),
    pytest.param({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
                 {"input_tokens": 5, "output_tokens": 7, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0}, id="no details"),
    pytest.param({"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12, "prompt_tokens_details": None},
                 {"input_tokens": 5, "output_tokens": 7, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0}, id="null details"),
    pytest.param({"prompt_tokens": 12, "completion_tokens": 500, "total_tokens": 512,
                  "completion_tokens_details": {"reasoning_tokens": 450}},
                 {"input_tokens": 12, "output_tokens": 500, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0}, id="reasoning tokens are counted once, within completion_tokens"),
])
def test_openai_usage_to_anthropic(usage, expected):
    assert openai_to_anthropic_response(openai_completion({"content": "x"}, usage=usage), "m")["usage"] == expected


def test_openai_completion_without_usage_is_estimated():
    """The request's estimate in, one token per 4 bytes of the content's JSON out (not 0 and 0)."""
    completion = openai_completion({"content": "a sunny day at the sea"})
    del completion["usage"]
    # [{"type":"text","text":"a sunny day at the sea"}] is 49 bytes: 13 tokens
    assert openai_to_anthropic_response(completion, "m", input_estimate=17)["usage"] == {
        "input_tokens": 17, "output_tokens": 13, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}


def test_openai_completion_with_reasoning_without_usage_counts_the_thinking():
    completion = openai_completion({"content": "Hi", "reasoning_content": "x" * 400})
    del completion["usage"]
    # [{"type":"thinking","thinking":"xx…x","signature":""},{"type":"text","text":"Hi"}] is 478 bytes: 120 tokens
    assert openai_to_anthropic_response(completion, "m")["usage"]["output_tokens"] == 120


def test_thinking_reaches_anthropic_clients_through_the_sdk_without_a_signature():
    message = anthropic.types.Message.model_validate(openai_to_anthropic_response(
        openai_completion({"content": "4", "reasoning_content": "2 + 2 is 4."}), "m"))
    thinking = message.content[0]
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert (thinking.thinking, thinking.signature) == ("2 + 2 is 4.", "")


def test_anthropic_usage_to_openai_invents_no_reasoning_tokens():
    """Anthropic's output tokens count thinking, but it does not say how many: none are reported apart."""
    completion = anthropic_to_openai_response(anthropic_message(
        [{"type": "thinking", "thinking": "Hmm", "signature": "sig"}, {"type": "text", "text": "Hi"}]), "m")
    assert completion["usage"]["completion_tokens"] == 42 and "completion_tokens_details" not in completion["usage"]


# --- Answers that cannot be translated --------------------------------------------------------------

def test_a_sound_answer_is_read_as_it_is():
    completion = openai_completion({"content": [{"type": "text", "text": "Hi"}]})
    assert read_answer(orjson.dumps(completion), "openai") == completion
    message = anthropic_message([{"type": "text", "text": "Hi"}, {"type": "thinking", "thinking": "x"}])
    assert read_answer(orjson.dumps(message), "anthropic") == message


def openai_answer(**fields) -> bytes:
    return orjson.dumps({**openai_completion({"content": "Hi"}), **fields})


def openai_reply(**fields) -> bytes:
    completion = openai_completion({"content": "Hi"})
    completion["choices"][0]["message"].update(fields)
    return orjson.dumps(completion)


@pytest.mark.parametrize("dialect, body, reason", [
    ("openai", b"<html><body>502 Bad Gateway</body></html>\n",
     "it is not JSON: <html><body>502 Bad Gateway</body></html>"),
    ("openai", b"", "it is empty"),
    ("openai", b"[1, 2]", "it is an array, not an object"),
    ("openai", openai_answer(choices=[]), "it has no 'choices[0]'"),
    ("openai", openai_answer(choices=None), "its 'choices' is null, not an array"),
    ("openai", orjson.dumps({"id": "chatcmpl-1", "object": "chat.completion"}), "it has no 'choices'"),
    ("openai", openai_answer(choices=["Hi"]), "its 'choices[0]' is a string, not an object"),
    ("openai", openai_reply(content=5),
     "its 'choices[0].message.content' is an integer, not a string, an array or null"),
    ("openai", openai_reply(content=["Hi"]), "its 'choices[0].message.content[0]' is a string, not an object"),
    ("openai", openai_reply(tool_calls=[{"id": "call_1", "type": "function"}]),
     "it has no 'choices[0].message.tool_calls[0].function'"),
    ("openai", openai_reply(tool_calls=[{"id": "call_1", "function": {"name": "f", "arguments": 1}}]),
     "its 'choices[0].message.tool_calls[0].function.arguments' is an integer, not a string, an object or null"),
    ("openai", openai_answer(usage={"prompt_tokens": "19"}),
     "its 'usage.prompt_tokens' is a string, not a number or null"),
    ("anthropic", b"{}}", "it is not JSON: {}}"),
    ("anthropic", orjson.dumps(anthropic_message(["Hi"])), "its 'content[0]' is a string, not an object"),
    ("anthropic", orjson.dumps(anthropic_message([{"type": "tool_use", "name": "f", "input": {}}])),
     "it has no 'content[0].id'"),
    ("anthropic", orjson.dumps(anthropic_message([{"type": "thinking", "signature": "sig"}])),
     "it has no 'content[0].thinking'"),
    ("anthropic", orjson.dumps(anthropic_message([], stop_reason=["end_turn"])),
     "its 'stop_reason' is an array, not a string or null"),
])
def test_an_answer_that_cannot_be_translated_says_why_plainly(dialect, body, reason):
    with pytest.raises(UntranslatableAnswer) as caught:
        read_answer(body, dialect)
    assert str(caught.value) == reason


# --- Errors ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("status, error_type", [
    (400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
    (404, "not_found_error"), (413, "request_too_large"), (429, "rate_limit_error"), (500, "api_error"),
    (529, "overloaded_error"), (502, "api_error"), (503, "api_error"), (422, "invalid_request_error"),
    (408, "invalid_request_error"),
])
def test_anthropic_error(status, error_type):
    assert ApiError(status, "Boom").body("anthropic") == {"type": "error",
                                                           "error": {"type": error_type, "message": "Boom"}}


OPENAI_ERROR = orjson.dumps({"error": {"message": "Rate limit reached for gpt-4o", "type": "requests",
                                       "param": None, "code": "rate_limit_exceeded"}})
ANTHROPIC_ERROR = orjson.dumps({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"},
                                "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"})


@pytest.mark.parametrize("status, body, expected", [
    pytest.param(429, OPENAI_ERROR, {"type": "rate_limit_error", "message": "Rate limit reached for gpt-4o"},
                 id="OpenAI error"),
    pytest.param(401, ANTHROPIC_ERROR, {"type": "authentication_error", "message": "Overloaded"},
                 id="type follows the status"),
    pytest.param(500, b'{"error": "model crashed"}', {"type": "api_error", "message": "model crashed"},
                 id="error as a string"),
    pytest.param(502, b"<html>Bad Gateway</html>\n", {"type": "api_error", "message": "<html>Bad Gateway</html>"},
                 id="not JSON"),
    pytest.param(503, b"", {"type": "api_error", "message": "upstream error (status 503)"}, id="empty body"),
    pytest.param(400, b'{"detail": "bad"}', {"type": "invalid_request_error", "message": '{"detail": "bad"}'},
                 id="JSON of another shape"),
    pytest.param(400, b"x" * 600, {"type": "invalid_request_error", "message": "x" * 500}, id="truncated"),
])
def test_upstream_errors_for_anthropic_clients(status, body, expected):
    translated = upstream_error("anthropic", status, body)
    assert translated == {"type": "error", "error": expected}
    validated = anthropic.types.ErrorResponse.model_validate({**translated, "request_id": None})
    assert validated.error.type == expected["type"]


@pytest.mark.parametrize("status, body, expected", [
    pytest.param(529, ANTHROPIC_ERROR, {"message": "Overloaded", "type": "server_error", "code": "overloaded"},
                 id="overloaded"),
    pytest.param(400, orjson.dumps({"type": "error", "error": {"type": "invalid_request_error",
                                                               "message": "max_tokens: Field required"}}),
                 {"message": "max_tokens: Field required", "type": "invalid_request_error", "code": None},
                 id="invalid request"),
    pytest.param(401, b"{}", {"message": "{}", "type": "invalid_request_error", "code": None}, id="401"),
    pytest.param(403, b"forbidden", {"message": "forbidden", "type": "permission_error", "code": None}, id="403"),
    pytest.param(404, b"nope", {"message": "nope", "type": "invalid_request_error", "code": None}, id="404"),
    pytest.param(413, b"big", {"message": "big", "type": "invalid_request_error", "code": None}, id="413"),
    pytest.param(429, OPENAI_ERROR, {"message": "Rate limit reached for gpt-4o", "type": "rate_limit_error",
                                     "code": None}, id="429"),
    pytest.param(500, "défaut".encode() * 100, {"message": "défaut" * 83 + "dé", "type": "server_error",
                                                "code": None}, id="500, truncated by characters"),
    pytest.param(503, b"", {"message": "upstream error (status 503)", "type": "server_error", "code": None},
                 id="503 empty"),
])
def test_upstream_errors_for_openai_clients(status, body, expected):
    assert upstream_error("openai", status, body) == {"error": {**expected, "param": None}}


ANTHROPIC_TOO_LONG = orjson.dumps({"type": "error", "error": {
    "type": "invalid_request_error", "message": "prompt is too long: 210000 tokens > 200000 maximum"}})
OPENAI_TOO_LONG = orjson.dumps({"error": {
    "message": "This model's maximum context length is 128000 tokens. However, your messages resulted in "
               "130000 tokens.",
    "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
LLAMA_CPP_TOO_LONG = orjson.dumps({"error": {
    "code": 400, "message": "the request exceeds the available context size, try increasing it",
    "type": "exceed_context_size_error"}})


@pytest.mark.parametrize("body", [ANTHROPIC_TOO_LONG, LLAMA_CPP_TOO_LONG])
def test_a_prompt_too_long_reaches_openai_clients_with_openais_code(body):
    """Clients that compact a conversation look for OpenAI's `context_length_exceeded`."""
    error = upstream_error("openai", 400, body)["error"]
    assert (error["code"], error["param"], error["type"]) == ("context_length_exceeded", "messages",
                                                              "invalid_request_error")


@pytest.mark.parametrize("body", [OPENAI_TOO_LONG, LLAMA_CPP_TOO_LONG])
def test_a_prompt_too_long_reaches_anthropic_clients_as_anthropic_words_it(body):
    """Claude Code and Cline look for Anthropic's "prompt is too long"."""
    error = upstream_error("anthropic", 400, body)["error"]
    assert error["type"] == "invalid_request_error" and error["message"].startswith("prompt is too long: ")
    assert upstream_error("anthropic", 400, ANTHROPIC_TOO_LONG)["error"]["message"] == \
        "prompt is too long: 210000 tokens > 200000 maximum"  # said once
