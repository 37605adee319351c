"""Request bodies between the OpenAI and Anthropic dialects."""

from __future__ import annotations

import pytest

from api.translate import TranslationError
from api.translate.requests import (DROPPED_ANTHROPIC_FIELDS, DROPPED_OPENAI_FIELDS, TRANSLATED_ANTHROPIC_FIELDS,
                                    TRANSLATED_OPENAI_FIELDS, UNSUPPORTED_ANTHROPIC_FIELDS,
                                    UNSUPPORTED_OPENAI_FIELDS, anthropic_to_openai, openai_to_anthropic, tool_input)

USER = {"role": "user", "content": "Hi"}
ANTHROPIC_USER = {"role": "user", "content": [{"type": "text", "text": "Hi"}]}
PNG = "iVBORw0KGgo="
WEATHER_TOOL = {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
                                                 "parameters": {"type": "object",
                                                                "properties": {"city": {"type": "string"}},
                                                                "required": ["city"]}}}
ANTHROPIC_WEATHER_TOOL = {"name": "get_weather", "description": "Weather of a city",
                          "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                           "required": ["city"]}}


def call(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def to_anthropic(**body) -> dict:
    """The translation of an OpenAI request with `body`'s fields (a model and one user message by default)."""
    return openai_to_anthropic({"model": "claude-sonnet-4-5", "messages": [USER], **body})


def to_openai(**body) -> dict:
    return anthropic_to_openai({"model": "gpt-4o", "max_tokens": 100, "messages": [ANTHROPIC_USER], **body})


# --- OpenAI → Anthropic: messages ------------------------------------------------------------------

@pytest.mark.parametrize("messages, system, expected", [
    pytest.param([USER], None, [USER], id="string content stays a string"),
    pytest.param([{"role": "user", "content": [text("Hi")]}, {"role": "assistant", "content": [text("Hello")]}], None,
                 [USER, {"role": "assistant", "content": "Hello"}], id="a single text part becomes a string"),
    pytest.param([{"role": "system", "content": "Be brief."}, USER], "Be brief.", [USER],
                 id="system message"),
    pytest.param([{"role": "developer", "content": [text("A"), text("B")]},
                  {"role": "system", "content": "C"}, USER], "A\n\nB\n\nC", [USER],
                 id="developer parts and system joined"),
    pytest.param([USER, {"role": "assistant", "content": "Hello"}, {"role": "system", "content": "Be brief."},
                  {"role": "assistant", "content": "How can I help?"}],
                 "Be brief.",
                 [USER, {"role": "assistant", "content": [text("Hello"), text("How can I help?")]}],
                 id="system in the middle lifted, assistants around it merged"),
    pytest.param([USER, {"role": "user", "content": [text("again")]}], None,
                 [{"role": "user", "content": [text("Hi"), text("again")]}], id="consecutive users merged"),
    pytest.param([{"role": "user", "content": [text("Look"), {"type": "image_url", "image_url": {
                      "url": f"data:image/png;base64,{PNG}", "detail": "high"}},
                  {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}], None,
                 [{"role": "user", "content": [
                     text("Look"),
                     {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                     {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]}],
                 id="image data URL and http URL"),
    pytest.param([{"role": "user", "content": [{"type": "image_url", "image_url": {
                      "url": f"data:image/jpeg;name=x.jpg;base64,{PNG}"}}]}], None,
                 [{"role": "user", "content": [
                     {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": PNG}}]}],
                 id="data URL with parameters"),
    pytest.param([USER, {"role": "assistant", "content": "Let me check.",
                         "tool_calls": [call("call_1", "get_weather", '{"city": "Paris"}'),
                                        call("call_2", "get_time", '{"tz": "CET"}')]}], None,
                 [USER, {"role": "assistant", "content": [
                     text("Let me check."),
                     {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                     {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {"tz": "CET"}}]}],
                 id="assistant text and two tool calls"),
    pytest.param([USER, {"role": "assistant", "content": None, "tool_calls": [call("call_1", "now", "")]}], None,
                 [USER, {"role": "assistant", "content": [
                     {"type": "tool_use", "id": "call_1", "name": "now", "input": {}}]}],
                 id="null content with tool calls gives only tool_use"),
    pytest.param([USER, {"role": "assistant", "content": "", "tool_calls": [call("call_1", "now", "{}")]}], None,
                 [USER, {"role": "assistant", "content": [
                     {"type": "tool_use", "id": "call_1", "name": "now", "input": {}}]}],
                 id="empty assistant text omitted"),
    pytest.param([USER, {"role": "assistant", "content": [text("Sure"), {"type": "refusal", "refusal": "No."}]}],
                 None, [USER, {"role": "assistant", "content": [text("Sure"), text("No.")]}],
                 id="assistant parts with a refusal"),
    pytest.param([USER, {"role": "assistant", "content": ""}, {"role": "user", "content": "More"}], None,
                 [{"role": "user", "content": [text("Hi"), text("More")]}],
                 id="empty assistant message dropped, users around it merged"),
    pytest.param([USER, {"role": "assistant", "content": None,
                         "tool_calls": [call("call_1", "a", "{}"), call("call_2", "b", "{}")]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                  {"role": "tool", "tool_call_id": "call_2", "content": [text("12:00"), text("CET")]}], None,
                 [USER,
                  {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "a", "input": {}},
                                                    {"type": "tool_use", "id": "call_2", "name": "b", "input": {}}]},
                  {"role": "user", "content": [
                      {"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                      {"type": "tool_result", "tool_use_id": "call_2", "content": [text("12:00"), text("CET")]}]}],
                 id="consecutive tool messages merged into one user turn"),
    pytest.param([USER, {"role": "assistant", "content": None, "tool_calls": [call("call_1", "a", "{}")]},
                  {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
                  {"role": "user", "content": "Thanks, and tomorrow?"}], None,
                 [USER,
                  {"role": "assistant", "content": [{"type": "tool_use", "id": "call_1", "name": "a", "input": {}}]},
                  {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"},
                                               text("Thanks, and tomorrow?")]}],
                 id="tool result followed by user text"),
])
def test_openai_messages(messages, system, expected):
    body = openai_to_anthropic({"model": "claude-sonnet-4-5", "messages": messages})
    assert body.get("system") == system
    assert body["messages"] == expected


@pytest.mark.parametrize("arguments, expected", [
    ('{"city": "Paris"}', {"city": "Paris"}),
    ("", {}),
    ("  ", {}),
    (None, {}),
    ('{"city": "Par', {"_raw_arguments": '{"city": "Par'}),
    ("[1, 2]", {"_raw_arguments": "[1, 2]"}),
    ({"city": "Paris"}, {"city": "Paris"}),
])
def test_tool_input(arguments, expected):
    assert tool_input(arguments) == expected


# --- OpenAI → Anthropic: parameters ----------------------------------------------------------------

@pytest.mark.parametrize("fields, expected", [
    pytest.param({}, {"max_tokens": 4096}, id="default max_tokens"),
    pytest.param({"max_tokens": 50}, {"max_tokens": 50}, id="max_tokens"),
    pytest.param({"max_completion_tokens": 60, "max_tokens": 50}, {"max_tokens": 60},
                 id="max_completion_tokens preferred"),
    pytest.param({"stop": "END"}, {"stop_sequences": ["END"]}, id="stop string"),
    pytest.param({"stop": ["A", "B"]}, {"stop_sequences": ["A", "B"]}, id="stop list"),
    pytest.param({"stop": None}, {}, id="stop null"),
    pytest.param({"temperature": 0.3}, {"temperature": 0.3}, id="temperature kept"),
    pytest.param({"temperature": 1.7}, {"temperature": 1.0}, id="temperature clamped"),
    pytest.param({"top_p": 0.9}, {"top_p": 0.9}, id="top_p"),
    pytest.param({"temperature": 0.7, "top_p": 0.9}, {"temperature": 0.7},
                 id="top_p left out with temperature (current Claude models refuse both)"),
    pytest.param({"response_format": {"type": "json_schema", "json_schema": {
        "name": "W", "strict": True, "schema": {"type": "object", "properties": {"city": {"type": "string"}},
                                                "required": ["city"], "additionalProperties": False}}}},
                 {"output_config": {"format": {"type": "json_schema", "schema": {
                     "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                     "additionalProperties": False}}}}, id="json_schema response_format as structured output"),
    pytest.param({"response_format": {"type": "text"}}, {}, id="text response_format"),
    pytest.param({"stream": True, "stream_options": {"include_usage": True}}, {"stream": True}, id="stream"),
    pytest.param({"user": "u-1"}, {"metadata": {"user_id": "u-1"}}, id="user"),
    pytest.param({"safety_identifier": "s-1"}, {"metadata": {"user_id": "s-1"}}, id="safety_identifier"),
    pytest.param({"n": 1}, {}, id="n 1 accepted"),
    pytest.param({"top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 1024}},
                 {"top_k": 5, "thinking": {"type": "enabled", "budget_tokens": 1024}}, id="unknown fields passed"),
    pytest.param({"frequency_penalty": 0.5, "presence_penalty": 0.5, "logit_bias": {"1": 2}, "seed": 7,
                  "logprobs": True, "top_logprobs": 2, "response_format": {"type": "json_object"},
                  "metadata": {"k": "v"}, "store": True, "audio": None, "functions": []}, {},
                 id="OpenAI-only fields dropped"),
])
def test_openai_parameters(fields, expected):
    body = to_anthropic(**fields)
    assert body == {"model": "claude-sonnet-4-5", "messages": [USER], "max_tokens": 4096, **expected}


def test_cache_control_on_content_parts_stays_on_their_blocks():
    cached = {"type": "ephemeral"}
    body = to_anthropic(messages=[
        {"role": "system", "content": [{"type": "text", "text": "LONG PROMPT", "cache_control": cached},
                                       {"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "LONG DOCUMENT", "cache_control": cached}]},
        {"role": "assistant", "content": "Read."}, USER])
    assert body["system"] == [{"type": "text", "text": "LONG PROMPT", "cache_control": cached}, text("Be brief.")]
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "LONG DOCUMENT",
                                                              "cache_control": cached}]},
                                {"role": "assistant", "content": "Read."}, USER]
    assert to_anthropic(messages=[{"role": "system", "content": [text("A"), text("B")]}, USER])["system"] == "A\n\nB"


@pytest.mark.parametrize("messages", [
    pytest.param([{"role": "user", "content": ""}], id="an empty user message"),
    pytest.param([{"role": "system", "content": "Be brief."}], id="a system message only"),
])
def test_a_conversation_with_nothing_to_answer_is_refused_clearly(messages):
    with pytest.raises(TranslationError, match="at least one user or assistant message with content") as caught:
        to_anthropic(messages=messages)
    assert caught.value.param == "messages"


def test_thinking_is_left_out_while_a_tool_loop_goes_on():
    """An OpenAI client never holds the thinking block Anthropic wants at the start of an assistant turn
    with tool calls; sending `thinking` then fails, so the loop goes on without it."""
    thinking = {"type": "enabled", "budget_tokens": 1024}
    loop = [USER, {"role": "assistant", "content": None, "tool_calls": [call("call_1", "a", "{}")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    assert "thinking" not in to_anthropic(messages=loop, thinking=thinking)
    answered = [*loop, {"role": "assistant", "content": "Sunny."}, {"role": "user", "content": "Tomorrow?"}]
    assert to_anthropic(messages=answered, thinking=thinking)["thinking"] == thinking
    assert to_anthropic(thinking=thinking)["thinking"] == thinking


@pytest.mark.parametrize("fields, thinking, max_tokens", [
    pytest.param({"reasoning_effort": "high", "temperature": 0.5, "top_p": 0.9}, 4096, 4096 + 4096,
                 id="high, no limit: the answer keeps the default's room; sampling goes"),
    pytest.param({"reasoning_effort": "low", "max_completion_tokens": 3000}, 1024, 3000, id="low within a limit"),
    pytest.param({"reasoning_effort": "medium", "max_tokens": 1500}, 1499, 1500,
                 id="medium cut to the limit (it bounds thinking and answer together)"),
    pytest.param({"reasoning_effort": "high", "max_tokens": 1000}, None, 1000, id="no room for the smallest budget"),
    pytest.param({"reasoning_effort": "minimal"}, 1024, 4096 + 1024, id="minimal: the smallest budget"),
    pytest.param({"reasoning_effort": "xhigh"}, 8192, 4096 + 8192, id="xhigh"),
    pytest.param({"reasoning_effort": "max", "max_completion_tokens": 32000}, 16384, 32000, id="max"),
    pytest.param({"reasoning_effort": "none"}, None, 4096, id="none: no thinking"),
    pytest.param({"reasoning_effort": "high", "tools": [WEATHER_TOOL], "tool_choice": "required"}, None, 4096,
                 id="a forced tool: no thinking (Anthropic refuses both)"),
])
def test_reasoning_effort_asks_claude_to_think(fields, thinking, max_tokens):
    body = to_anthropic(**fields)
    assert body.get("thinking") == ({"type": "enabled", "budget_tokens": thinking} if thinking else None)
    assert body["max_tokens"] == max_tokens and "reasoning_effort" not in body
    if thinking:
        assert "temperature" not in body and "top_p" not in body


@pytest.mark.parametrize("model, effort, sent, room", [
    ("claude-opus-4-7", "medium", "medium", 2048),
    ("claude-opus-4-7-20260416", "xhigh", "xhigh", 8192),
    ("anthropic.claude-opus-4-8-v1:0", "max", "max", 16384),  # Bedrock's id
    ("anthropic/claude-opus-4.7", "minimal", "low", 1024),  # OpenRouter's
    ("claude-sonnet-4-6", "xhigh", "high", 4096),  # xhigh came with Opus 4.7
    ("claude-opus-5", "high", "high", 4096),
])
def test_claude_from_4_6_thinks_adaptively_at_an_effort(model, effort, sent, room):
    """Opus 4.7 and later refuse a thinking budget ("thinking.type.enabled is not supported for this model"); 4.6
    takes one but is meant to think adaptively."""
    body = to_anthropic(model=model, reasoning_effort=effort, temperature=0.5,
                        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}})
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"format": {"type": "json_schema", "schema": {"type": "object"}}, "effort": sent}
    assert body["max_tokens"] == 4096 + room  # without a limit from the client, the answer keeps the default's room
    assert "temperature" not in body
    limited = to_anthropic(model=model, reasoning_effort=effort, max_tokens=500)  # no smallest budget here
    assert limited["thinking"] == {"type": "adaptive"} and limited["max_tokens"] == 500


def test_opus_4_7_and_later_get_no_sampling_parameters():
    """Opus 4.7 refuses them ("`temperature` is deprecated for this model."); many OpenAI clients always send one."""
    sampling = {"temperature": 0.7, "top_p": 0.9, "top_k": 5}
    assert not {"temperature", "top_p", "top_k"} & set(to_anthropic(model="claude-opus-4-7", **sampling))
    assert not {"temperature", "top_p", "top_k"} & set(to_anthropic(model="claude-opus-4-8-20260601", **sampling))
    older = to_anthropic(model="claude-opus-4-6", **sampling)
    assert (older["temperature"], older["top_k"]) == (0.7, 5) and "top_p" not in older


@pytest.mark.parametrize("model", ["claude-sonnet-4-5-20250929", "claude-opus-4-20250514", "claude-3-7-sonnet-20250219",
                                   "claude-haiku-4-5", "claude-opus-4-1"])
def test_claude_before_4_6_thinks_on_a_budget(model):
    assert to_anthropic(model=model, reasoning_effort="low")["thinking"] == {"type": "enabled", "budget_tokens": 1024}


@pytest.mark.parametrize("effort", ["extreme", "", "HIGH", 3])
def test_a_reasoning_effort_openai_does_not_take_is_refused_in_its_words(effort):
    with pytest.raises(TranslationError) as caught:
        to_anthropic(reasoning_effort=effort)
    assert str(caught.value) == (
        f"Unsupported value: 'reasoning_effort' does not support {effort!r} with this model. "
        "Supported values are: 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', and 'max'.")
    assert (caught.value.param, caught.value.code) == ("reasoning_effort", "unsupported_value")


def test_reasoning_effort_gives_way_to_thinking_and_to_a_tool_loop():
    explicit = {"type": "enabled", "budget_tokens": 2000}
    assert to_anthropic(reasoning_effort="high", thinking=explicit)["thinking"] == explicit
    loop = [USER, {"role": "assistant", "content": None, "tool_calls": [call("call_1", "a", "{}")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    assert "thinking" not in to_anthropic(messages=loop, reasoning_effort="high")


def test_reasoning_sent_back_goes_where_it_is_taken():
    """Clients that show reasoning may send back what the gateway gave them: an OpenAI client its
    `reasoning_content`, an Anthropic client a thinking block. Anthropic takes back only the thinking
    blocks it signed: left out. OpenAI-compatible reasoning models (DeepSeek's) want their reasoning
    back as `reasoning_content`; OpenAI's own API refuses the field: left out there."""
    history = [USER, {"role": "assistant", "content": "Hello!", "reasoning_content": "A greeting.",
                      "reasoning": "A greeting."}, {"role": "user", "content": "Again"}]
    assert to_anthropic(messages=history)["messages"] == [
        {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Again"}]
    thought = [ANTHROPIC_USER, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "A greeting.", "signature": ""},
        {"type": "redacted_thinking", "data": "opaque"}, text("Hello!")]}]
    assert to_openai(messages=thought)["messages"] == [
        USER, {"role": "assistant", "content": "Hello!", "reasoning_content": "A greeting."}]
    body = anthropic_to_openai({"model": "o3", "max_tokens": 100, "messages": thought}, openai_itself=True)
    assert body["messages"] == [USER, {"role": "assistant", "content": "Hello!"}]


def test_default_max_tokens_argument():
    assert openai_to_anthropic({"model": "m", "messages": [USER]}, default_max_tokens=1000)["max_tokens"] == 1000


@pytest.mark.parametrize("fields, expected", [
    pytest.param({}, {"tools": [ANTHROPIC_WEATHER_TOOL]}, id="function tool"),
    pytest.param({"tool_choice": "auto"}, {"tool_choice": {"type": "auto"}}, id="auto"),
    pytest.param({"tool_choice": "required"}, {"tool_choice": {"type": "any"}}, id="required"),
    pytest.param({"tool_choice": "none"}, {"tool_choice": {"type": "none"}}, id="none"),
    pytest.param({"tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
                 {"tool_choice": {"type": "tool", "name": "get_weather"}}, id="named function"),
    pytest.param({"parallel_tool_calls": False}, {"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
                 id="parallel false creates auto"),
    pytest.param({"parallel_tool_calls": False, "tool_choice": "required"},
                 {"tool_choice": {"type": "any", "disable_parallel_tool_use": True}}, id="parallel false with any"),
    pytest.param({"parallel_tool_calls": False, "tool_choice": "none"}, {"tool_choice": {"type": "none"}},
                 id="parallel false with none"),
    pytest.param({"parallel_tool_calls": True}, {}, id="parallel true is the default"),
])
def test_openai_tools(fields, expected):
    body = to_anthropic(tools=[WEATHER_TOOL], **fields)
    assert {key: body[key] for key in ("tools", "tool_choice") if key in body} == {"tools": [ANTHROPIC_WEATHER_TOOL],
                                                                                    **expected}


def test_tool_without_parameters_gets_an_empty_schema():
    body = to_anthropic(tools=[{"type": "function", "function": {"name": "now"}}])
    assert body["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


def test_tool_choice_without_tools_dropped():
    body = to_anthropic(tool_choice="none", parallel_tool_calls=False)
    assert "tool_choice" not in body and "parallel_tool_calls" not in body


@pytest.mark.parametrize("fields, param", [
    pytest.param({"n": 2}, "n", id="n > 1"),
    pytest.param({"audio": {"voice": "alloy", "format": "mp3"}}, "audio", id="audio"),
    pytest.param({"functions": [{"name": "f"}]}, "functions", id="legacy functions"),
    pytest.param({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role",
                 id="function role"),
    pytest.param({"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
                 "messages[0].content[0]", id="audio part"),
    pytest.param({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/svg+xml,<svg/>"}}]}]},
                 "messages[0].content[0]", id="data URL not base64"),
    pytest.param({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}}]}]},
                 "messages[0].content[0]", id="unsupported URL scheme"),
    pytest.param({"messages": [{"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]}]},
                 "messages[0].content", id="image in system message"),
    pytest.param({"messages": [USER, {"role": "assistant", "tool_calls": [
        {"id": "c", "type": "custom", "custom": {"name": "x", "input": "y"}}]}]},
                 "messages[1].tool_calls[0]", id="custom tool call"),
    pytest.param({"tools": [{"type": "custom", "custom": {"name": "x"}}]}, "tools[0]", id="custom tool"),
    pytest.param({"tools": [WEATHER_TOOL], "tool_choice": "sometimes"}, "tool_choice", id="unknown tool_choice"),
    pytest.param({"tools": [WEATHER_TOOL], "tool_choice": {"type": "allowed_tools", "allowed_tools": {}}},
                 "tool_choice", id="allowed_tools tool_choice"),
    pytest.param({"messages": [{"role": "tool", "content": "x"}]}, None, id="malformed: missing tool_call_id"),
    pytest.param({"messages": ["hello"]}, None, id="malformed: message not an object"),
])
def test_openai_untranslatable(fields, param):
    with pytest.raises(TranslationError) as caught:
        to_anthropic(**fields)
    assert caught.value.param == param
    assert isinstance(caught.value, ValueError)


# --- Anthropic → OpenAI ----------------------------------------------------------------------------

@pytest.mark.parametrize("system, messages, expected", [
    pytest.param(None, [{"role": "user", "content": "Hi"}], [USER], id="string content"),
    pytest.param("Be brief.", [ANTHROPIC_USER], [{"role": "system", "content": "Be brief."}, USER],
                 id="system string"),
    pytest.param([text("Be brief."), {"type": "text", "text": "Be kind.", "cache_control": {"type": "ephemeral"}}],
                 [ANTHROPIC_USER], [{"role": "system", "content": "Be brief.\n\nBe kind."}, USER],
                 id="system blocks"),
    pytest.param(None, [{"role": "user", "content": [text("A"), text("B")]}],
                 [{"role": "user", "content": [text("A"), text("B")]}], id="several text blocks stay parts"),
    pytest.param(None, [{"role": "user", "content": [
        text("Look"),
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]}],
                 [{"role": "user", "content": [
                     text("Look"),
                     {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
                     {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]}],
                 id="images"),
    pytest.param(None, [ANTHROPIC_USER, {"role": "assistant", "content": [
        {"type": "thinking", "thinking": "Hmm.", "signature": "sig"},
        {"type": "redacted_thinking", "data": "xyz"},
        text("Let me "), text("check."),
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
        {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}}]}],
                 [USER, {"role": "assistant", "content": "Let me check.", "reasoning_content": "Hmm.", "tool_calls": [
                     call("toolu_1", "get_weather", '{"city":"Paris"}'), call("toolu_2", "now", "{}")]}],
                 id="assistant: thinking as reasoning_content, redacted dropped, text joined, tool calls"),
    pytest.param(None, [ANTHROPIC_USER, {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}]}],
                 [USER, {"role": "assistant", "content": None, "tool_calls": [call("toolu_1", "now", "{}")]}],
                 id="assistant with only a tool call"),
    pytest.param(None, [ANTHROPIC_USER, {"role": "assistant", "content": "Hello"}],
                 [USER, {"role": "assistant", "content": "Hello"}], id="assistant string"),
    pytest.param(None, [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": True,
         "content": [text("line 1"), text("line 2")]},
        text("Thanks")]}],
                 [{"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
                  {"role": "tool", "tool_call_id": "toolu_2", "content": "line 1\n\nline 2"},
                  {"role": "user", "content": "Thanks"}],
                 id="tool results before the user text, block content joined"),
    pytest.param(None, [{"role": "user", "content": [
        text("First"), {"type": "tool_result", "tool_use_id": "toolu_1"}]}],
                 [{"role": "tool", "tool_call_id": "toolu_1", "content": ""},
                  {"role": "user", "content": "First"}],
                 id="tool result emitted before text that preceded it, missing content empty"),
    pytest.param(None, [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
            text("Screenshot:"), {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                                             "data": PNG}}]}]}],
                 [{"role": "tool", "tool_call_id": "toolu_1", "content": "Screenshot:"},
                  {"role": "user", "content": [{"type": "image_url",
                                                "image_url": {"url": f"data:image/png;base64,{PNG}"}}]}],
                 id="tool result image moved to a user message"),
])
def test_anthropic_messages(system, messages, expected):
    body = {"model": "gpt-4o", "max_tokens": 100, "messages": messages}
    if system is not None:
        body["system"] = system
    assert anthropic_to_openai(body)["messages"] == expected


@pytest.mark.parametrize("fields, expected", [
    pytest.param({}, {}, id="minimal"),
    pytest.param({"stop_sequences": ["END", "STOP"]}, {"stop": ["END", "STOP"]}, id="stop_sequences"),
    pytest.param({"temperature": 0.5, "top_p": 0.8, "top_k": 40}, {"temperature": 0.5, "top_p": 0.8},
                 id="sampling, top_k dropped"),
    pytest.param({"stream": True}, {"stream": True, "stream_options": {"include_usage": True}}, id="stream"),
    pytest.param({"stream": False}, {"stream": False}, id="no stream"),
    pytest.param({"metadata": {"user_id": "u-1"}}, {"user": "u-1"}, id="metadata.user_id"),
    pytest.param({"metadata": {}}, {}, id="empty metadata"),
    pytest.param({"thinking": {"type": "enabled", "budget_tokens": 2048}, "service_tier": "auto",
                  "cache_control": {"type": "ephemeral"}}, {}, id="Anthropic-only fields dropped"),
    pytest.param({"mcp_servers": []}, {}, id="no MCP servers"),
    pytest.param({"seed": 3}, {"seed": 3}, id="unknown fields passed"),
])
def test_anthropic_parameters(fields, expected):
    assert to_openai(**fields) == {"model": "gpt-4o", "messages": [USER], "max_tokens": 100, **expected}


def test_a_user_id_too_long_for_openai_goes_as_its_digest():
    long_id = "user_" + "a" * 64 + "_account_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0_session_1234"
    sent = to_openai(metadata={"user_id": long_id})["user"]
    assert len(sent) == 64 and sent == to_openai(metadata={"user_id": long_id})["user"] != long_id[:64]


def test_max_tokens_goes_in_the_field_the_provider_takes():
    body = anthropic_to_openai({"model": "o3", "max_tokens": 100, "messages": [ANTHROPIC_USER]}, openai_itself=True)
    assert body["max_completion_tokens"] == 100 and "max_tokens" not in body
    assert to_openai()["max_tokens"] == 100 and "max_completion_tokens" not in to_openai()


STRICT_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"},
                                                  "days": {"type": "array", "items": {
                                                      "type": "object", "properties": {"t": {"type": "number"}},
                                                      "required": ["t"], "additionalProperties": False}}},
                 "required": ["city", "days"], "additionalProperties": False}
LOOSE_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}, "note": {"type": "string"}},
                "required": ["city"]}


@pytest.mark.parametrize("schema, strict", [
    pytest.param(STRICT_SCHEMA, True, id="strict-ready schema"),
    pytest.param(LOOSE_SCHEMA, False, id="optional property: not strict"),
    pytest.param({**STRICT_SCHEMA, "properties": {**STRICT_SCHEMA["properties"], "days": {
        "type": "array", "items": {"type": "object", "properties": {"t": {"type": "number"}}}}}}, False,
        id="nested object allowing more: not strict"),
])
def test_structured_output_becomes_a_json_schema_response_format(schema, strict):
    body = to_openai(output_config={"format": {"type": "json_schema", "schema": schema}, "effort": "low"})
    expected = {"name": "output", "schema": schema, **({"strict": True} if strict else {})}
    assert body["response_format"] == {"type": "json_schema", "json_schema": expected}
    assert "output_config" not in body and "effort" not in body and "reasoning_effort" not in body


def test_a_strict_tool_stays_strict():
    body = to_openai(tools=[{**ANTHROPIC_WEATHER_TOOL, "strict": True}])
    assert body["tools"][0]["function"]["strict"] is True


@pytest.mark.parametrize("tool_choice, expected", [
    pytest.param(None, {}, id="no tool_choice"),
    pytest.param({"type": "auto"}, {"tool_choice": "auto"}, id="auto"),
    pytest.param({"type": "any"}, {"tool_choice": "required"}, id="any"),
    pytest.param({"type": "none"}, {"tool_choice": "none"}, id="none"),
    pytest.param({"type": "tool", "name": "get_weather"},
                 {"tool_choice": {"type": "function", "function": {"name": "get_weather"}}}, id="tool"),
    pytest.param({"type": "auto", "disable_parallel_tool_use": True},
                 {"tool_choice": "auto", "parallel_tool_calls": False}, id="parallel disabled"),
    pytest.param({"type": "any", "disable_parallel_tool_use": False}, {"tool_choice": "required"},
                 id="parallel explicitly allowed"),
])
def test_anthropic_tools(tool_choice, expected):
    fields = {"tools": [ANTHROPIC_WEATHER_TOOL, {"name": "now", "input_schema": {"type": "object"}}]}
    if tool_choice is not None:
        fields["tool_choice"] = tool_choice
    body = to_openai(**fields)
    assert {key: body[key] for key in ("tools", "tool_choice", "parallel_tool_calls") if key in body} == {
        "tools": [WEATHER_TOOL, {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}],
        **expected}


@pytest.mark.parametrize("fields, param", [
    pytest.param({"tools": [{"type": "web_search_20250305", "name": "web_search"}]}, "tools[0]",
                 id="server tool"),
    pytest.param({"tools": [ANTHROPIC_WEATHER_TOOL], "tool_choice": {"type": "sometimes"}}, "tool_choice",
                 id="unknown tool_choice"),
    pytest.param({"mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "x"}]}, "mcp_servers",
                 id="MCP servers"),
    pytest.param({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role", id="unknown role"),
    pytest.param({"messages": [{"role": "user", "content": [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}}]}]},
                 "messages[0].content[0]", id="document block"),
    pytest.param({"messages": [{"role": "user", "content": [
        {"type": "image", "source": {"type": "file", "file_id": "file_1"}}]}]},
                 "messages[0].content[0].source", id="file image source"),
    pytest.param({"messages": [{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "search_result"}]}]}]},
                 "messages[0].content[0].content[0]", id="unknown block in tool result"),
    pytest.param({"messages": [{"role": "user", "content": [{"type": "tool_result"}]}]}, None,
                 id="malformed: missing tool_use_id"),
])
def test_anthropic_untranslatable(fields, param):
    with pytest.raises(TranslationError) as caught:
        to_openai(**fields)
    assert caught.value.param == param


def test_round_trip_of_a_tool_conversation():
    openai_body = {"model": "m", "max_tokens": 10, "messages": [
        {"role": "system", "content": "Be brief."}, USER,
        {"role": "assistant", "content": "Checking.",
         "tool_calls": [call("call_1", "get_weather", '{"city":"Paris"}')]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "user", "content": "Thanks"}],
        "tools": [WEATHER_TOOL], "tool_choice": "auto", "stop": ["END"], "temperature": 0.2, "user": "u"}
    assert anthropic_to_openai(openai_to_anthropic(openai_body)) == openai_body


# --- Every SDK field is classified ----------------------------------------------------------------

def _sdk_fields(*typed_dicts) -> set[str]:
    return {name for typed_dict in typed_dicts for name in typed_dict.__annotations__}


def test_every_openai_field_classified():
    """A failure means the installed SDK knows a field this module does not: translate, drop or reject it."""
    from openai.types.chat import completion_create_params as params
    fields = _sdk_fields(params.CompletionCreateParamsBase, params.CompletionCreateParamsStreaming)
    assert fields - TRANSLATED_OPENAI_FIELDS - DROPPED_OPENAI_FIELDS - UNSUPPORTED_OPENAI_FIELDS == set()


def test_every_anthropic_field_classified():
    """As above; `user_profile_id` and `workspace_id` are sent by the SDK as headers, not in the body."""
    from anthropic.types import message_create_params as params
    fields = _sdk_fields(params.MessageCreateParamsBase, params.MessageCreateParamsStreaming)
    known = TRANSLATED_ANTHROPIC_FIELDS | DROPPED_ANTHROPIC_FIELDS | UNSUPPORTED_ANTHROPIC_FIELDS
    assert fields - known - {"user_profile_id", "workspace_id"} == set()
