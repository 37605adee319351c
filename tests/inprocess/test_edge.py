"""The HTTP edge in process: keys, errors in each endpoint's dialect, request ids, and a request carried out to a
real (fake) upstream and recorded."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from tests.gateway import SERVER_KEY

pytestmark = pytest.mark.asyncio(loop_scope="session")

CHAT = {"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "hi"}]}
MESSAGE = {"model": "fake:gpt-fake", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


async def test_health_needs_no_key(served):
    response, body = await served.request("GET", "/health", key=None)
    assert response.status == 200
    assert orjson.loads(body)["status"] == "ok"


@pytest.mark.parametrize(("path", "payload", "shape"), [
    ("/v1/chat/completions", CHAT, "openai"),
    ("/v1/messages", MESSAGE, "anthropic"),
])
async def test_a_missing_key_is_refused_in_the_endpoints_dialect(served, path, payload, shape):
    response, body = await served.request("POST", path, payload, key=None)
    error = orjson.loads(body)
    assert response.status == 401
    if shape == "openai":
        assert error["error"]["code"] == "missing_api_key"
    else:
        assert error == {"type": "error", "error": {"type": "authentication_error",
                                                    "message": error["error"]["message"]}}


async def test_bad_json_is_a_400_with_the_request_id(served):
    response, body = await served.request("POST", "/v1/chat/completions", b"{not json",
                                          headers={"x-request-id": "my-request-1"})
    assert response.status == 400
    assert orjson.loads(body)["error"]["code"] == "invalid_json"
    assert response.get_first_header(b"x-request-id") == b"my-request-1"


async def test_unknown_paths_and_methods(served):
    response, body = await served.request("GET", "/v1/chat/completions")
    assert response.status == 405
    assert orjson.loads(body)["error"]["code"] == "method_not_allowed"
    response, body = await served.request("POST", "/v1/batches", {})
    assert response.status == 404
    assert orjson.loads(body)["error"]["code"] == "unsupported_endpoint"


async def test_a_chat_completion_is_relayed_and_recorded(served):
    response, body = await served.request("POST", "/v1/chat/completions", CHAT,
                                          headers={"x-request-id": "inprocess-chat-1"})
    assert response.status == 200, body
    answer = orjson.loads(body)
    assert answer["object"] == "chat.completion"
    assert answer["usage"]["total_tokens"] > 0
    for _ in range(40):  # the writer process flushes every 250 ms
        response, page = await served.request("GET", "/admin/activity")
        records = [row for row in orjson.loads(page)["data"] if row["request_id"] == "inprocess-chat-1"]
        if records:
            break
        await asyncio.sleep(0.1)
    assert records, "the request was not recorded"
    assert records[0]["model"] == "fake:gpt-fake"
    assert records[0]["total_tokens"] == answer["usage"]["total_tokens"]


async def test_an_openai_stream_to_an_anthropic_provider_is_translated(served):
    response, body = await served.request("POST", "/v1/chat/completions",
                                          {**CHAT, "model": "anth:claude-fake", "stream": True})
    assert response.status == 200, body
    events = [line for line in body.split(b"\n") if line.startswith(b"data: ")]
    assert events[-1] == b"data: [DONE]"
    assert b"chat.completion.chunk" in events[0]


async def test_count_tokens_of_a_provider_that_cannot_count_is_estimated(served):
    response, body = await served.request("POST", "/v1/messages/count_tokens", MESSAGE)
    assert response.status == 200, body
    assert orjson.loads(body)["input_tokens"] > 0


async def test_the_admin_api_needs_the_server_key(served):
    response, body = await served.request("GET", "/admin/status", key="writer-key-0123456789")
    assert response.status == 403
    response, body = await served.request("GET", "/admin/status", key=SERVER_KEY)
    assert orjson.loads(body)["activity_recording"] is True


@pytest.mark.parametrize(("path", "payload"), [("/v1/chat/completions", CHAT), ("/v1/messages", MESSAGE)])
async def test_an_empty_model_is_a_400_not_the_default(served, path, payload):
    """Issue 21 item 11: `"model": ""` is refused; only a missing model, null and "default" mean the default."""
    response, body = await served.request("POST", path, payload | {"model": ""}, headers={"x-api-key": SERVER_KEY})
    assert response.status == 400
    text = body.decode()
    assert "'model' is empty" in text and "default" in text


@pytest.mark.parametrize("method", ["GET"])  # the in-process client sends other methods as POST
async def test_another_method_on_a_served_path_is_a_405_with_allow(served, method):
    """Issue 21 item 18: 405 (not 404) for any other method on a served path, with an Allow header (RFC 9110)."""
    response, body = await served.request(method, "/v1/chat/completions")
    assert response.status == 405
    assert response.get_first_header(b"allow") == b"POST"
    assert orjson.loads(body)["error"]["code"] == "method_not_allowed"
