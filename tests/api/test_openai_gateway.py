"""The OpenAI-compatible API, driven with the official SDK through a real server and a fake upstream."""

from __future__ import annotations

import socket
import time
import uuid

import anthropic
import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY, WRITER_KEY, activity_of, anthropic_sdk, upstream_record
from tests.gateway import SERVER_KEY

USER = [{"role": "user", "content": "hello there"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                       "required": ["location"]},
    },
}
ANSWERS_WHOLE = {"fake": {"ignore_stream": True}}
"""A provider that answers `"stream": true` with a whole JSON answer."""


def rid() -> str:
    return f"test-{uuid.uuid4().hex}"


# --- models ----------------------------------------------------------------------

def test_models_are_listed_as_provider_and_model(client):
    ids = {model.id for model in client.models.list()}
    assert {"fake:gpt-fake", "fake:gpt-fake-mini", "fixed:gpt-fake", "fixed:gpt-fake-fixed",
            "ollama:llama3.2:1b"} <= ids
    assert not any(model_id.startswith("down:") for model_id in ids)  # unreachable, yet the others list


def test_model_fields_and_filters(http):
    headers = {"Authorization": f"Bearer {SERVER_KEY}"}
    everything = http.get("/v1/models", headers=headers).json()["data"]
    one = next(m for m in everything if m["id"] == "ollama:llama3.2:1b")
    assert one | {"created": 0} == {"id": "ollama:llama3.2:1b", "object": "model", "created": 0,
                                    "owned_by": "ollama", "name": "llama3.2:1b", "provider": "ollama",
                                    "provider_type": "ollama"}
    for param in ("provider_type", "providerType"):
        only = http.get("/v1/models", params={param: "ollama"}, headers=headers).json()["data"]
        assert only and {m["provider_type"] for m in only} == {"ollama"}
    page = http.get("/v1/models", params={"limit": 2, "offset": 1}, headers=headers).json()["data"]
    assert page == everything[1:3]
    bad = http.get("/v1/models", params={"limit": "many"}, headers=headers)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "limit"


def test_one_model(client):
    assert client.models.retrieve("ollama:qwen2.5:0.5b").owned_by == "ollama"
    assert client.models.retrieve("fixed:gpt-fake-fixed").provider == "fixed"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("fake:no-such-model")


# --- chat ----------------------------------------------------------------------------

def test_chat_relays_the_upstream_answer(client, upstream):
    request_id = rid()
    reply = client.chat.completions.create(model="fake:gpt-fake", messages=USER,
                                           extra_headers={"X-Request-Id": request_id})
    assert reply.choices[0].message.content == "echo: hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert reply.usage.completion_tokens == 3 and reply.usage.total_tokens > 3
    seen = upstream_record(upstream, request_id)
    assert seen["body"]["model"] == "gpt-fake"  # the provider prefix is gone upstream
    assert seen["headers"]["authorization"] == f"Bearer {UPSTREAM_KEY}"  # the provider's key, not ours
    assert SERVER_KEY not in str(seen)


def test_chat_stream_arrives_chunk_by_chunk_with_usage(client):
    started = time.monotonic()
    stream = client.chat.completions.create(
        model="fake:gpt-fake", messages=USER, stream=True, stream_options={"include_usage": True},
        extra_body={"fake": {"chunks": 5, "delay_ms": 250}},
    )
    arrivals, text, usage = [], "", None
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
            text += chunk.choices[0].delta.content
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: hello there"
    assert usage is not None and usage.completion_tokens == 5
    # Relayed as they come: the first piece arrived a good while before the last one was produced.
    assert arrivals[-1] - arrivals[0] > 0.75


def test_tools_and_unknown_fields_pass_through(client, upstream):
    request_id = rid()
    reply = client.chat.completions.create(
        model="fake:gpt-fake", messages=USER, tools=[WEATHER_TOOL], tool_choice="auto",
        extra_body={"custom_vendor_field": {"keep": [1, 2]}}, extra_headers={"X-Request-Id": request_id},
    )
    call = reply.choices[0].message.tool_calls[0]
    assert reply.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"location": "Paris"}')
    seen = upstream_record(upstream, request_id)["body"]
    assert seen["tools"] == [WEATHER_TOOL] and seen["tool_choice"] == "auto"
    assert seen["custom_vendor_field"] == {"keep": [1, 2]}


def test_streamed_tool_calls(client):
    stream = client.chat.completions.create(model="fake:gpt-fake", messages=USER, tools=[WEATHER_TOOL],
                                            stream=True)
    names, arguments, finish = [], "", None
    for chunk in stream:
        for call in chunk.choices[0].delta.tool_calls or [] if chunk.choices else []:
            assert call.index == 0
            names += [call.function.name] if call.function.name else []
            arguments += call.function.arguments or ""
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert names == ["get_weather"] and arguments == '{"location": "Paris"}' and finish == "tool_calls"


@pytest.mark.parametrize("include_usage", [False, True], ids=["without usage", "with usage"])
@pytest.mark.parametrize("tools", [[], [WEATHER_TOOL]], ids=["text", "tool call"])
def test_a_provider_answering_whole_still_streams(client, http, tools, include_usage):
    """The SDK asking for a stream gets OpenAI's chunks, usage as OpenAI sends it, and the activity the usage."""
    request_id = rid()
    stream = client.chat.completions.create(
        model="fake:gpt-fake", messages=USER, stream=True, extra_body=ANSWERS_WHOLE,
        extra_headers={"X-Request-Id": request_id}, **({"tools": tools} if tools else {}),
        **({"stream_options": {"include_usage": True}} if include_usage else {}))
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    chunks = list(stream)
    with_choices = [chunk for chunk in chunks if chunk.choices]
    assert with_choices[0].choices[0].delta.role == "assistant"
    text = "".join(chunk.choices[0].delta.content or "" for chunk in with_choices)
    calls = [call for chunk in with_choices for call in chunk.choices[0].delta.tool_calls or ()]
    finish = [chunk.choices[0].finish_reason for chunk in with_choices if chunk.choices[0].finish_reason]
    if tools:  # the arguments as the provider wrote them
        assert not text and finish == ["tool_calls"]
        assert [(call.index, call.function.name, call.function.arguments) for call in calls] == [
            (0, "get_weather", '{"location": "Paris"}')]
    else:
        assert text == "echo: hello there" and finish == ["stop"] and not calls
    if include_usage:  # `"usage": null` on every chunk, then one without choices carrying the usage
        assert chunks[:-1] == with_choices and all("usage" in chunk.model_fields_set for chunk in with_choices)
        assert all(chunk.usage is None for chunk in with_choices) and chunks[-1].choices == []
        usage = chunks[-1].usage
        assert usage.completion_tokens == 3 and usage.prompt_tokens > 0
    else:
        assert chunks == with_choices and not any("usage" in chunk.model_fields_set for chunk in chunks)
    record = activity_of(http, request_id)
    assert record["stream"] and record["status"] == 200 and record["ttfb_ms"] is not None
    assert record["output_tokens"] == 3 and record["input_tokens"] > 0 and not record["tokens_estimated"]


def test_an_error_event_ending_a_relayed_stream_is_recorded(client, http):
    """OpenAI (and vLLM, LiteLLM) end a failing stream with `data: {"error": ...}`: the SDK raises it, and the
    record says so rather than counting a success."""
    request_id = rid()
    frames = ('data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"An '
              'error"}}]}\n\ndata: {"error":{"message":"The server had an error while processing your request.",'
              '"type":"server_error"}}\n\n')
    stream = client.chat.completions.create(model="fake:gpt-fake", messages=USER, stream=True,
                                            extra_body={"fake": {"raw_body": frames,
                                                                 "raw_content_type": "text/event-stream"}},
                                            extra_headers={"X-Request-Id": request_id})
    with pytest.raises(openai.APIError, match="The server had an error"):
        list(stream)
    assert activity_of(http, request_id)["error"] == "The server had an error while processing your request."


def test_ollama_models_are_reached_through_its_openai_endpoints(client, upstream):
    request_id = rid()
    reply = client.chat.completions.create(model="ollama:llama3.2:1b", messages=USER,
                                           extra_headers={"X-Request-Id": request_id})
    assert reply.choices[0].message.content == "echo: hello there"
    seen = upstream_record(upstream, request_id)
    assert seen["path"] == "/v1/chat/completions" and seen["body"]["model"] == "llama3.2:1b"


def test_an_ollama_model_is_found_without_its_latest_tag_as_ollama_finds_it(client, upstream):
    request_id = rid()
    reply = client.embeddings.create(model="ollama:nomic-embed-text", input="hi",
                                     extra_headers={"X-Request-Id": request_id})
    assert reply.data[0].embedding
    assert upstream_record(upstream, request_id)["body"]["model"] == "nomic-embed-text"
    assert client.embeddings.create(model="nomic-embed-text", input="hi").data  # a bare name too
    assert client.models.retrieve("ollama:nomic-embed-text").id == "ollama:nomic-embed-text:latest"


def test_bare_model_names(client):
    assert client.chat.completions.create(model="gpt-fake-fixed", messages=USER).choices  # only `fixed` has it
    assert client.chat.completions.create(model="llama3.2:1b", messages=USER).choices  # only `ollama`
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-fake", messages=USER)  # `fake` and `fixed` both have it
    assert "'fake:gpt-fake'" in caught.value.message and "'fixed:gpt-fake'" in caught.value.message
    assert caught.value.code == "model_ambiguous"


def test_unknown_model_is_404_and_says_how_to_list(client):
    for model in ("fixed:gpt-nope", "nope", "nobody:gpt-fake"):  # `fixed` lists its models in the config
        with pytest.raises(openai.NotFoundError) as caught:
            client.chat.completions.create(model=model, messages=USER)
        assert caught.value.code == "model_not_found"
        assert "GET /v1/models" in caught.value.message


def test_a_model_named_under_a_provider_that_was_asked_for_its_list_is_the_providers_to_refuse(client, upstream):
    """A provider's list may leave out names it takes (Anthropic's aliases): its own answer decides."""
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="fake:gpt-nope", messages=USER)
    assert caught.value.code == "model_not_found" and "(provider 'fake', upstream status 404)" in caught.value.message
    request_id = rid()
    reply = client.chat.completions.create(model="fake:gpt-fake-unlisted", messages=USER,  # the fake takes gpt-fake*
                                           extra_headers={"X-Request-Id": request_id})
    assert reply.choices[0].message.content == "echo: hello there"
    assert upstream_record(upstream, request_id)["body"]["model"] == "gpt-fake-unlisted"


# --- completions and embeddings ------------------------------------------------------------

def test_legacy_completions(client):
    reply = client.completions.create(model="fake:gpt-fake", prompt="once upon")
    assert reply.choices[0].text == "echo: once upon"
    pieces = [c.choices[0].text for c in client.completions.create(model="fake:gpt-fake", prompt="once upon",
                                                                    stream=True) if c.choices]
    assert "".join(pieces) == "echo: once upon" and len(pieces) > 1


def test_legacy_completions_stream_from_a_provider_answering_whole(client):
    chunks = list(client.completions.create(model="fake:gpt-fake", prompt="once upon", stream=True,
                                            stream_options={"include_usage": True}, extra_body=ANSWERS_WHOLE))
    assert all(chunk.object == "text_completion" for chunk in chunks)
    assert "".join(chunk.choices[0].text for chunk in chunks if chunk.choices) == "echo: once upon"
    assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices] == [None, "stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 3


def test_embeddings_match_the_upstream(client, upstream):
    through = client.embeddings.create(model="fake:text-embedding-fake", input=["alpha", "beta"])
    direct = openai.OpenAI(base_url=f"{upstream}/v1", api_key=UPSTREAM_KEY).embeddings.create(
        model="text-embedding-fake", input=["alpha", "beta"])
    assert [e.embedding for e in through.data] == [e.embedding for e in direct.data]
    assert len(through.data[0].embedding) == 8 and through.usage.prompt_tokens == direct.usage.prompt_tokens


# --- keys, clients, request ids ------------------------------------------------------------

def test_requests_without_a_valid_key_get_401(gateway):
    wrong = openai.OpenAI(base_url=gateway.openai_url, api_key="not-the-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.code == "invalid_api_key"
    bare = httpx.post(f"{gateway.base_url}/v1/chat/completions", json={"messages": USER})
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "missing_api_key"
    assert httpx.get(f"{gateway.base_url}/health").status_code == 200  # /health needs no key
    head = httpx.head(f"{gateway.base_url}/health")  # as uptime monitors ask
    assert head.status_code == 200 and head.content == b""
    for path in ("/healthz/v1/messages", "/api-docsx/v1/messages/count_tokens"):  # only look like public paths
        looks_public = httpx.post(f"{gateway.base_url}{path}", json={"messages": USER})
        assert looks_public.status_code == 401 and looks_public.json()["error"]["type"] == "authentication_error"


def test_both_key_headers_work(http):
    for headers in ({"Authorization": f"Bearer {SERVER_KEY}"}, {"X-API-Key": SERVER_KEY}):
        response = http.post("/v1/chat/completions", json={"messages": USER}, headers=headers)
        assert response.status_code == 200, response.text


def test_client_settings_fill_only_what_the_request_leaves_out(gateway, upstream):
    writer = openai.OpenAI(base_url=gateway.openai_url, api_key=WRITER_KEY, max_retries=0)
    request_id = rid()
    writer.chat.completions.create(model="default", messages=USER, extra_headers={"X-Request-Id": request_id})
    seen = upstream_record(upstream, request_id)["body"]
    assert seen["model"] == "gpt-fake-mini"  # the writer's default model
    assert seen["messages"] == [{"role": "system", "content": "You are a poet."}, *USER]
    assert (seen["temperature"], seen["top_p"], seen["max_tokens"]) == (0.3, 0.9, 50)

    request_id = rid()
    writer.chat.completions.create(model="fake:gpt-fake", messages=USER, temperature=1.5,
                                   max_completion_tokens=7, extra_headers={"X-Request-Id": request_id})
    seen = upstream_record(upstream, request_id)["body"]
    assert (seen["model"], seen["temperature"], seen["top_p"]) == ("gpt-fake", 1.5, 0.9)
    assert "max_tokens" not in seen and seen["max_completion_tokens"] == 7


def test_server_key_names_its_client_by_header(http, upstream):
    for header, client_name in (("X-Client-Id", "writer"), ("client", "writer"), ("X-Client-Id", "stranger")):
        request_id = rid()
        response = http.post("/v1/chat/completions", json={"messages": USER},
                             headers={"X-API-Key": SERVER_KEY, header: client_name, "X-Request-Id": request_id})
        assert response.status_code == 200
        seen = upstream_record(upstream, request_id)["body"]
        if client_name == "writer":
            assert seen["messages"][0] == {"role": "system", "content": "You are a poet."}
        else:  # unknown clients get the server client's settings
            assert seen["model"] == "gpt-fake" and seen["messages"] == USER


def test_request_ids(http):
    headers = {"X-API-Key": SERVER_KEY}
    assert http.get("/v1/models", headers={**headers, "X-Request-Id": "mine-42"}).headers["x-request-id"] == "mine-42"
    generated = {http.get("/v1/models", headers=headers).headers["x-request-id"] for _ in range(2)}
    assert len(generated) == 2
    assert http.get("/health").headers["x-request-id"]
    assert http.post("/v1/chat/completions", content=b"{", headers=headers).headers["x-request-id"]


# --- bad input -----------------------------------------------------------------------------------

def assert_openai_error(response: httpx.Response, status: int, **fields) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    for name, value in fields.items():
        assert error[name] == value, error
    return error


def test_malformed_and_incomplete_bodies(http):
    headers = {"X-API-Key": SERVER_KEY}
    post = lambda body, **kw: http.post("/v1/chat/completions", headers=headers, content=body, **kw)  # noqa: E731
    assert_openai_error(post(b"{not json"), 400, type="invalid_request_error", code="invalid_json")
    assert_openai_error(post(b"[1, 2]"), 400, code="invalid_json")
    assert_openai_error(post(b'{"model": "fake:gpt-fake"}'), 400, param="messages",
                        code="missing_required_parameter")
    assert_openai_error(post(b'{"messages": "hi"}'), 400, param="messages", code="invalid_type")
    assert_openai_error(post(b'{"messages": [], "model": 3}'), 400, param="messages")
    assert_openai_error(http.post("/v1/embeddings", headers=headers, json={"model": "fake:x"}), 400, param="input")


def test_bodies_over_the_limit_get_413(http):
    headers = {"X-API-Key": SERVER_KEY, "Content-Type": "application/json"}
    big = b'{"messages": [{"role": "user", "content": "' + b"x" * (10 * 1024 * 1024) + b'"}]}'
    assert_openai_error(http.post("/v1/chat/completions", headers=headers, content=big), 413,
                        code="request_too_large")

    def chunked():  # no Content-Length: the limit holds while reading
        for _ in range(11):
            yield b" " * (1024 * 1024)

    assert_openai_error(http.post("/v1/chat/completions", headers=headers, content=chunked()), 413)


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_a_large_body_reaches_the_upstream_whole(http, upstream, declared):
    """A body of many pieces is assembled in order, whether its length is declared or not."""
    request_id = rid()
    text = "".join(f"{i:07d}," for i in range(400_000))  # 3.2 MB: many receive messages
    body = ('{"model": "fake:gpt-fake", "messages": [{"role": "user", "content": "%s"}]}' % text).encode()
    headers = {"X-API-Key": SERVER_KEY, "Content-Type": "application/json", "X-Request-Id": request_id}
    content = body if declared else (body[i:i + 65536] for i in range(0, len(body), 65536))
    response = http.post("/v1/chat/completions", headers=headers, content=content)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"].startswith("echo: 0000000,0000001,")
    assert upstream_record(upstream, request_id)["body"]["messages"][-1]["content"] == text


def test_a_client_that_leaves_mid_body_gets_nothing_sent_upstream(gateway, http, upstream):
    """A declared body cut short by the client is refused (never relayed), and the gateway serves on."""
    request_id = rid()
    host, port = gateway.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nX-API-Key: {SERVER_KEY}\r\n"
                    f"X-Request-Id: {request_id}\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n"
                    f"\r\n{{\"model\": \"fake:gpt-fake\"".encode())
        raw.shutdown(socket.SHUT_WR)
        raw.recv(4096)  # whatever comes back, if anything, until the gateway closes
    assert httpx.get(f"{upstream}/_fake/requests/{request_id}").status_code == 404
    assert http.post("/v1/chat/completions", headers={"X-API-Key": SERVER_KEY},
                     json={"model": "fake:gpt-fake", "messages": USER}).status_code == 200


def test_unknown_paths_and_methods(http):
    headers = {"X-API-Key": SERVER_KEY}
    assert_openai_error(http.get("/v1/nothing-here", headers=headers), 404)
    assert_openai_error(http.get("/v1/chat/completions", headers=headers), 405)


def test_well_known_endpoints_gatehouse_does_not_serve_say_so_in_their_dialect(client, gateway):
    """Batch users of either SDK are told plainly, and pointed at what is served."""
    with pytest.raises(openai.NotFoundError) as caught:
        client.batches.list()
    assert caught.value.code == "unsupported_endpoint"
    assert "OpenAI's Batch API is not served by Gatehouse" in caught.value.message
    assert "/v1/chat/completions" in caught.value.message and "/v1/responses" in caught.value.message
    claude = anthropic_sdk(gateway)
    with pytest.raises(anthropic.NotFoundError) as caught:
        claude.messages.batches.list()
    assert caught.value.body["type"] == "error" and caught.value.body["error"]["type"] == "not_found_error"
    assert "Message Batches API is not served" in caught.value.body["error"]["message"]


# --- upstream trouble ---------------------------------------------------------------------------------

def test_unreachable_provider_is_502_naming_it(client):
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="down:any-model", messages=USER)
    assert caught.value.status_code == 502
    assert "provider 'down' is unreachable" in caught.value.message


@pytest.mark.parametrize("status, error_class", [(500, openai.InternalServerError),
                                                 (429, openai.RateLimitError),
                                                 (400, openai.BadRequestError)])
def test_upstream_errors_keep_their_status_and_message(client, status, error_class):
    with pytest.raises(error_class) as caught:
        client.chat.completions.create(model="fake:gpt-fake", messages=USER,
                                       extra_body={"fake": {"error_status": status}})
    assert caught.value.status_code == status
    assert "(provider 'fake', upstream status" in caught.value.message
    if status == 429:
        assert "Rate limit reached for gpt-fake in organization org-fake" in caught.value.message
        assert caught.value.code == "rate_limit_exceeded"
        assert caught.value.response.headers["x-ratelimit-remaining-requests"] == "0"  # the provider's limits
        assert caught.value.response.headers["x-ratelimit-reset-requests"] == "20s"


@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_a_provider_saying_not_to_retry_is_not_retried(gateway, upstream, sdk):
    """A provider's `x-should-retry: false` reaches the client, whose SDK (retrying twice by default) then
    does not retry a 500 it would otherwise retry."""
    request_id = rid()
    request = dict(model="fake:gpt-fake", messages=USER, extra_headers={"X-Request-Id": request_id},
                   extra_body={"fake": {"error_status": 500, "should_retry": False}})
    if sdk == "openai":
        with pytest.raises(openai.InternalServerError) as caught:
            openai.OpenAI(base_url=gateway.openai_url, api_key=SERVER_KEY).chat.completions.create(**request)
    else:
        with pytest.raises(anthropic.InternalServerError) as caught:
            anthropic.Anthropic(base_url=gateway.base_url, api_key=SERVER_KEY).messages.create(max_tokens=10, **request)
    assert upstream_record(upstream, request_id)["attempts"] == 1
    assert caught.value.response.headers["x-should-retry"] == "false"


def test_upstream_dying_mid_stream_ends_with_an_error_event(client):
    stream = client.chat.completions.create(model="fake:gpt-fake", messages=USER, stream=True,
                                            extra_body={"fake": {"chunks": 6, "fail_after_chunks": 2}})
    received = []
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk)
    assert received, "chunks before the failure are delivered"
    assert "provider 'fake'" in caught.value.message


def test_client_disconnect_cancels_the_upstream_request(gateway, upstream):
    request_id = rid()
    body = {"model": "fake:gpt-fake", "messages": USER, "stream": True, "fake": {"chunks": 50, "delay_ms": 100}}
    with httpx.stream("POST", f"{gateway.openai_url}/chat/completions", json=body, timeout=30,
                      headers={"X-API-Key": SERVER_KEY, "X-Request-Id": request_id}) as response:
        data_lines = 0
        for line in response.iter_lines():
            data_lines += line.startswith("data:")
            if data_lines == 2:
                break  # leaving the block closes the connection mid-stream
    deadline = time.monotonic() + 5
    while upstream_record(upstream, request_id).get("outcome") is None and time.monotonic() < deadline:
        time.sleep(0.1)
    record = upstream_record(upstream, request_id)
    assert record["outcome"] == "client_disconnected"
    assert record["chunks_sent"] < 20


def test_upstream_connections_are_pooled_and_kept_alive(client, upstream):
    """Sequential requests reach the provider over one kept-alive connection (same client port)."""
    peers = set()
    for i in range(5):
        request_id = rid()
        client.chat.completions.create(model="fake:gpt-fake-mini", messages=USER,
                                       extra_headers={"X-Request-Id": request_id})
        peers.add(upstream_record(upstream, request_id)["peer"])
    assert len(peers) == 1 and next(iter(peers)).startswith("127.0.0.1:")
