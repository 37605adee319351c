"""The Responses API over Chat Completions: requests, whole answers, and streams checked against the SDK's own
Responses stream accumulator."""

from __future__ import annotations

import orjson
import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from api.wire.errors import ApiError
from api.wire.sse import SSEParser
from api.translate import TranslationError
from api.translate.responses_api import DROPPED_FIELDS, TRANSLATED_FIELDS, chat_to_response, echoed, responses_to_chat
from api.translate.responses_api_stream import ChatToResponsesStream, passthrough_failed
from api.translate.streams import as_upstream_stream
from api.wire.usage import StreamUsage

WEATHER = {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
EVENTS = TypeAdapter(ResponseStreamEvent)


def chat(**body) -> dict:
    return responses_to_chat({"model": "m", **body})


def refused(**body) -> TranslationError:
    with pytest.raises(TranslationError) as caught:
        chat(**body)
    return caught.value


# --- requests ------------------------------------------------------------------------------------

def test_a_string_input_and_instructions():
    assert chat(input="hi", instructions="Be brief.")["messages"] == [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]


def test_message_items_and_their_parts():
    out = chat(input=[
        {"role": "developer", "content": "Rules."},
        {"type": "message", "role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "low"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "A dot.", "annotations": []}]},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
    ])
    assert out["messages"] == [
        {"role": "system", "content": "Rules."},
        {"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                     {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA",
                                                                         "detail": "low"}}]},
        {"role": "assistant", "content": "A dot."},
        {"role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
    ]


def test_function_calls_join_the_assistant_message_and_outputs_are_tool_messages():
    out = chat(input=[
        {"role": "user", "content": "Weather?"},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Two cities."}]},
        {"role": "assistant", "content": "Checking."},
        {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": '{"city": "Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "rain"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "sun"},
                                                                     {"type": "input_text", "text": "warm"}]},
    ])
    assert out["messages"][1:] == [
        {"role": "assistant", "content": "Checking.", "reasoning_content": "Two cities.", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
            {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "rain"},
        {"role": "tool", "tool_call_id": "c2", "content": "sun\n\nwarm"},
    ]


def test_openai_itself_keeps_developer_and_gets_max_completion_tokens_and_no_reasoning():
    out = responses_to_chat({"model": "gpt-5", "max_output_tokens": 99, "input": [
        {"role": "developer", "content": "Rules."},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Hmm."}]},
        {"role": "assistant", "content": "Hi."}]}, openai_itself=True)
    assert out["messages"] == [{"role": "developer", "content": "Rules."}, {"role": "assistant", "content": "Hi."}]
    assert out["max_completion_tokens"] == 99 and "max_tokens" not in out


def test_the_other_fields():
    out = chat(input="hi", stream=True, max_output_tokens=10, temperature=0.5, top_p=0.9, user="u1",
               safety_identifier="s1", reasoning={"effort": "high", "summary": "auto"},
               text={"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}, "strict": True},
                     "verbosity": "low"},
               tools=[WEATHER, {**WEATHER, "name": "other", "description": "Other.", "strict": True}],
               tool_choice={"type": "function", "name": "other"}, parallel_tool_calls=False,
               store=False, include=["reasoning.encrypted_content"], metadata={"k": "v"}, truncation="auto",
               service_tier="auto", prompt_cache_key="key", background=False, vendor_field=1)
    assert out == {
        "model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True,
        "stream_options": {"include_usage": True}, "max_tokens": 10, "temperature": 0.5, "top_p": 0.9,
        "user": "u1", "safety_identifier": "s1", "reasoning_effort": "high",
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"},
                                                                   "strict": True}},
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER["parameters"]}},
                  {"type": "function", "function": {"name": "other", "parameters": WEATHER["parameters"],
                                                    "description": "Other.", "strict": True}}],
        "tool_choice": {"type": "function", "function": {"name": "other"}}, "parallel_tool_calls": False,
        "vendor_field": 1,
    }


@pytest.mark.parametrize(("text_format", "expected"), [
    ({"type": "text"}, None), ({"type": "json_object"}, {"type": "json_object"})])
def test_plain_text_and_json_object_formats(text_format, expected):
    assert chat(input="hi", text={"format": text_format}).get("response_format") == expected


def test_namespace_functions_are_chat_functions_and_tools_chat_cannot_offer_are_left_out():
    """Codex CLI offers a namespace of functions, and hosted tools (web_search) beside its functions."""
    tools = [WEATHER, {"type": "web_search"}, {"type": "custom", "name": "apply_patch"},
             {"type": "namespace", "name": "agents", "description": "Sub-agents", "tools": [
                 {"type": "function", "name": "close_agent", "parameters": {"type": "object", "properties": {}}}]}]
    body = chat(input="hi", tools=tools, tool_choice="auto")
    assert [tool["function"]["name"] for tool in body["tools"]] == ["get_weather", "apply_patch", "agents__close_agent"]
    assert chat(input="hi", tools=[{"type": "web_search"}], tool_choice="auto").keys() == {"model", "messages"}
    called = chat(input=[{"type": "function_call", "call_id": "c1", "namespace": "agents", "name": "close_agent",
                          "arguments": "{}"}])
    assert called["messages"][0]["tool_calls"][0]["function"]["name"] == "agents__close_agent"


def test_a_custom_tool_is_a_function_taking_its_text_as_input():
    """Codex CLI's apply_patch: its grammar told to the model (a long one cut short), its calls and their outputs
    sent back as a tool call with `{"input": ...}` and a tool message; a namespace's custom tool is joined too."""
    grammar = {"type": "grammar", "syntax": "lark", "definition": "start: x\n" + "x: " + "a" * 5000}
    run = {"type": "custom", "name": "run"}
    body = chat(tools=[{"type": "custom", "name": "apply_patch", "description": "Edit files.", "format": grammar},
                       {"type": "namespace", "name": "ns", "description": "", "tools": [run]}],
                tool_choice={"type": "custom", "name": "apply_patch"},
                input=[{"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "*** Begin Patch"},
                       {"type": "custom_tool_call", "call_id": "c2", "namespace": "ns", "name": "run", "input": "ls"},
                       {"type": "custom_tool_call_output", "call_id": "c1", "output": "Done!"},
                       {"type": "custom_tool_call_output", "call_id": "c2", "output": [
                           {"type": "input_text", "text": "a.txt"}]}])
    patch, run = (tool["function"] for tool in body["tools"])
    assert (patch["name"], run["name"]) == ("apply_patch", "ns__run")
    assert patch["parameters"] == run["parameters"] == {
        "type": "object", "properties": {"input": {"type": "string", "description": "The tool's text, as it is."}},
        "required": ["input"], "additionalProperties": False}
    assert patch["description"].startswith("Edit files.\n\nThis tool takes free-form text, not JSON arguments")
    assert "lark grammar:\nstart: x\nx: aaa" in patch["description"] and len(patch["description"]) < 4300
    assert patch["description"].endswith("[... the rest of the grammar left out]")
    assert "grammar" not in run["description"]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}
    assert body["messages"] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "apply_patch",
                                                          "arguments": '{"input":"*** Begin Patch"}'}},
            {"id": "c2", "type": "function", "function": {"name": "ns__run", "arguments": '{"input":"ls"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "Done!"},
        {"role": "tool", "tool_call_id": "c2", "content": "a.txt"}]


def test_tool_choice_and_parallel_calls_go_only_with_tools():
    assert chat(input="hi", tool_choice="required", parallel_tool_calls=True).keys() == {"model", "messages"}
    assert chat(input="hi", tools=[WEATHER], tool_choice="required")["tool_choice"] == "required"


@pytest.mark.parametrize(("body", "param", "words"), [
    ({"previous_response_id": "resp_1"}, "previous_response_id", "stores no responses"),
    ({"conversation": "conv_1"}, "conversation", "stores no conversations"),
    ({"background": True}, "background", "Background responses"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt", "Stored prompts"),
    ({"tools": [WEATHER], "tool_choice": {"type": "web_search"}}, "tool_choice", "tool_choice of type 'web_search'"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type", "Item references"),
    ({"input": [{"type": "local_shell_call"}]}, "input[0].type", "'local_shell_call' are not supported"),
    ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role", "role 'tool'"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]},
     "input[0].content[0].image_url", "'image_url' only"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]},
     "input[0].content[0].type", "'input_file' are not supported"),
    ({"input": [{"type": "function_call_output", "call_id": "c", "output": [
        {"type": "input_image", "image_url": "https://x/y.png"}]}]}, "input[0].output", "can only hold text"),
])
def test_what_is_refused_names_its_field(body, param, words):
    error = refused(**{"input": "hi", **body})
    assert error.param == param and words in str(error)


def test_a_malformed_item_is_the_client_s_error():
    assert "missing field 'call_id'" in str(refused(input=[{"type": "function_call", "name": "f", "arguments": ""}]))


# --- whole answers ---------------------------------------------------------------------------------

ECHO = echoed({"model": "m", "input": "hi", "tools": [WEATHER], "max_output_tokens": 50})


def completion(message: dict, finish_reason: str = "stop", usage: dict | None = None) -> dict:
    answer = {"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m",
              "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish_reason}]}
    return {**answer, "usage": usage} if usage else answer


USAGE = {"prompt_tokens": 20, "completion_tokens": 9, "total_tokens": 29, "prompt_tokens_details": {"cached_tokens": 8},
         "completion_tokens_details": {"reasoning_tokens": 4}}


def test_a_whole_answer_is_a_response():
    answer = chat_to_response(completion(
        {"content": "It rains.", "reasoning_content": "Look it up.",
         "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
                        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]},
        "tool_calls", USAGE), "m", ECHO)
    response = Response.model_validate(answer, strict=True)
    assert [item.type for item in response.output] == ["reasoning", "message", "function_call", "function_call"]
    assert response.output[0].summary[0].text == "Look it up." and response.output_text == "It rains."
    assert response.output[2].call_id == "call_1" and response.output[3].call_id.startswith("call_")
    assert response.output[3].arguments == '{"city":"Rome"}'
    assert response.status == "completed" and response.incomplete_details is None
    assert response.usage.model_dump() == {
        "input_tokens": 20, "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0,
                                                     "cache_write_tokens_details": None},
        "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 29}
    assert response.model == "m" and response.tools[0].name == "get_weather" and response.max_output_tokens == 50


CUSTOM_ECHO = echoed({"model": "m", "input": "hi", "tools": [
    WEATHER, {"type": "custom", "name": "apply_patch"},
    {"type": "namespace", "name": "ns", "description": "", "tools": [{"type": "custom", "name": "run"}]}]})


def test_calls_of_custom_tools_are_custom_tool_calls():
    """Their input is the arguments' `input`, or the arguments themselves from a model that ignored the schema."""
    calls = [("apply_patch", '{"input": "*** Begin Patch"}'), ("ns__run", "ls -l"), ("get_weather", "{}")]
    answer = chat_to_response(completion({"content": None, "tool_calls": [
        {"id": f"call_{i}", "type": "function", "function": {"name": name, "arguments": arguments}}
        for i, (name, arguments) in enumerate(calls)]}, "tool_calls"), "m", CUSTOM_ECHO)
    patch, run, weather = Response.model_validate(answer, strict=True).output
    assert (patch.type, patch.name, patch.input, patch.call_id, patch.namespace) == (
        "custom_tool_call", "apply_patch", "*** Begin Patch", "call_0", None)
    assert (run.type, run.namespace, run.name, run.input) == ("custom_tool_call", "ns", "run", "ls -l")
    assert weather.type == "function_call" and answer["output"][0]["status"] == "completed"


@pytest.mark.parametrize(("finish_reason", "reason"), [("length", "max_output_tokens"),
                                                        ("content_filter", "content_filter")])
def test_an_answer_cut_short_is_incomplete(finish_reason, reason):
    response = Response.model_validate(chat_to_response(completion({"content": "It r"}, finish_reason), "m", ECHO))
    assert response.status == "incomplete" and response.incomplete_details.reason == reason
    assert response.output[0].status == "incomplete"


def test_without_the_provider_s_usage_it_is_estimated():
    response = chat_to_response(completion({"content": "x" * 40}), "m", ECHO, input_estimate=12)
    assert (response["usage"]["input_tokens"], response["usage"]["output_tokens"]) == (12, 10)


# --- streams ---------------------------------------------------------------------------------------

def chat_sse(*chunks: dict) -> bytes:
    return b"".join(b"data: " + orjson.dumps(chunk) + b"\n\n" for chunk in chunks) + b"data: [DONE]\n\n"


def chunk(delta: dict | None = None, finish_reason: str | None = None, usage: dict | None = None) -> dict:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": choices,
            "usage": usage}


def accumulated(data: bytes) -> tuple[list[dict], object]:
    """The events, each checked against the SDK's types, and what the SDK's accumulator makes of them (its
    last event: `response.completed` carries the final response)."""
    state = ResponseStreamState(input_tools=omit, text_format=omit)
    raw, last = [], None
    for event in SSEParser().feed(data):
        payload = orjson.loads(event.data)
        assert event.event == payload["type"]
        raw.append(payload)
        last = state.handle_event(EVENTS.validate_python(payload))[-1]
    assert [event["sequence_number"] for event in raw] == list(range(len(raw)))
    return raw, last


STREAM = chat_sse(
    chunk({"role": "assistant", "content": None, "reasoning_content": "Look "}),
    chunk({"reasoning_content": "it up."}),
    chunk({"content": "It "}), chunk({"content": "rains."}),
    chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                           "function": {"name": "get_weather", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 1, "id": "call_2", "type": "function",
                           "function": {"name": "get_weather", "arguments": '{"city":'}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
    chunk({"tool_calls": [{"index": 1, "function": {"arguments": '"Rome"}'}}]}),
    chunk({}, "tool_calls"), chunk(usage=USAGE))


@pytest.mark.parametrize("size", [None, 1, 7])
def test_a_stream_gives_what_the_whole_answer_gives(size):
    translator = ChatToResponsesStream("p", "m", ECHO)
    pieces = [STREAM] if size is None else [STREAM[i:i + size] for i in range(0, len(STREAM), size)]
    raw, last = accumulated(b"".join(translator.feed(piece) for piece in pieces) + translator.close())
    assert last.type == "response.completed" and last.response.output_text == "It rains."
    streamed = Response.model_validate(raw[-1]["response"], strict=True)
    whole = Response.model_validate(chat_to_response(completion(
        {"content": "It rains.", "reasoning_content": "Look it up.", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
            {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'}}]},
        "tool_calls", USAGE), "m", ECHO))
    without_ids = {"id", "created_at"}
    assert [item.model_dump(exclude=without_ids) for item in streamed.output] == \
        [item.model_dump(exclude=without_ids) for item in whole.output]
    assert streamed.model_dump(exclude={"id", "created_at", "output"}) == \
        whole.model_dump(exclude={"id", "created_at", "output"})
    assert translator.usage == (20, 9)
    kinds = [event["type"] for event in raw]
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] == "response.completed"


def test_a_custom_tool_call_streams_its_input_when_it_closes():
    translator = ChatToResponsesStream("p", "m", CUSTOM_ECHO)
    data = chat_sse(chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                           "function": {"name": "ns__run", "arguments": '{"inp'}}]}),
                    chunk({"tool_calls": [{"index": 0, "function": {"arguments": 'ut": "ls"}'}}]}),
                    chunk({}, "tool_calls"))
    raw, last = accumulated(translator.feed(data) + translator.close())
    assert [event["type"] for event in raw[2:]] == [
        "response.output_item.added", "response.custom_tool_call_input.delta", "response.custom_tool_call_input.done",
        "response.output_item.done", "response.completed"]
    assert raw[3]["delta"] == raw[4]["input"] == "ls" and raw[2]["item"]["input"] == ""
    [call] = last.response.output
    assert (call.type, call.namespace, call.name, call.input, call.call_id) == (
        "custom_tool_call", "ns", "run", "ls", "call_1")


def test_a_whole_answer_fed_as_a_stream_is_the_same():
    """What the relay does for a provider that answered whole when asked to stream."""
    answer = completion({"content": "It rains."}, usage=USAGE)
    translator = ChatToResponsesStream("p", "m", ECHO)
    _, last = accumulated(translator.feed(as_upstream_stream(answer, "openai")) + translator.close())
    assert last.response.output_text == "It rains." and last.response.usage.output_tokens == 9


def test_a_stream_cut_at_length_is_incomplete():
    translator = ChatToResponsesStream("p", "m", ECHO)
    raw, _ = accumulated(translator.feed(chat_sse(chunk({"content": "It r"}), chunk({}, "length"))))
    assert raw[-1]["type"] == "response.incomplete"
    assert raw[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}
    assert raw[-1]["response"]["output"][0]["status"] == "incomplete"


def test_a_stream_without_done_still_completes_and_without_usage_is_estimated():
    translator = ChatToResponsesStream("p", "m", ECHO, input_estimate=7)
    data = chat_sse(chunk({"content": "x" * 8}), chunk({}, "stop")).removesuffix(b"data: [DONE]\n\n")
    raw, _ = accumulated(translator.feed(data) + translator.close())
    assert raw[-1]["type"] == "response.completed" and raw[-1]["response"]["usage"]["output_tokens"] == 2
    assert translator.usage == (None, None) and translator.estimated_usage == (7, 2)


@pytest.mark.parametrize(("data", "words"), [
    (b"data: " + orjson.dumps(chunk({"content": "It "})) + b"\n\n", "provider 'p' ended its stream early."),
    (b"data: " + orjson.dumps(chunk({"content": "It "})) + b'\n\ndata: {"error": {"message": "Overloaded"}}\n\n',
     "Overloaded (provider 'p')"),
], ids=["ended early", "error chunk"])
def test_a_failing_stream_ends_with_response_failed(data, words):
    translator = ChatToResponsesStream("p", "m", ECHO)
    raw, _ = accumulated(translator.feed(data) + translator.close())
    failed = raw[-1]
    assert failed["type"] == "response.failed" and failed["response"]["error"]["message"] == words
    assert failed["response"]["output"][0]["content"][0]["text"] == "It "
    assert translator.failure == words and translator.feed(b"data: [DONE]\n\n") == b""


def test_a_failure_before_anything_still_starts_the_response():
    raw, _ = accumulated(ChatToResponsesStream("p", "m", ECHO).close())
    assert [event["type"] for event in raw] == ["response.created", "response.in_progress", "response.failed"]


def test_a_passed_through_stream_failing_ends_with_an_error_event_before_its_response_and_nothing_after_it():
    """`response.failed` needs the response the stream announced: before any, an `error` event; after the
    stream's own end, nothing."""
    error, stream = ApiError(502, "provider 'p' failed"), StreamUsage("openai")
    [event] = SSEParser().feed(passthrough_failed(error, stream))
    assert event.event == "error" and EVENTS.validate_python(orjson.loads(event.data)).model_dump() == {
        "type": "error", "code": "server_error", "message": "provider 'p' failed", "param": None, "sequence_number": 0}
    completed = {"type": "response.completed", "sequence_number": 0,
                 "response": {"id": "resp_1", "status": "completed", "usage": None}}
    stream.feed(b"event: response.completed\ndata: " + orjson.dumps(completed) + b"\n\n")
    assert passthrough_failed(error, stream) == b""


def test_every_responses_field_classified():
    """A failure means the installed SDK knows a field the translation does not: translate, drop or refuse it."""
    from openai.types.responses import response_create_params as params
    fields = {name for typed_dict in (params.ResponseCreateParamsBase, params.ResponseCreateParamsStreaming)
              for name in typed_dict.__annotations__}
    assert fields - TRANSLATED_FIELDS - DROPPED_FIELDS == set()
