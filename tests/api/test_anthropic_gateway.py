"""The Anthropic Messages API and the translation between dialects, over real sockets with both official SDKs.

Four routes: anthropic SDK → Anthropic provider (pass-through) and → OpenAI provider (translated);
openai SDK → Anthropic provider (translated) (openai → OpenAI is in test_openai_gateway.py).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import uuid

import anthropic
import httpx
import openai
import pytest

from tests.conftest import (
    UPSTREAM_KEY,
    WRITER_KEY,
    activity_of,
    anthropic_sdk,
    gateway_config,
    openai_sdk,
    upstream_record,
)
from tests.fixtures.raw_server import raw_server, read_request
from tests.gateway import SERVER_KEY, start_gateway

WEATHER = {"name": "get_weather", "description": "Weather of a city",
           "input_schema": {"type": "object", "properties": {"location": {"type": "string"}},
                            "required": ["location"]}}
OPENAI_WEATHER = {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                                   "parameters": WEATHER["input_schema"]}}
HELLO = [{"role": "user", "content": "hello there"}]
PIXEL = base64.b64encode(b"\x89PNG\r\n\x1a\n fake image bytes").decode()

# The same conversation through each Anthropic-SDK route: (model, what the provider calls it)
ANTHROPIC_ROUTES = [pytest.param("anth:claude-fake-sonnet", id="to-anthropic"),
                    pytest.param("fake:gpt-fake", id="to-openai")]


def rid() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def claude(gateway):
    return anthropic_sdk(gateway)


@pytest.fixture
def gpt(gateway):
    return openai_sdk(gateway)


def text_of(message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


# --- anthropic SDK, both provider kinds ------------------------------------------------------

@pytest.mark.parametrize("model", ANTHROPIC_ROUTES)
def test_messages(claude, model):
    message = claude.messages.create(model=model, max_tokens=100, messages=HELLO)
    assert text_of(message) == "echo: hello there"
    assert message.stop_reason == "end_turn" and message.role == "assistant"
    assert message.usage.output_tokens == 3 and message.usage.input_tokens > 0


@pytest.mark.parametrize("model", ANTHROPIC_ROUTES)
def test_streamed_messages_assemble_and_count_usage(claude, model):
    with claude.messages.stream(model=model, max_tokens=100, messages=HELLO,
                                extra_body={"fake": {"chunks": 4}}) as stream:
        pieces = [text for text in stream.text_stream]
        final = stream.get_final_message()
    assert "".join(pieces) == "echo: hello there" and len(pieces) == 4
    assert text_of(final) == "echo: hello there" and final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4 and final.usage.input_tokens > 0  # streamed usage is not 0


@pytest.mark.parametrize("model", ANTHROPIC_ROUTES)
@pytest.mark.parametrize("streaming", [False, True], ids=["whole", "streamed"])
def test_tool_use_round_trip(claude, model, streaming):
    request = dict(model=model, max_tokens=200, tools=[WEATHER], messages=[
        {"role": "user", "content": "What is the weather in Paris?"}])
    if streaming:
        with claude.messages.stream(**request) as stream:
            first = stream.get_final_message()
    else:
        first = claude.messages.create(**request)
    assert first.stop_reason == "tool_use"
    calls = [block for block in first.content if block.type == "tool_use"]
    assert len(calls) == 1 and calls[0].name == "get_weather" and calls[0].input == {"location": "Paris"}

    answer = claude.messages.create(model=model, max_tokens=200, tools=[WEATHER], messages=[
        *request["messages"],
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": calls[0].id, "content": "sunny, 21 C"}]},
    ])
    assert text_of(answer) == "tool said: sunny, 21 C" and answer.stop_reason == "end_turn"


@pytest.mark.parametrize("streaming", [False, True], ids=["whole", "streamed"])
def test_content_given_as_parts_reaches_anthropic_clients_as_text(claude, streaming):
    """Mistral's reasoning models answer content as a list of parts, a `thinking` part first."""
    request = dict(model="fake:gpt-fake", max_tokens=100, messages=HELLO, extra_body={"fake": {"content_parts": True}})
    if streaming:
        with claude.messages.stream(**request) as stream:
            message = stream.get_final_message()
    else:
        message = claude.messages.create(**request)
    assert [(block.type, block.text) for block in message.content] == [("text", "echo: hello there")]


@pytest.mark.parametrize("streaming", [False, True], ids=["whole", "streamed"])
def test_tool_calls_without_ids_get_one(claude, streaming):
    """Some OpenAI-compatible servers send tool calls without an `id`: the Anthropic client gets one to answer."""
    request = dict(model="fake:gpt-fake", max_tokens=100, tools=[WEATHER], messages=HELLO,
                   extra_body={"fake": {"no_tool_call_ids": True}})
    if streaming:
        with claude.messages.stream(**request) as stream:
            message = stream.get_final_message()
    else:
        message = claude.messages.create(**request)
    call = message.content[0]
    assert call.type == "tool_use" and call.id.startswith("toolu_") and call.input == {"location": "Paris"}
    assert message.stop_reason == "tool_use"


NO_CHOICES = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-fake",
                         "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 0, "total_tokens": 1}})


@pytest.mark.parametrize("raw, reason", [
    pytest.param({"raw_body": NO_CHOICES}, "it has no 'choices[0]'", id="no choices"),
    pytest.param({"raw_body": "<html>oops</html>", "raw_content_type": "text/html"},
                 "it is not JSON: <html>oops</html>", id="HTML"),
    pytest.param({"raw_body": '{"choices": [{"message": {"content": 5}}]}'},
                 "its 'choices[0].message.content' is an integer, not a string, an array or null", id="mistyped"),
])
def test_answers_that_cannot_be_translated_say_why_in_plain_words(claude, raw, reason):
    with pytest.raises(anthropic.InternalServerError) as caught:
        claude.messages.create(model="fake:gpt-fake", max_tokens=10, messages=HELLO, extra_body={"fake": raw})
    assert caught.value.status_code == 502
    assert caught.value.body == {"type": "error", "error": {
        "type": "api_error", "message": f"provider 'fake' sent an answer that cannot be translated: {reason}."}}


ANSWERS_WHOLE = {"fake": {"ignore_stream": True}}
"""A provider that answers `"stream": true` with a whole JSON answer."""


@pytest.mark.parametrize("tools", [[], [WEATHER]], ids=["text", "tool call"])
def test_a_provider_answering_whole_still_streams_to_anthropic_clients(claude, http, tools):
    request_id = rid()
    with claude.messages.stream(model="fake:gpt-fake", max_tokens=100, messages=HELLO, tools=tools,
                                extra_body=ANSWERS_WHOLE, extra_headers={"X-Request-Id": request_id}) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        kinds = [event.type for event in stream if event.type.startswith(("message", "content_block"))]
        message = stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    if tools:
        assert [(block.type, block.name, block.input) for block in message.content] == [
            ("tool_use", "get_weather", {"location": "Paris"})]
        assert kinds[1:-2] == ["content_block_start", "content_block_delta", "content_block_stop"]
        assert message.stop_reason == "tool_use"
    else:
        assert text_of(message) == "echo: hello there" and message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 0 and message.usage.input_tokens > 0
    record = activity_of(http, request_id)
    assert record["stream"] and record["status"] == 200 and not record["tokens_estimated"]
    assert (record["input_tokens"], record["output_tokens"]) == (message.usage.input_tokens,
                                                                 message.usage.output_tokens)


def test_a_long_whole_answer_without_usage_is_estimated_from_its_text(claude, http):
    """A provider answering a stream request whole, and reporting no usage: the output tokens the Anthropic
    client is told, and the record keeps, are about one per 4 characters of the answer, not one per piece."""
    request_id = rid()
    question = " ".join(f"word{i}" for i in range(800))  # the fake echoes it: an answer of about 5600 characters
    with claude.messages.stream(model="fake:gpt-fake", max_tokens=4000, messages=[{"role": "user", "content": question}],
                                extra_body={"fake": {"ignore_stream": True, "no_usage": True}},
                                extra_headers={"X-Request-Id": request_id}) as stream:
        message = stream.get_final_message()
    answer = text_of(message)
    assert answer == "echo: " + question
    assert len(answer) / 6 < message.usage.output_tokens < len(answer) / 3
    record = activity_of(http, request_id)
    assert record["stream"] and record["tokens_estimated"]
    assert (record["input_tokens"], record["output_tokens"]) == (message.usage.input_tokens,
                                                                 message.usage.output_tokens)


@pytest.mark.parametrize("extra", [{}, {"tools": [WEATHER]}, {"thinking": {"type": "enabled", "budget_tokens": 1024}}],
                         ids=["text", "tool call", "thinking"])
def test_an_anthropic_provider_answering_whole_still_streams_its_message(claude, http, extra):
    """Pass-through: the SDK asking for a stream gets Anthropic's events, making the message the provider sent."""
    request_id = rid()
    request = dict(model="anth:claude-fake-sonnet", max_tokens=2000, messages=HELLO, **extra)
    with claude.messages.stream(**request, extra_body=ANSWERS_WHOLE,
                                extra_headers={"X-Request-Id": request_id}) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        kinds = [event.type for event in stream if event.type.startswith(("message", "content_block"))]
        message = stream.get_final_message()
    whole = claude.messages.create(**request)
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert [kind for kind in kinds[1:-2] if kind != "content_block_delta"] == [
        "content_block_start", "content_block_stop"] * len(whole.content)
    assert [block.model_dump(exclude={"id"}) for block in message.content] == [
        block.model_dump(exclude={"id"}) for block in whole.content]
    assert (message.stop_reason, message.usage) == (whole.stop_reason, whole.usage)
    record = activity_of(http, request_id)
    assert record["stream"] and record["status"] == 200 and record["ttfb_ms"] is not None
    assert (record["input_tokens"], record["output_tokens"], record["tokens_estimated"]) == (
        message.usage.input_tokens, message.usage.output_tokens, False)


def test_an_anthropic_provider_answering_whole_still_streams_raw_events(claude):
    events = list(claude.messages.create(model="anth:claude-fake-sonnet", max_tokens=100, messages=HELLO,
                                         stream=True, extra_body=ANSWERS_WHOLE))
    assert [event.type for event in events] == ["message_start", "content_block_start", "content_block_delta",
                                                "content_block_stop", "message_delta", "message_stop"]
    assert events[2].delta.text == "echo: hello there" and events[4].delta.stop_reason == "end_turn"


@pytest.mark.parametrize("tools", [[], [OPENAI_WEATHER]], ids=["text", "tool call"])
def test_a_provider_answering_whole_still_streams_to_openai_clients(gpt, http, tools):
    request_id = rid()
    stream = gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO, stream=True,
                                         stream_options={"include_usage": True}, extra_body=ANSWERS_WHOLE,
                                         extra_headers={"X-Request-Id": request_id}, **({"tools": tools} if tools else {}))
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    calls = [call for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or ()]
    finish = [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices and chunk.choices[0].finish_reason]
    if tools:
        assert text == "Let me check." and finish == ["tool_calls"]
        assert {call.index for call in calls} == {0} and calls[0].function.name == "get_weather"
        assert json.loads("".join(call.function.arguments for call in calls)) == {"location": "Paris"}
    else:
        assert text == "echo: hello there" and finish == ["stop"] and not calls
    usage = chunks[-1].usage
    assert chunks[-1].choices == [] and usage.completion_tokens > 0 and usage.prompt_tokens > 0
    record = activity_of(http, request_id)
    assert record["stream"] and (record["input_tokens"], record["output_tokens"]) == (usage.prompt_tokens,
                                                                                      usage.completion_tokens)


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("answer", ["whole", "streamed", "answered whole to a stream"])
def test_reasoning_reaches_anthropic_clients_as_a_thinking_block(claude, http, field, answer):
    """DeepSeek, llama.cpp (`reasoning_content`), OpenRouter, Ollama, vLLM (`reasoning`): a thinking block first."""
    request_id = rid()
    fake = {"reasoning": "An echo, then.", "reasoning_field": field, "ignore_stream": answer.startswith("answered")}
    request = dict(model="fake:gpt-fake", max_tokens=100, messages=HELLO, extra_body={"fake": fake},
                   extra_headers={"X-Request-Id": request_id})
    if answer == "whole":
        message = claude.messages.create(**request)
    else:
        with claude.messages.stream(**request) as stream:
            kinds = [event.type for event in stream if event.type in ("thinking", "signature", "text")]
            message = stream.get_final_message()
        assert kinds[-1] == "text" and kinds.index("signature") == kinds.index("text") - 1  # thinking, then text
    thinking, text = message.content
    assert isinstance(thinking, anthropic.types.ThinkingBlock)
    assert (thinking.thinking, thinking.signature, text.text) == ("An echo, then.", "", "echo: hello there")
    assert message.usage.output_tokens == 6  # the provider's completion tokens, its 3 reasoning tokens among them
    record = activity_of(http, request_id)
    assert (record["output_tokens"], record["tokens_estimated"]) == (6, False)


def test_reasoning_before_a_tool_call_and_its_thinking_block_sent_back(claude, upstream):
    """The Anthropic client sends the thinking block back with the tool result: the OpenAI-compatible provider
    gets it back as the assistant message's `reasoning_content`, as DeepSeek's reasoning models want it."""
    request = dict(model="fake:gpt-fake", max_tokens=200, tools=[WEATHER],
                   messages=[{"role": "user", "content": "What is the weather in Paris?"}],
                   extra_body={"fake": {"reasoning": "Paris: a tool will tell."}})
    with claude.messages.stream(**request) as stream:
        first = stream.get_final_message()
    assert [block.type for block in first.content] == ["thinking", "tool_use"] and first.stop_reason == "tool_use"
    assert first.content[0].thinking == "Paris: a tool will tell." and first.content[1].input == {"location": "Paris"}

    request_id = rid()
    answer = claude.messages.create(model="fake:gpt-fake", max_tokens=200, tools=[WEATHER],
                                    extra_headers={"X-Request-Id": request_id}, messages=[
        *request["messages"],
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": first.content[1].id,
                                      "content": "sunny, 21 C"}]}])
    assert text_of(answer) == "tool said: sunny, 21 C"
    assistant = upstream_record(upstream, request_id)["body"]["messages"][1]
    assert assistant == {"role": "assistant", "content": None, "reasoning_content": "Paris: a tool will tell.",
                         "tool_calls": [{"id": first.content[1].id, "type": "function",
                                         "function": {"name": "get_weather", "arguments": '{"location":"Paris"}'}}]}


def test_max_tokens_truncation_both_ways(claude):
    for model in ("anth:claude-fake-sonnet", "fake:gpt-fake"):
        message = claude.messages.create(model=model, max_tokens=2, messages=HELLO)
        assert message.stop_reason == "max_tokens", model


def test_stop_sequences(claude, upstream):
    message = claude.messages.create(model="anth:claude-fake-sonnet", max_tokens=100, messages=HELLO,
                                     stop_sequences=["there"])
    assert (message.stop_reason, message.stop_sequence, text_of(message)) == ("stop_sequence", "there", "echo: hello ")
    request_id = rid()
    claude.messages.create(model="fake:gpt-fake", max_tokens=100, messages=HELLO, stop_sequences=["there", "x"],
                           extra_headers={"X-Request-Id": request_id})
    assert upstream_record(upstream, request_id)["body"]["stop"] == ["there", "x"]


def test_images_cross_both_ways(claude, gpt, upstream, anthropic_upstream):
    request_id = rid()
    claude.messages.create(model="fake:gpt-fake", max_tokens=50, extra_headers={"X-Request-Id": request_id},
                           messages=[{"role": "user", "content": [
                               {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
                               {"type": "text", "text": "what is this?"}]}])
    parts = upstream_record(upstream, request_id)["body"]["messages"][0]["content"]
    assert {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}} in parts

    request_id = rid()
    reply = gpt.chat.completions.create(
        model="anth:claude-fake-sonnet", extra_headers={"X-Request-Id": request_id},
        messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
            {"type": "text", "text": "what is this?"}]}])
    assert reply.choices[0].message.content.startswith("echo: I see an image")
    blocks = upstream_record(anthropic_upstream, request_id)["body"]["messages"][0]["content"]
    assert blocks == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PIXEL}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
        {"type": "text", "text": "what is this?"}]


def test_count_tokens(claude):
    exact = claude.messages.count_tokens(model="anth:claude-fake-sonnet", messages=HELLO)
    assert exact.input_tokens == claude.messages.create(model="anth:claude-fake-sonnet", max_tokens=10,
                                                        messages=HELLO).usage.input_tokens
    estimate = claude.messages.count_tokens(model="fake:gpt-fake", messages=HELLO)
    assert estimate.input_tokens > 0


def test_count_tokens_gets_the_clients_prompt_but_not_its_sampling_defaults(gateway, claude):
    """The writer client has a system prompt, temperature, top_p and max_tokens: the prompt is counted,
    and the sampling fields, which Anthropic's count_tokens refuses, are left out."""
    writer = anthropic.Anthropic(base_url=gateway.base_url, api_key=WRITER_KEY, max_retries=0)
    counted = writer.messages.count_tokens(model="anth:claude-fake-sonnet", messages=HELLO)
    plain = claude.messages.count_tokens(model="anth:claude-fake-sonnet", messages=HELLO)
    with_prompt = claude.messages.count_tokens(model="anth:claude-fake-sonnet", messages=HELLO,
                                               system="You are a poet.")
    assert counted.input_tokens == with_prompt.input_tokens > plain.input_tokens


def test_opus_4_7_gets_no_sampling_parameters_from_an_openai_client_or_the_config(gateway, gpt, anthropic_upstream):
    """Opus 4.7 and later refuse `temperature`, `top_p` and `top_k` ("`temperature` is deprecated for this model."),
    which many OpenAI clients always send, and the writer client's settings would add."""
    request_id = rid()
    reply = gpt.chat.completions.create(model="anth:claude-fake-opus-4-7", messages=HELLO, temperature=0.7,
                                        top_p=0.9, extra_body={"top_k": 5}, extra_headers={"X-Request-Id": request_id})
    assert reply.choices[0].message.content == "echo: hello there"
    assert not {"temperature", "top_p", "top_k"} & set(upstream_record(anthropic_upstream, request_id)["body"])
    writer = anthropic.Anthropic(base_url=gateway.base_url, api_key=WRITER_KEY, max_retries=0)
    request_id = rid()
    message = writer.messages.create(model="anth:claude-fake-opus-4-7", max_tokens=50, messages=HELLO,
                                     extra_headers={"X-Request-Id": request_id})
    assert text_of(message) == "echo: hello there"
    sent = upstream_record(anthropic_upstream, request_id)["body"]
    assert sent["system"] == "You are a poet." and "temperature" not in sent and "top_p" not in sent
    sonnet = upstream_record(anthropic_upstream, writer.messages.create(  # an older model gets them
        model="anth:claude-fake-sonnet", max_tokens=50, messages=HELLO)._request_id)
    assert sonnet["body"]["temperature"] == 0.3


def test_provider_in_the_path(gateway):
    claude = anthropic.Anthropic(base_url=f"{gateway.base_url}/anth", api_key=SERVER_KEY, max_retries=0)
    assert text_of(claude.messages.create(model="claude-fake-haiku", max_tokens=50, messages=HELLO)) == \
        "echo: hello there"
    via_openai = anthropic.Anthropic(base_url=f"{gateway.base_url}/fake", api_key=SERVER_KEY, max_retries=0)
    assert text_of(via_openai.messages.create(model="gpt-fake", max_tokens=50, messages=HELLO)) == \
        "echo: hello there"
    nowhere = anthropic.Anthropic(base_url=f"{gateway.base_url}/nope", api_key=SERVER_KEY, max_retries=0)
    with pytest.raises(anthropic.NotFoundError):
        nowhere.messages.create(model="claude-fake-haiku", max_tokens=50, messages=HELLO)


def test_models_under_the_provider_in_the_path(gateway, claude):
    under_anth = anthropic.Anthropic(base_url=f"{gateway.base_url}/anth", api_key=SERVER_KEY, max_retries=0)
    listed = [model.id for model in under_anth.models.list()]
    assert listed == [m.id for m in claude.models.list(limit=1000) if m.id.startswith("anth:")] and listed
    assert under_anth.models.retrieve("claude-fake-haiku").id == "anth:claude-fake-haiku"
    assert under_anth.models.retrieve("anth:claude-fake-haiku").id == "anth:claude-fake-haiku"
    with pytest.raises(anthropic.NotFoundError):
        under_anth.models.retrieve("gpt-fake")  # another provider's model
    nowhere = anthropic.Anthropic(base_url=f"{gateway.base_url}/nope", api_key=SERVER_KEY, max_retries=0)
    with pytest.raises(anthropic.NotFoundError, match="No provider 'nope' in the config"):
        nowhere.models.list()


def test_pass_through_sends_the_providers_key_and_version(claude, anthropic_upstream):
    request_id = rid()
    claude.messages.create(model="anth:claude-fake-sonnet", max_tokens=10, messages=HELLO,
                           extra_headers={"X-Request-Id": request_id, "anthropic-beta": "tools-2024-05-16"})
    seen = upstream_record(anthropic_upstream, request_id)
    assert seen["headers"]["x-api-key"] == UPSTREAM_KEY and "authorization" not in seen["headers"]
    assert seen["headers"]["anthropic-beta"] == "tools-2024-05-16" and seen["headers"]["anthropic-version"]
    assert seen["body"]["model"] == "claude-fake-sonnet"
    assert SERVER_KEY not in str(seen)


# --- openai SDK → Anthropic provider -----------------------------------------------------------

def test_openai_chat_to_anthropic(gpt, anthropic_upstream):
    request_id = rid()
    reply = gpt.chat.completions.create(model="anth:claude-fake-sonnet", extra_headers={"X-Request-Id": request_id},
                                        messages=[{"role": "system", "content": "Be brief."}, *HELLO], stop="zzz")
    assert reply.object == "chat.completion" and reply.choices[0].message.content == "echo: hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens == 3 and reply.usage.total_tokens == reply.usage.prompt_tokens + 3
    sent = upstream_record(anthropic_upstream, request_id)["body"]
    assert sent["system"] == "Be brief." and sent["messages"] == HELLO
    assert sent["stop_sequences"] == ["zzz"] and sent["max_tokens"] > 0


def test_openai_stream_from_anthropic_with_usage(gpt):
    stream = gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO, stream=True,
                                         stream_options={"include_usage": True}, extra_body={"fake": {"chunks": 4}})
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "echo: hello there"
    assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4


@pytest.mark.parametrize("streaming", [False, True], ids=["whole", "streamed"])
def test_openai_tool_round_trip_through_anthropic(gpt, streaming):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    if streaming:
        calls, finish, content = {}, None, ""
        for chunk in gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=messages,
                                                 tools=[OPENAI_WEATHER], stream=True):
            delta = chunk.choices[0].delta
            content += delta.content or ""
            for call in delta.tool_calls or []:
                entry = calls.setdefault(call.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = call.id or entry["id"]
                entry["name"] += call.function.name or ""
                entry["arguments"] += call.function.arguments or ""
            finish = chunk.choices[0].finish_reason or finish
        assert list(calls) == [0] and finish == "tool_calls" and content == "Let me check."
        call = calls[0]
    else:
        reply = gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=messages, tools=[OPENAI_WEATHER])
        assert reply.choices[0].finish_reason == "tool_calls"
        tool_call = reply.choices[0].message.tool_calls[0]
        call = {"id": tool_call.id, "name": tool_call.function.name, "arguments": tool_call.function.arguments}
    assert call["name"] == "get_weather" and json.loads(call["arguments"]) == {"location": "Paris"}

    answer = gpt.chat.completions.create(model="anth:claude-fake-sonnet", tools=[OPENAI_WEATHER], messages=[
        *messages,
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call["id"], "type": "function", "function": {"name": call["name"], "arguments": call["arguments"]}}]},
        {"role": "tool", "tool_call_id": call["id"], "content": "sunny, 21 C"},
    ])
    assert answer.choices[0].message.content == "tool said: sunny, 21 C"


THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
"""Anthropic's `thinking`, which an OpenAI client sends in its body and the gateway passes through."""


def test_thinking_reaches_openai_clients_as_reasoning_content(gpt, anthropic_upstream):
    request_id = rid()
    reply = gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO,
                                        extra_headers={"X-Request-Id": request_id},
                                        extra_body={**THINKING, "fake": {"reasoning": "An echo, then."}})
    message = reply.choices[0].message
    assert (message.reasoning_content, message.content) == ("An echo, then.", "echo: hello there")
    assert message.model_extra["reasoning_content"] == "An echo, then."
    assert "signature" not in str(reply.model_dump())
    assert reply.usage.completion_tokens == 6  # Anthropic's output tokens, thinking included
    assert upstream_record(anthropic_upstream, request_id)["body"]["thinking"] == THINKING["thinking"]


def test_reasoning_effort_makes_claude_think_for_openai_clients(gpt, anthropic_upstream):
    """The OpenAI SDK's reasoning_effort, with a temperature as many clients send: Claude thinks (the fake
    refuses a temperature with thinking, as Anthropic does), and the client reads the reasoning."""
    request_id = rid()
    reply = gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO, reasoning_effort="low",
                                        temperature=0.3, extra_headers={"X-Request-Id": request_id})
    assert reply.choices[0].message.reasoning_content and reply.choices[0].message.content == "echo: hello there"
    sent = upstream_record(anthropic_upstream, request_id)["body"]
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024} and "temperature" not in sent


@pytest.mark.parametrize("effort, budget", [("minimal", 1024), ("xhigh", 8192), ("max", 16384), ("none", None)])
def test_each_reasoning_effort_openai_takes_reaches_claude(gpt, anthropic_upstream, effort, budget):
    """gpt-5's `minimal` thinks on Anthropic's smallest budget, `xhigh` and `max` on larger ones (LiteLLM's), and
    gpt-5.1's `none` does not think."""
    request_id = rid()
    reply = gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO, reasoning_effort=effort,
                                        extra_headers={"X-Request-Id": request_id})
    message = reply.choices[0].message
    assert message.content == "echo: hello there" and bool(getattr(message, "reasoning_content", None)) == bool(budget)
    sent = upstream_record(anthropic_upstream, request_id)["body"]
    if budget:
        assert sent["thinking"] == {"type": "enabled", "budget_tokens": budget}
        assert sent["max_tokens"] == 4096 + budget  # the answer keeps the default's room
    else:
        assert "thinking" not in sent and sent["max_tokens"] == 4096


def test_reasoning_effort_makes_opus_4_7_think_adaptively(gpt, anthropic_upstream):
    """Claude Opus 4.7 and later refuse a thinking budget: they get adaptive thinking at an effort."""
    request_id = rid()
    reply = gpt.chat.completions.create(model="anth:claude-fake-opus-4-7", messages=HELLO, reasoning_effort="high",
                                        extra_headers={"X-Request-Id": request_id})
    assert reply.choices[0].message.reasoning_content and reply.choices[0].message.content == "echo: hello there"
    sent = upstream_record(anthropic_upstream, request_id)["body"]
    assert sent["thinking"] == {"type": "adaptive"} and sent["output_config"] == {"effort": "high"}


def test_a_reasoning_effort_openai_does_not_take_is_refused_as_openai_refuses_it(gpt):
    with pytest.raises(openai.BadRequestError) as caught:
        gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO, reasoning_effort="extreme")
    assert caught.value.body == {
        "message": "Unsupported value: 'reasoning_effort' does not support 'extreme' with this model. Supported values "
                   "are: 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', and 'max'.",
        "type": "invalid_request_error", "param": "reasoning_effort", "code": "unsupported_value"}


def test_thinking_streams_to_openai_clients_before_the_answer(gpt, http):
    request_id = rid()
    chunks = list(gpt.chat.completions.create(
        model="anth:claude-fake-sonnet", messages=HELLO, stream=True, stream_options={"include_usage": True},
        extra_headers={"X-Request-Id": request_id}, extra_body={**THINKING, "fake": {"chunks": 4}}))
    deltas = [chunk.choices[0].delta for chunk in chunks if chunk.choices]
    thoughts = [index for index, delta in enumerate(deltas) if getattr(delta, "reasoning_content", None)]
    texts = [index for index, delta in enumerate(deltas) if delta.content]
    assert len(thoughts) == 4 and max(thoughts) < min(texts)
    assert "".join(deltas[index].reasoning_content for index in thoughts) == "The user wants an echo."
    assert "".join(deltas[index].content for index in texts) == "echo: hello there"
    assert chunks[-1].usage.completion_tokens == 8
    assert activity_of(http, request_id)["output_tokens"] == 8


def test_a_tool_call_after_thinking_streams_to_openai_clients_and_the_loop_goes_on(gpt, anthropic_upstream):
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    order, calls, finish = [], [], None
    for chunk in gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=messages,
                                             tools=[OPENAI_WEATHER], stream=True, extra_body=THINKING):
        delta = chunk.choices[0].delta
        kinds = ["reasoning"] * bool(getattr(delta, "reasoning_content", None)) + ["content"] * bool(delta.content)
        kinds += [f"tool call {call.index}" for call in delta.tool_calls or ()]
        order += [kind for kind in kinds if not order or order[-1] != kind]
        calls += delta.tool_calls or []
        finish = chunk.choices[0].finish_reason or finish
    assert order == ["reasoning", "content", "tool call 0"] and finish == "tool_calls"
    assert calls[0].id and calls[0].function.name == "get_weather"
    assert json.loads("".join(call.function.arguments for call in calls)) == {"location": "Paris"}

    request_id = rid()  # the result goes back without thinking: Anthropic would want the signed block first
    answer = gpt.chat.completions.create(
        model="anth:claude-fake-sonnet", tools=[OPENAI_WEATHER], extra_body=THINKING,
        extra_headers={"X-Request-Id": request_id}, messages=[
            *messages,
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": calls[0].id, "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"location": "Paris"}'}}]},
            {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny, 21 C"}])
    assert answer.choices[0].message.content == "tool said: sunny, 21 C"
    assert "thinking" not in upstream_record(anthropic_upstream, request_id)["body"]


def test_openai_max_tokens_through_anthropic(gpt):
    reply = gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO, max_tokens=2)
    assert reply.choices[0].finish_reason == "length"


def test_anthropic_models_cannot_do_embeddings(gpt):
    with pytest.raises(openai.BadRequestError) as caught:
        gpt.embeddings.create(model="anth:claude-fake-sonnet", input="x")
    assert "Anthropic" in caught.value.message


# --- errors in the client's dialect ----------------------------------------------------------------

@pytest.mark.parametrize("model", ANTHROPIC_ROUTES)
@pytest.mark.parametrize("status, error_class, error_type", [
    (429, anthropic.RateLimitError, "rate_limit_error"),
    (500, anthropic.InternalServerError, "api_error"),
    (400, anthropic.BadRequestError, "invalid_request_error"),
])
def test_upstream_errors_reach_anthropic_clients_in_their_dialect(claude, model, status, error_class, error_type):
    with pytest.raises(error_class) as caught:
        claude.messages.create(model=model, max_tokens=10, messages=HELLO,
                               extra_body={"fake": {"error_status": status}})
    assert caught.value.status_code == status
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == error_type
    assert "(provider '" in caught.value.body["error"]["message"]
    if status == 400:  # the fakes' 400 is a prompt too long for the model, as Anthropic words it
        assert caught.value.body["error"]["message"].startswith("prompt is too long")
    if status == 429:  # when to retry, and the limit hit, as the provider said (in its own names)
        headers = caught.value.response.headers
        if model.startswith("anth:"):
            assert headers["retry-after"] == "20" and headers["anthropic-ratelimit-requests-remaining"] == "0"
            assert headers["x-should-retry"] == "true"
        else:
            assert headers["x-ratelimit-remaining-requests"] == "0"


@pytest.mark.parametrize("extra, message, param, code", [
    ({"messages": [{"role": "user", "content": 5}]},
     "Invalid type for 'messages[0].content': expected a string or an array, but got an integer instead.",
     "messages[0].content", "invalid_type"),
    ({"messages": [*HELLO, {"role": "tool", "content": "42"}]},
     "Missing required parameter: 'messages[1].tool_call_id'.", "messages[1].tool_call_id",
     "missing_required_parameter"),
    ({"stream": "yes"}, "Invalid type for 'stream': expected a boolean, but got a string instead.", "stream",
     "invalid_type"),
    ({"messages": [{"role": "user"}]}, "Missing required parameter: 'messages[0].content'.", "messages[0].content",
     "missing_required_parameter"),
])
def test_malformed_requests_to_another_dialect_name_the_field_as_openai_does(http, extra, message, param, code):
    answer = http.post("/v1/chat/completions", json={"model": "anth:claude-fake-sonnet", "messages": HELLO, **extra},
                       headers={"x-api-key": SERVER_KEY})
    assert answer.status_code == 400
    assert answer.json()["error"] == {"message": message, "type": "invalid_request_error", "param": param,
                                      "code": code}


@pytest.mark.parametrize("extra, message", [
    ({"stream": "yes"}, "stream: Input should be a valid boolean"),
    ({"system": [5]}, "system.0: Input should be a valid dictionary"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result", "content": "42"}]}]},
     "messages.0.content.0.tool_use_id: Field required"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": ["x"]}]}]},
     "messages.0.content.0.content.0: Input should be a valid dictionary"),
    ({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t",
                                                 "content": [{"type": "text"}]}]}]},
     "messages.0.content.0.content.0.text: Field required"),
])
def test_malformed_requests_to_another_dialect_name_the_field_as_anthropic_does(claude, extra, message):
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(**{"model": "fake:gpt-fake", "max_tokens": 10, "messages": HELLO, **extra})
    assert caught.value.body["error"] == {"type": "invalid_request_error", "message": message}


def test_overloaded_anthropic_reaches_openai_clients(gpt):
    with pytest.raises(openai.APIStatusError) as caught:
        gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO,
                                    extra_body={"fake": {"error_status": 529}})
    assert caught.value.status_code == 529
    assert caught.value.body["type"] == "server_error" and "Overloaded" in caught.value.body["message"]
    assert caught.value.response.headers["x-should-retry"] == "true"  # as Anthropic said it


def test_overloaded_anthropic_says_to_retry_to_anthropic_clients(claude):
    """Anthropic's 529 comes with `x-should-retry: true`, which the SDKs obey over their own retry rules."""
    with pytest.raises(anthropic.APIStatusError) as caught:
        claude.messages.create(model="anth:claude-fake-sonnet", max_tokens=10, messages=HELLO,
                               extra_body={"fake": {"error_status": 529}})
    assert caught.value.status_code == 529 and caught.value.body["error"]["type"] == "overloaded_error"
    assert caught.value.response.headers["x-should-retry"] == "true"


def test_a_prompt_too_long_for_claude_reaches_openai_clients_with_openais_code(gpt):
    with pytest.raises(openai.BadRequestError) as caught:
        gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO,
                                    extra_body={"fake": {"error_status": 400}})
    assert caught.value.code == "context_length_exceeded" and "prompt is too long" in caught.value.message


def test_anthropic_error_event_mid_stream_reaches_openai_clients(gpt, http):
    request_id = rid()
    stream = gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO, stream=True,
                                         extra_body={"fake": {"chunks": 4, "error_event_after_chunks": 2}},
                                         extra_headers={"X-Request-Id": request_id})
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert caught.value.message == "Overloaded (provider 'anth')"
    assert activity_of(http, request_id)["error"] == "Overloaded (provider 'anth')"  # not recorded as a success


def test_an_error_event_mid_stream_is_recorded_on_pass_through_too(claude, http):
    request_id = rid()
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        with claude.messages.stream(model="anth:claude-fake-sonnet", max_tokens=50, messages=HELLO,
                                    extra_body={"fake": {"chunks": 4, "error_event_after_chunks": 2}},
                                    extra_headers={"X-Request-Id": request_id}) as stream:
            stream.get_final_message()
    record = activity_of(http, request_id)
    assert record["stream"] and record["error"] == "Overloaded"


def test_a_translated_stream_cut_short_is_recorded_as_failed(claude, http):
    request_id = rid()
    with pytest.raises(anthropic.APIStatusError, match="ended its stream early"):
        with claude.messages.stream(model="fake:gpt-fake", max_tokens=50, messages=HELLO,
                                    extra_body={"fake": {"raw_body": 'data: {"id":"c","object":"chat.completion.chunk",'
                                                         '"choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n',
                                                         "raw_content_type": "text/event-stream"}},
                                    extra_headers={"X-Request-Id": request_id}) as stream:
            stream.get_final_message()
    assert activity_of(http, request_id)["error"] == "provider 'fake' ended its stream early."


def test_openai_upstream_dying_mid_stream_reaches_anthropic_clients(claude):
    with pytest.raises(anthropic.APIStatusError) as caught:
        with claude.messages.stream(model="fake:gpt-fake", max_tokens=50, messages=HELLO,
                                    extra_body={"fake": {"chunks": 6, "fail_after_chunks": 2}}) as stream:
            stream.get_final_message()
    assert "provider 'fake'" in str(caught.value)


def broken_stream(*frames: str) -> dict:
    """A provider's stream that is cut short or holds garbage: its SSE frames, sent as they are."""
    return {"fake": {"raw_body": "".join(frames), "raw_content_type": "text/event-stream"}}


MESSAGE_START = ('event: message_start\ndata: {"type": "message_start", "message": {"id": "msg_1", "type": "message", '
                 '"role": "assistant", "model": "claude-fake-sonnet", "content": [], "stop_reason": null, '
                 '"stop_sequence": null, "usage": {"input_tokens": 5, "output_tokens": 1}}}\n\n')
FIRST_CHUNK = ('data: {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-fake", '
               '"choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": null}]}\n\n')
GARBAGE = "data: <html>oops</html>\n\n"


@pytest.mark.parametrize("frames, message", [
    pytest.param([MESSAGE_START], "provider 'anth' ended its stream early.", id="cut short"),
    pytest.param([MESSAGE_START, GARBAGE], "provider 'anth' sent an event that is not a JSON object: <html>oops</html>",
                 id="garbage"),
])
def test_a_broken_anthropic_stream_names_its_provider_to_openai_clients(gpt, frames, message):
    stream = gpt.chat.completions.create(model="anth:claude-fake-sonnet", messages=HELLO, stream=True,
                                         extra_body=broken_stream(*frames))
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert caught.value.message == message


@pytest.mark.parametrize("frames, message", [
    pytest.param([FIRST_CHUNK], "provider 'fake' ended its stream early.", id="cut short"),
    pytest.param([FIRST_CHUNK, GARBAGE], "provider 'fake' sent an event that is not a JSON object: <html>oops</html>",
                 id="garbage"),
    pytest.param([FIRST_CHUNK, 'data: {"error": {"message": "model crashed"}}\n\n'],
                 "model crashed (provider 'fake')", id="an error frame"),
])
def test_a_broken_openai_stream_names_its_provider_to_anthropic_clients(claude, frames, message):
    with pytest.raises(anthropic.APIStatusError) as caught, claude.messages.stream(
            model="fake:gpt-fake", max_tokens=50, messages=HELLO, extra_body=broken_stream(*frames)) as stream:
        stream.get_final_message()
    assert caught.value.body["error"]["message"] == message


def test_gateway_errors_are_in_anthropic_dialect(gateway, claude):
    stranger = anthropic.Anthropic(base_url=gateway.base_url, api_key="wrong-key-123456", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as caught:
        stranger.messages.create(model="anth:claude-fake-sonnet", max_tokens=10, messages=HELLO)
    assert caught.value.body["error"]["type"] == "authentication_error"
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="anth:claude-nope", max_tokens=10, messages=HELLO)
    assert caught.value.body["error"]["type"] == "not_found_error"
    bad = httpx.post(f"{gateway.base_url}/v1/messages", content=b"{oops",
                     headers={"x-api-key": SERVER_KEY, "anthropic-version": "2023-06-01"})
    assert bad.status_code == 400
    assert bad.json()["type"] == "error" and bad.json()["error"]["type"] == "invalid_request_error"


def test_the_request_id_reaches_the_sdk_as_anthropic_names_it(claude):
    request_id = rid()
    message = claude.messages.create(model="anth:claude-fake-sonnet", max_tokens=10, messages=HELLO,
                                     extra_headers={"X-Request-Id": request_id})
    assert message._request_id == request_id
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.create(model="anth:no-such-model", max_tokens=10, messages=HELLO)
    assert caught.value.request_id and caught.value.request_id.startswith("req-")


MESSAGE = json.dumps({"id": "msg_1", "type": "message", "role": "assistant", "model": "m", "stop_reason": "end_turn",
                      "stop_sequence": None, "content": [{"type": "text", "text": "hi"}],
                      "usage": {"input_tokens": 1, "output_tokens": 1}}).encode()


async def test_the_clients_anthropic_version_and_beta_reach_the_provider_once(upstreams, tmp_path):
    """The client's `anthropic-version` goes in place of the provider's default (it used to go as a
    second one); its `anthropic-beta` features along with those the config gives the provider."""
    heads = []

    async def answer(reader, writer):
        heads.append((await read_request(reader)).split(b"\r\n\r\n")[0].decode().lower().split("\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                     % (len(MESSAGE), MESSAGE))
        await writer.drain()

    async with raw_server(answer) as (url, _):
        config = gateway_config(upstreams) + (f'\n[providers.raw]\ntype = "anthropic"\nbase_url = "{url}"\n'
                                              'models = ["m"]\nheaders = { "Anthropic-Beta" = "from-config" }\n')
        gateway = await asyncio.to_thread(start_gateway, config, tmp_path)
        try:
            async with httpx.AsyncClient() as client:
                reply = await client.post(f"{gateway.base_url}/v1/messages", headers={
                    "x-api-key": SERVER_KEY, "anthropic-version": "2023-06-01", "anthropic-beta": "from-client"},
                    json={"model": "raw:m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
        finally:
            await asyncio.to_thread(gateway.stop)
    assert reply.status_code == 200, reply.text
    head = heads[0]
    assert [line for line in head if line.startswith("anthropic-version:")] == ["anthropic-version: 2023-06-01"]
    assert [line for line in head if line.startswith("anthropic-beta:")] == ["anthropic-beta: from-client,from-config"]


def test_x_api_key_header_as_anthropic_clients_send_it(gateway):
    claude = anthropic.Anthropic(base_url=gateway.base_url, api_key=SERVER_KEY, max_retries=0,
                                 default_headers={"x-api-key": SERVER_KEY, "Authorization": anthropic.Omit()})
    assert text_of(claude.messages.create(model="anth:claude-fake-sonnet", max_tokens=10, messages=HELLO))


def test_models_in_anthropic_format_for_anthropic_clients(claude):
    ids = [model.id for model in claude.models.list(limit=100)]
    assert "anth:claude-fake-sonnet" in ids and "fake:gpt-fake" in ids
    haiku = claude.models.retrieve("anth:claude-fake-haiku")
    assert haiku.type == "model" and haiku.display_name == "Claude Fake Haiku"  # the provider's own name
    assert haiku.created_at.year == 2025


def test_model_errors_reach_anthropic_clients_in_their_dialect(claude, gpt, gateway):
    """The models endpoints answer Anthropic's SDK in Anthropic's format, their errors too."""
    under_anth = anthropic.Anthropic(base_url=f"{gateway.base_url}/anth", api_key=SERVER_KEY, max_retries=0)
    stranger = anthropic.Anthropic(base_url=gateway.base_url, api_key="wrong-key-123456", max_retries=0)
    for failing, error_class, error_type in (
            (lambda: claude.models.retrieve("anth:claude-nope"), anthropic.NotFoundError, "not_found_error"),
            (lambda: under_anth.models.retrieve("gpt-fake"), anthropic.NotFoundError, "not_found_error"),
            (lambda: claude.models.list(after_id="anth:gone"), anthropic.NotFoundError, "not_found_error"),
            (lambda: stranger.models.list(), anthropic.AuthenticationError, "authentication_error")):
        with pytest.raises(error_class) as caught:
            failing()
        assert caught.value.body.get("type") == "error" and caught.value.body["error"]["type"] == error_type
    with pytest.raises(openai.NotFoundError) as caught:  # the OpenAI SDK still gets OpenAI's format
        gpt.models.retrieve("anth:claude-nope")
    assert caught.value.code == "model_not_found" and caught.value.body["type"] == "invalid_request_error"


def test_a_models_request_is_recorded_in_the_dialect_it_was_answered_in(claude, gpt, http):
    by_anthropic, by_openai = rid(), rid()
    claude.models.list(extra_headers={"X-Request-Id": by_anthropic})
    gpt.models.list(extra_headers={"X-Request-Id": by_openai})
    assert activity_of(http, by_anthropic)["dialect_in"] == "anthropic"
    assert activity_of(http, by_openai)["dialect_in"] == "openai"


def test_anthropic_model_pages_follow_their_cursors(claude, gateway):
    everything = [model.id for model in claude.models.list(limit=1000)]
    assert len(everything) > 4
    # The SDK follows after_id page by page (bounded: an ignored cursor used to repeat page 1 forever).
    followed = itertools.islice(claude.models.list(limit=2), len(everything) + 1)
    assert [model.id for model in followed] == everything
    assert len(claude.models.list().data) == min(len(everything), 20)  # Anthropic's default page
    second = claude.models.list(limit=2, after_id=everything[1])
    assert [m.id for m in second.data] == everything[2:4] and second.has_more and second.last_id == everything[3]
    first = claude.models.list(limit=2, before_id=everything[2])
    assert [m.id for m in first.data] == everything[:2] and not first.has_more
    with pytest.raises(anthropic.NotFoundError, match="no model has the id 'anth:gone'"):
        claude.models.list(after_id="anth:gone")


def test_a_system_message_mid_conversation_keeps_its_place(claude, upstream):
    """Claude Opus 4.8 takes `role: "system"` messages after a user turn, and Claude Code sends them: an
    OpenAI-type provider gets a system message at the same place (it used to be a 400 for the whole session)."""
    request_id = rid()
    message = claude.messages.create(model="fake:gpt-fake", max_tokens=50, system="Be brief.", messages=[
        {"role": "user", "content": "hello there"},
        {"role": "system", "content": [{"type": "text", "text": "Agents: Explore."},
                                       {"type": "text", "text": "Answer in English.", "cache_control": {"type": "ephemeral"}}]}],
        extra_headers={"X-Request-Id": request_id})
    assert text_of(message) == "echo: hello there"
    assert upstream_record(upstream, request_id)["body"]["messages"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"},
        {"role": "system", "content": "Agents: Explore.\n\nAnswer in English."}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model="fake:gpt-fake", max_tokens=50, messages=[
            {"role": "user", "content": "hello"},
            {"role": "system", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]}])
    assert caught.value.body["error"]["message"] == "system content holds text blocks only, not 'image'."
    assert caught.value.body["error"]["type"] == "invalid_request_error"
