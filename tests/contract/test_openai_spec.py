"""The gateway's answers, from a real server over a real socket, against OpenAI's published component schemas
(tests/contract/openai_schemas.json) — and its Anthropic-format model lists against the installed anthropic SDK's
own model type, validated (the SDK itself builds its objects without validating)."""

from __future__ import annotations

import httpx
import orjson
import pytest
from anthropic.types import ModelInfo

from tests.contract.openai_spec import problems
from tests.gateway import SERVER_KEY

MODEL = "fake:gpt-fake"
KEY = {"Authorization": f"Bearer {SERVER_KEY}"}
HELLO = [{"role": "user", "content": "hi"}]
TOOL = {"type": "function", "name": "weather", "parameters": {"type": "object", "properties": {}}}


def events(response: httpx.Response) -> list[dict]:
    """The JSON `data:` payloads of a server-sent event stream."""
    return [orjson.loads(line[5:]) for line in response.text.splitlines()
            if line.startswith("data:") and line[5:].strip() != "[DONE]"]


def conforms(component: str, value: object) -> None:
    assert not problems(component, value), (component, problems(component, value), value)


@pytest.mark.parametrize(("path", "body", "component"), [
    ("/v1/chat/completions", {"model": MODEL, "messages": HELLO}, "CreateChatCompletionResponse"),
    ("/v1/completions", {"model": MODEL, "prompt": "hi"}, "CreateCompletionResponse"),
    ("/v1/embeddings", {"model": MODEL, "input": "hi"}, "CreateEmbeddingResponse"),
    ("/v1/responses", {"model": MODEL, "input": "hi", "tools": [TOOL]}, "Response"),
    ("/v1/responses", {"model": MODEL, "input": "hi", "user": "u1"}, "Response"),
])
def test_answers_conform(http, path, body, component):
    answer = http.post(path, json=body, headers=KEY)
    assert answer.status_code == 200, answer.text
    conforms(component, answer.json())


@pytest.mark.parametrize(("path", "body", "component"), [
    ("/v1/chat/completions", {"model": MODEL, "messages": HELLO, "stream": True,
                              "stream_options": {"include_usage": True}}, "CreateChatCompletionStreamResponse"),
    ("/v1/responses", {"model": MODEL, "input": "hi", "stream": True, "tools": [TOOL]}, "ResponseStreamEvent"),
])
def test_stream_events_conform(http, path, body, component):
    answer = http.post(path, json=body, headers=KEY)
    assert answer.status_code == 200, answer.text
    sent = events(answer)
    assert len(sent) > 1
    for event in sent:
        conforms(component, event)


def test_responses_leave_out_what_they_do_not_have(http):
    """No `user: null` when none was given, no `usage: null` before the last event, `strict` on echoed function
    tools (issue 21 item 15)."""
    answer = http.post("/v1/responses", json={"model": MODEL, "input": "hi", "stream": True, "tools": [TOOL]},
                       headers=KEY)
    objects = [event["response"] for event in events(answer) if "response" in event]
    assert objects and all("user" not in one for one in objects)
    assert all(one.get("usage", {}) is not None for one in objects)
    assert all(tool["strict"] is False for one in objects for tool in one["tools"])


def test_models_and_errors_conform(http):
    listed = http.get("/v1/models", headers=KEY).json()
    conforms("ListModelsResponse", listed)
    one = http.get(f"/v1/models/{listed['data'][0]['id']}", headers=KEY)
    conforms("Model", one.json())
    for answer in (http.get("/v1/models/fake:no-such-model", headers=KEY),
                   http.post("/v1/chat/completions", json={"model": MODEL}, headers=KEY),
                   http.post("/v1/responses", json={"model": MODEL, "input": []}, headers=KEY),
                   http.get("/v1/models", headers={"Authorization": "Bearer wrong"})):
        assert answer.status_code >= 400
        conforms("ErrorResponse", answer.json())


def test_anthropic_model_lists_validate_as_the_sdk_types_them(http):
    """`lifecycle` is required by the anthropic SDK's `ModelInfo` (issue 21 item 16)."""
    headers = {"x-api-key": SERVER_KEY, "anthropic-version": "2023-06-01"}
    listed = http.get("/v1/models", headers=headers).json()["data"]
    assert listed
    for model in [*listed, http.get(f"/v1/models/{listed[0]['id']}", headers=headers).json()]:
        assert ModelInfo.model_validate(model).lifecycle == "active"
