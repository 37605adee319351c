"""OpenAI's Responses API (`POST /v1/responses`), driven with the official SDK through a real server to the
fake OpenAI provider (over Chat Completions) and the fake Anthropic one (over Messages), and passed through
to a provider configured with `responses = "native"`."""

from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent
from pydantic import TypeAdapter

from tests.conftest import UPSTREAM_KEY, WRITER_KEY, activity_of, gateway_config, openai_sdk, upstream_record
from tests.gateway import SERVER_KEY, start_gateway

MODELS = [pytest.param("fake:gpt-fake", id="openai"), pytest.param("anth:claude-fake-sonnet", id="anthropic")]
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather of a city", "strict": False,
           "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                          "required": ["location"]}}
EVENTS = TypeAdapter(ResponseStreamEvent)


def rid() -> str:
    return f"test-{uuid.uuid4().hex}"


def ask(client: openai.OpenAI, streamed: bool, request_id: str | None = None, **params) -> Response:
    """The response, whole or as `client.responses.stream` puts it together."""
    headers = {"X-Request-Id": request_id or rid()}
    if not streamed:
        return client.responses.create(**params, extra_headers=headers)
    with client.responses.stream(**params, extra_headers=headers) as stream:
        return stream.get_final_response()


def raw_events(http: httpx.Client, body: dict, request_id: str | None = None) -> list[dict]:
    """The events of a streamed response as sent, each checked against the SDK's event types."""
    headers = {"Authorization": f"Bearer {SERVER_KEY}", "X-Request-Id": request_id or rid()}
    with http.stream("POST", "/v1/responses", json={**body, "stream": True}, headers=headers) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        frames = response.read().decode().split("\n\n")
    events = []
    for frame in filter(None, frames):
        name, data = frame.split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert name == f"event: {event['type']}"
        EVENTS.validate_python(event)
        events.append(event)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    return events


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_text_answer(client, http, model, streamed):
    request_id = rid()
    response = ask(client, streamed, request_id, model=model, input="hello there")
    assert response.output_text == "echo: hello there"
    assert response.object == "response" and response.id.startswith("resp_") and response.status == "completed"
    assert response.model == model.partition(":")[2]
    [message] = response.output
    assert message.type == "message" and message.role == "assistant" and message.status == "completed"
    assert message.content[0].annotations == []
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    record = activity_of(http, request_id)
    assert (record["input_tokens"], record["output_tokens"], record["tokens_estimated"]) == (
        response.usage.input_tokens, response.usage.output_tokens, False)
    assert record["status"] == 200 and record["stream"] == streamed and record["path"] == "/v1/responses"


@pytest.mark.parametrize("model", MODELS)
def test_the_wire_shapes_are_the_sdk_types_exactly(http, model):
    """The whole answer validates as the SDK's `Response`, every event as a `ResponseStreamEvent`, in order."""
    body = {"model": model, "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
            "instructions": "Be brief.", "tools": [WEATHER], "tool_choice": "none"}
    whole = http.post("/v1/responses", json=body, headers={"Authorization": f"Bearer {SERVER_KEY}"})
    assert whole.status_code == 200
    response = Response.model_validate(whole.json(), strict=True)
    assert response.instructions == "Be brief." and response.tools[0].name == "get_weather"
    assert response.tool_choice == "none" and response.parallel_tool_calls is True and response.error is None
    events = raw_events(http, body)
    assert [event["type"] for event in events] == [
        "response.created", "response.in_progress", "response.output_item.added", "response.content_part.added",
        *["response.output_text.delta"] * (len(events) - 8),
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed"]
    final = Response.model_validate(events[-1]["response"], strict=True)
    assert final.output_text == response.output_text == "echo: hi"
    assert final.id == events[0]["response"]["id"] and events[0]["response"]["status"] == "in_progress"


@pytest.mark.parametrize("model", MODELS)
def test_instructions_reach_the_provider_as_a_system_message(client, upstream, anthropic_upstream, model):
    request_id = rid()
    client.responses.create(model=model, instructions="You are terse.", input="hello there",
                            extra_headers={"X-Request-Id": request_id})
    if model.startswith("fake:"):
        messages = upstream_record(upstream, request_id)["body"]["messages"]
        assert messages == [{"role": "system", "content": "You are terse."},
                            {"role": "user", "content": "hello there"}]
    else:
        seen = upstream_record(anthropic_upstream, request_id)["body"]
        assert seen["system"] == "You are terse."
        assert seen["messages"] == [{"role": "user", "content": "hello there"}]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_function_tool_round_trip(client, upstream, anthropic_upstream, model, streamed):
    conversation = [{"role": "user", "content": "Weather in Paris?"}]
    first = ask(client, streamed, model=model, input=conversation, tools=[WEATHER])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert (call.name, json.loads(call.arguments), call.status) == ("get_weather", {"location": "Paris"}, "completed")
    assert call.call_id and first.status == "completed"
    conversation += [item.model_dump(exclude_none=True) for item in first.output]
    conversation.append({"type": "function_call_output", "call_id": call.call_id, "output": "sunny"})
    request_id = rid()
    second = ask(client, streamed, request_id, model=model, input=conversation, tools=[WEATHER])
    assert second.output_text == "tool said: sunny"
    if model.startswith("fake:"):
        messages = upstream_record(upstream, request_id)["body"]["messages"]
        assert messages[1]["tool_calls"][0]["id"] == call.call_id
        assert messages[-1] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}
    else:
        messages = upstream_record(anthropic_upstream, request_id)["body"]["messages"]
        assert messages[-1]["content"] == [{"type": "tool_result", "tool_use_id": call.call_id, "content": "sunny"}]


NAMESPACE = {"type": "namespace", "name": "weather_v1", "description": "Weather tools", "tools": [
    {k: v for k, v in WEATHER.items() if k != "strict"}]}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_codex_style_tools_a_namespace_and_a_hosted_one(client, upstream, anthropic_upstream, model, streamed):
    """Codex CLI offers its sub-agent functions in a namespace and `web_search` beside them: the namespace's
    functions reach the provider (as `weather_v1__get_weather`) and come back named as the client knows them;
    web_search, which a chat provider cannot run, is left out."""
    request_id = rid()
    first = ask(client, streamed, request_id, model=model, input="Weather in Paris?",
                tools=[{"type": "web_search"}, NAMESPACE])
    [call] = [item for item in first.output if item.type == "function_call"]
    assert (call.namespace, call.name, json.loads(call.arguments)) == ("weather_v1", "get_weather", {"location": "Paris"})
    sent = upstream_record(upstream if model.startswith("fake:") else anthropic_upstream, request_id)["body"]
    names = [tool["function"]["name"] if "function" in tool else tool["name"] for tool in sent["tools"]]
    assert names == ["weather_v1__get_weather"]
    conversation = [{"role": "user", "content": "Weather in Paris?"}, call.model_dump(exclude_none=True),
                    {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]
    second = ask(client, streamed, model=model, input=conversation, tools=[{"type": "web_search"}, NAMESPACE])
    assert second.output_text == "tool said: sunny"


APPLY_PATCH = {"type": "custom", "name": "apply_patch", "description": "Edit files.", "format": {
    "type": "grammar", "syntax": "lark", "definition": 'start: "*** Begin Patch" LF hunk+ "*** End Patch" LF?'}}


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_custom_tool_round_trip(client, upstream, anthropic_upstream, model, streamed):
    """Codex CLI offers apply_patch as a custom (freeform) tool: the provider gets a function taking the raw
    text as `input` (told of the grammar), its call comes back as a `custom_tool_call` with that text, and
    the call and its output go back to the provider as a tool call and its result."""
    openai_type, request_id = model.startswith("fake:"), rid()
    first = ask(client, streamed, request_id, model=model, input="Fix the typo.", tools=[APPLY_PATCH],
                tool_choice={"type": "custom", "name": "apply_patch"})
    [call] = [item for item in first.output if item.type == "custom_tool_call"]
    assert (call.type, call.name, call.input, call.status) == ("custom_tool_call", "apply_patch", "Paris", "completed")
    assert call.call_id and call.id.startswith("ctc_") and first.status == "completed"
    sent = upstream_record(upstream if openai_type else anthropic_upstream, request_id)["body"]
    [tool] = sent["tools"]
    function = tool["function"] if openai_type else tool
    schema = function["parameters" if openai_type else "input_schema"]
    assert function["name"] == "apply_patch" and schema["required"] == ["input"]
    assert "Edit files." in function["description"] and APPLY_PATCH["format"]["definition"] in function["description"]
    assert sent["tool_choice"] == ({"type": "function", "function": {"name": "apply_patch"}} if openai_type
                                   else {"type": "tool", "name": "apply_patch"})
    conversation = [{"role": "user", "content": "Fix the typo."}, *[item.model_dump(exclude_none=True) for item in
                                                                   first.output],
                    {"type": "custom_tool_call_output", "call_id": call.call_id, "output": "Done!"}]
    request_id = rid()
    second = ask(client, streamed, request_id, model=model, input=conversation, tools=[APPLY_PATCH])
    assert second.output_text == "tool said: Done!"
    messages = upstream_record(upstream if openai_type else anthropic_upstream, request_id)["body"]["messages"]
    if openai_type:
        [sent_call] = messages[1]["tool_calls"]
        assert (sent_call["id"], sent_call["function"]["name"]) == (call.call_id, "apply_patch")
        assert json.loads(sent_call["function"]["arguments"]) == {"input": "Paris"}
        assert messages[-1] == {"role": "tool", "tool_call_id": call.call_id, "content": "Done!"}
    else:
        assert messages[1]["content"][-1]["input"] == {"input": "Paris"}
        assert messages[-1]["content"] == [{"type": "tool_result", "tool_use_id": call.call_id, "content": "Done!"}]


def test_a_custom_tool_call_streams_its_input(http):
    events = raw_events(http, {"model": "fake:gpt-fake", "input": "Fix the typo.", "tools": [APPLY_PATCH]})
    assert [event["type"] for event in events[2:]] == [
        "response.output_item.added", "response.custom_tool_call_input.delta", "response.custom_tool_call_input.done",
        "response.output_item.done", "response.completed"]
    added, delta, done, item_done, completed = events[2:]
    assert added["item"]["type"] == "custom_tool_call" and added["item"]["input"] == ""
    assert delta["delta"] == done["input"] == item_done["item"]["input"] == "Paris"
    assert delta["item_id"] == done["item_id"] == added["item"]["id"] == item_done["item"]["id"]
    final = Response.model_validate(completed["response"], strict=True)
    assert final.output[0].model_dump() == {**item_done["item"], "async_": None, "caller": None, "namespace": None}


@pytest.mark.parametrize("model", MODELS)
def test_max_output_tokens_makes_an_incomplete_response(client, http, model):
    whole = client.responses.create(model=model, input="hello there", max_output_tokens=1)
    assert whole.status == "incomplete" and whole.incomplete_details.reason == "max_output_tokens"
    assert whole.output[0].status == "incomplete" and whole.max_output_tokens == 1
    events = raw_events(http, {"model": model, "input": "hello there", "max_output_tokens": 1})
    assert events[-1]["type"] == "response.incomplete"
    last = Response.model_validate(events[-1]["response"])
    assert last.status == "incomplete" and last.incomplete_details.reason == "max_output_tokens"
    assert last.output_text == whole.output_text


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize(("model", "extra"), [
    pytest.param("fake:gpt-fake", {"extra_body": {"fake": {"reasoning": "Thinking it over."}}}, id="openai"),
    pytest.param("anth:claude-fake-sonnet", {"reasoning": {"effort": "low"}}, id="anthropic")])
def test_reasoning_is_a_reasoning_item_with_its_summary(client, model, extra, streamed):
    response = ask(client, streamed, model=model, input="hello there", **extra)
    reasoning, message = response.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].type == "summary_text"
    assert reasoning.summary[0].text == ("Thinking it over." if model.startswith("fake:")
                                         else "The user wants an echo.")
    assert response.output_text == "echo: hello there"


def test_reasoning_summaries_stream(http):
    events = raw_events(http, {"model": "fake:gpt-fake", "input": "hi", "fake": {"reasoning": "Hmm."}})
    kinds = [event["type"] for event in events]
    assert kinds[2:4] == ["response.output_item.added", "response.reasoning_summary_part.added"]
    assert "".join(event["delta"] for event in events if event["type"] == "response.reasoning_summary_text.delta") \
        == "Hmm."
    assert kinds.index("response.reasoning_summary_part.done") < kinds.index("response.content_part.added")


def test_a_reasoning_summary_goes_back_to_the_provider(client, upstream):
    """A tool loop sends the reasoning back, as DeepSeek-style models want it."""
    request_id = rid()
    conversation = [{"role": "user", "content": "Weather?"},
                    {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Ask the tool."}]},
                    {"type": "function_call", "call_id": "call_1", "name": "get_weather",
                     "arguments": '{"location": "Paris"}'},
                    {"type": "function_call_output", "call_id": "call_1", "output": "rain"}]
    client.responses.create(model="fake:gpt-fake", input=conversation, tools=[WEATHER],
                            extra_headers={"X-Request-Id": request_id})
    assistant = upstream_record(upstream, request_id)["body"]["messages"][1]
    assert assistant["role"] == "assistant" and assistant["reasoning_content"] == "Ask the tool."


@pytest.mark.parametrize("model", MODELS)
def test_structured_output_through_text_format(client, upstream, model):
    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
              "additionalProperties": False}
    request_id = rid()
    response = client.responses.create(
        model=model, input="hello there", extra_headers={"X-Request-Id": request_id},
        text={"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}})
    assert set(json.loads(response.output_text)) == {"city"}
    assert response.text.format.type == "json_schema"
    if model.startswith("fake:"):
        assert upstream_record(upstream, request_id)["body"]["response_format"] == {
            "type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}}


@pytest.mark.parametrize(("params", "param", "words"), [
    ({"previous_response_id": "resp_123"}, "previous_response_id", "Gatehouse stores no responses"),
    ({"tools": [{"type": "web_search"}], "tool_choice": {"type": "web_search"}}, "tool_choice",
     "tool_choice of type 'web_search' is not supported"),
    ({"background": True}, "background", "Background responses"),
    ({"input": [{"type": "input_image", "file_id": "file-1"}]}, "input[0].type", "'input_image' are not supported"),
    ({"tools": [NAMESPACE, {"type": "custom", "name": "weather_v1__get_weather"}]}, "tools[1].name",
     "'weather_v1__get_weather' names another tool"),
], ids=["previous_response_id", "forced web_search", "background", "input item", "colliding names"])
def test_what_needs_stored_state_or_hosted_tools_is_refused(client, upstream, params, param, words):
    request_id = rid()
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(**{"model": "fake:gpt-fake", "input": "hi", **params},
                                extra_headers={"X-Request-Id": request_id})
    assert caught.value.status_code == 400 and caught.value.param == param and words in caught.value.message
    assert caught.value.body["type"] == "invalid_request_error"
    assert httpx.get(f"{upstream}/_fake/requests/{request_id}").status_code == 404  # never sent


def test_a_missing_input_is_refused_in_openai_words(http):
    response = http.post("/v1/responses", json={"model": "fake:gpt-fake"}, headers={"X-Api-Key": SERVER_KEY})
    assert response.status_code == 400
    assert response.json()["error"] == {"message": "Missing required parameter: 'input'.",
                                        "type": "invalid_request_error", "param": "input",
                                        "code": "missing_required_parameter"}


def test_a_provider_error_reaches_the_client_in_openai_words(client):
    with pytest.raises(openai.RateLimitError) as caught:
        client.responses.create(model="fake:gpt-fake", input="hi", extra_body={"fake": {"error_status": 429}})
    assert "provider 'fake'" in caught.value.message


def test_a_client_s_settings_apply(gateway, upstream):
    writer = openai.OpenAI(base_url=gateway.openai_url, api_key=WRITER_KEY, max_retries=0)
    request_id = rid()
    response = writer.responses.create(model="default", input="hello there", instructions="Rhyme.",
                                       extra_headers={"X-Request-Id": request_id})
    seen = upstream_record(upstream, request_id)["body"]
    assert seen["model"] == "gpt-fake-mini" and response.model == "gpt-fake-mini"
    assert seen["messages"][0] == {"role": "system", "content": "You are a poet.\n\nRhyme."}
    assert (seen["max_tokens"], seen["temperature"], seen["top_p"]) == (50, 0.3, 0.9)
    assert response.max_output_tokens == 50 and response.temperature == 0.3


@pytest.mark.parametrize(("model", "fake", "words"), [
    pytest.param("fake:gpt-fake", {"chunks": 4, "fail_after_chunks": 2}, "provider 'fake'", id="openai-dropped"),
    pytest.param("anth:claude-fake-sonnet", {"chunks": 4, "error_event_after_chunks": 2}, "Overloaded",
                 id="anthropic-error-event"),
])
def test_a_provider_failing_mid_stream_fails_the_response(http, model, fake, words):
    request_id = rid()
    events = raw_events(http, {"model": model, "input": "hello there", "fake": fake}, request_id)
    failed = events[-1]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert words in failed["response"]["error"]["message"] and failed["response"]["error"]["code"] == "server_error"
    assert failed["response"]["error"]["message"].count("provider '") == 1
    assert failed["response"]["output"][0]["status"] == "incomplete"  # the text so far
    assert "response.completed" not in [event["type"] for event in events]
    record = activity_of(http, request_id)
    assert record["status"] == 200 and record["error"] == failed["response"]["error"]["message"]


NATIVE = f"""
[providers.native]
type = "openai"
base_url = "{{upstream}}/v1"
api_key = "{UPSTREAM_KEY}"
responses = "native"

[providers.ollama_native]
type = "ollama"
base_url = "{{upstream}}"
api_key = "{UPSTREAM_KEY}"
responses = "native"
"""


@pytest.fixture(scope="module")
def native_gateway(upstreams, tmp_path_factory):
    """The test gateway with a provider that serves the Responses API itself (as OpenAI's does)."""
    server = start_gateway(gateway_config(upstreams) + NATIVE.replace("{upstream}", upstreams[0]),
                           tmp_path_factory.mktemp("native"))
    yield server
    print(server.stop())


@pytest.fixture
def native_http(native_gateway):
    with httpx.Client(base_url=native_gateway.base_url, timeout=30) as session:
        yield session


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_a_native_provider_gets_the_responses_request_as_sent(native_gateway, native_http, upstream, streamed):
    """Hosted tools, which a chat provider cannot run, reach it; the answer and its usage come back."""
    request_id = rid()
    tools = [{"type": "web_search"}, {**WEATHER, "strict": True}]
    response = ask(openai_sdk(native_gateway), streamed, request_id, model="native:gpt-fake", input="hello there",
                   instructions="Be brief.", tools=tools, store=False, include=["reasoning.encrypted_content"])
    assert response.output_text == "echo: hello there" and response.tools[0].type == "web_search"
    seen = upstream_record(upstream, request_id)
    assert seen["path"] == "/v1/responses" and "messages" not in seen["body"]
    assert seen["body"] == {"model": "gpt-fake", "input": "hello there", "instructions": "Be brief.", "tools": tools,
                            "store": False, "include": ["reasoning.encrypted_content"],
                            **({"stream": True} if streamed else {})}
    record = activity_of(native_http, request_id)
    assert (record["input_tokens"], record["output_tokens"], record["tokens_estimated"]) == (
        response.usage.input_tokens, response.usage.output_tokens, False)
    assert record["provider"] == "native" and record["stream"] == streamed and record["error"] is None


def test_a_client_s_settings_apply_to_a_native_request(native_gateway, upstream):
    writer = openai.OpenAI(base_url=native_gateway.openai_url, api_key=WRITER_KEY, max_retries=0)
    request_id = rid()
    writer.responses.create(model="native:gpt-fake", input="hi", instructions="Rhyme.",
                            extra_headers={"X-Request-Id": request_id})
    seen = upstream_record(upstream, request_id)["body"]
    assert seen["instructions"] == "You are a poet.\n\nRhyme."
    assert (seen["max_output_tokens"], seen["temperature"], seen["top_p"]) == (50, 0.3, 0.9)


def test_a_native_stream_ending_in_response_failed_fails_the_record(native_http):
    request_id = rid()
    events = raw_events(native_http, {"model": "native:gpt-fake", "input": "hello there",
                                      "fake": {"error_event_after_chunks": 1}}, request_id)
    assert events[-1]["type"] == "response.failed"
    record = activity_of(native_http, request_id)
    assert record["status"] == 200 and record["error"] == events[-1]["response"]["error"]["message"]


def test_a_native_provider_answering_a_stream_whole_is_passed_on_whole(native_http):
    """A Responses object is no chat completion: it is not remade into a chat stream."""
    request_id = rid()
    body = {"model": "native:gpt-fake", "input": "hello there", "stream": True, "fake": {"ignore_stream": True}}
    answer = native_http.post("/v1/responses", json=body,
                              headers={"Authorization": f"Bearer {SERVER_KEY}", "X-Request-Id": request_id})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    response = Response.model_validate(answer.json(), strict=True)
    assert response.output_text == "echo: hello there"
    record = activity_of(native_http, request_id)
    assert (record["input_tokens"], record["output_tokens"]) == (
        response.usage.input_tokens, response.usage.output_tokens)


def test_a_native_stream_dropped_mid_way_ends_with_response_failed(native_gateway, native_http):
    """The provider's connection lost after two text deltas: the client's stream ends with the response it was
    announced, failed, in Responses events (no chat-style error frame), and the record is a failure."""
    request_id = rid()
    body = {"model": "native:gpt-fake", "input": "hello there", "fake": {"chunks": 4, "fail_after_chunks": 2}}
    events = raw_events(native_http, body, request_id)
    failed = events[-1]
    assert failed["type"] == "response.failed" and failed["response"]["status"] == "failed"
    assert failed["response"]["id"] == events[0]["response"]["id"]
    error = failed["response"]["error"]
    assert error["code"] == "server_error" and "provider 'native'" in error["message"]
    assert [event["type"] for event in events].count("response.output_text.delta") == 2
    record = activity_of(native_http, request_id)
    assert record["status"] == 200 and record["error"] == error["message"]
    with openai_sdk(native_gateway).responses.stream(model="native:gpt-fake", input="hello there",
                                                     extra_body={"fake": body["fake"]}) as stream:
        seen = list(stream)
    assert seen[-1].type == "response.failed" and seen[-1].response.error.code == "server_error"
    assert "".join(event.delta for event in seen if event.type == "response.output_text.delta") == "echo: he"


def test_a_native_stream_ended_before_the_response_is_complete_ends_with_response_failed(native_gateway, native_http):
    """The provider ends its stream cleanly after two text deltas, without closing the response: the SDK's
    stream would end with no final event; the gateway closes it as failed, and the record is a failure."""
    request_id = rid()
    body = {"model": "native:gpt-fake", "input": "hello there", "fake": {"chunks": 4, "end_after_chunks": 2}}
    events = raw_events(native_http, body, request_id)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    failed = events[-1]
    assert failed["type"] == "response.failed" and failed["response"]["id"] == events[0]["response"]["id"]
    assert "provider 'native' ended the stream" in failed["response"]["error"]["message"]
    assert activity_of(native_http, request_id)["error"] == failed["response"]["error"]["message"]
    with openai_sdk(native_gateway).responses.stream(model="native:gpt-fake", input="hello there",
                                                     extra_body={"fake": body["fake"]}) as stream:
        seen = list(stream)
    assert seen[-1].type == "response.failed" and seen[-1].response.status == "failed"
    whole = raw_events(native_http, {**body, "fake": {"chunks": 4}}, rid())
    assert whole[-1]["type"] == "response.completed"  # a complete stream gets nothing after its end


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_an_ollama_provider_set_to_native_gets_the_request_at_its_v1_responses(native_gateway, native_http, upstream,
                                                                                streamed):
    """Recent Ollama serves the Responses API under its /v1; without the setting, it is translated."""
    request_id = rid()
    response = ask(openai_sdk(native_gateway), streamed, request_id, model="ollama_native:llama3.2:1b",
                   input="hello there", tools=[APPLY_PATCH])
    assert response.output_text == "echo: hello there" and response.model == "llama3.2:1b"
    seen = upstream_record(upstream, request_id)
    assert seen["path"] == "/v1/responses" and seen["body"]["tools"] == [APPLY_PATCH]
    record = activity_of(native_http, request_id)
    assert (record["provider"], record["output_tokens"], record["tokens_estimated"]) == (
        "ollama_native", response.usage.output_tokens, False)
    request_id = rid()
    ask(openai_sdk(native_gateway), streamed, request_id, model="ollama:llama3.2:1b", input="hello there")
    assert upstream_record(upstream, request_id)["path"] == "/v1/chat/completions"
