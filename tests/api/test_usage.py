"""Usage read from a whole JSON answer, small (parsed whole) and large (read at its usage)."""

from __future__ import annotations

import orjson
import pytest

from api.wire.usage import WHOLE_PARSE_LIMIT, StreamUsage, body_usage, usage_counts

FILLER = [{"object": "embedding", "index": i, "embedding": [0.125] * 64} for i in range(400)]


def answer(**fields) -> bytes:
    return orjson.dumps({"object": "list", "data": FILLER, **fields})


def test_a_large_answer_is_a_large_answer():
    assert len(answer()) > WHOLE_PARSE_LIMIT


@pytest.mark.parametrize("body", [
    answer(model="m", usage={"prompt_tokens": 7, "total_tokens": 7}),
    orjson.dumps({"usage": {"prompt_tokens": 7, "completion_tokens": 3}, "id": "x"}),
], ids=["large", "small"])
def test_openai_usage(body):
    assert usage_counts("openai", body_usage(body))[0] == 7


def test_the_top_level_usage_counts_not_the_word_in_a_text():
    text = 'the "usage": {"prompt_tokens": 999} of a word ' * 1000
    body = orjson.dumps({"id": "x", "choices": [{"message": {"content": text}}],
                         "usage": {"prompt_tokens": 5, "completion_tokens": 9,
                                   "prompt_tokens_details": {"cached_tokens": 0}}})
    assert len(body) > WHOLE_PARSE_LIMIT
    assert usage_counts("openai", body_usage(body)) == (5, 9)


def test_anthropic_usage_of_a_large_answer_adds_cached_input():
    body = orjson.dumps({"content": [{"type": "text", "text": "x" * 50_000}],
                         "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 4}})
    assert usage_counts("anthropic", body_usage(body)) == (100, 4)


@pytest.mark.parametrize("body", [answer(), answer(usage=None), answer(usage={"prompt_tokens": 7, "total_tokens": 7})[:-5], b"[" * (WHOLE_PARSE_LIMIT + 1)],
                         ids=["none", "null", "cut", "not-json"])
def test_a_large_answer_without_a_usable_usage_has_none(body):
    assert usage_counts("openai", body_usage(body)) == (None, None)


def responses_stream(*events: dict) -> bytes:
    return b"".join(b"event: %s\ndata: %s\n\n" % (event["type"].encode(), orjson.dumps(event)) for event in events)


def test_a_responses_stream_s_usage_is_in_its_last_event():
    usage = StreamUsage("openai")
    usage.feed(responses_stream({"type": "response.created", "response": {"usage": None, "error": None}},
                                {"type": "response.output_text.delta", "delta": "usage"},
                                {"type": "response.completed", "response": {"usage": {"input_tokens": 9,
                                                                                      "output_tokens": 4}}}))
    assert (usage.input_tokens, usage.output_tokens, usage.error) == (9, 4, None)


@pytest.mark.parametrize("event", [
    {"type": "error", "code": "server_error", "message": "It broke.", "param": None},
    {"type": "response.failed", "response": {"status": "failed", "error": {"code": "server_error",
                                                                           "message": "It broke."}}},
], ids=["error", "response.failed"])
def test_a_responses_stream_s_error_is_seen(event):
    usage = StreamUsage("openai")
    usage.feed(responses_stream(event))
    assert usage.error == "It broke."
