"""Ollama behind Gatehouse: its loaded models (/api/ps) in GET /admin/models/loaded, loading and unloading through
the admin API, the configured num_ctx applied (Ollama's native /api/chat), a request's keep_alive honoured, and
a prompt longer than the context refused in each dialect rather than cut. Against the fake upstream's Ollama,
which records what it received."""

from __future__ import annotations

import uuid

import anthropic
import httpx
import openai
import pytest

from tests.conftest import anthropic_sdk, openai_sdk, upstream_record
from tests.fixtures.fake_openai import start_fake_openai, stop_fake_openai
from tests.gateway import SERVER_KEY, SERVER_SECTION, start_gateway

CONFIG = SERVER_SECTION + """
[providers.ollama]
type = "ollama"
base_url = "{fake}"

[providers.ollama_ctx]
type = "ollama"
base_url = "{fake}"
num_ctx = 8192
num_ctx_models = { "qwen2.5:0.5b" = 2048 }

[providers.cloud]
type = "openai"
base_url = "{fake}/v1"
models = ["gpt-fake"]
"""
ADMIN = {"authorization": f"Bearer {SERVER_KEY}"}
LOADED_FIELDS = {"model", "provider", "embedding", "pid", "memory_mb", "loaded_at", "state", "active", "requests",
                 "tokens_per_s", "pinned", "expires_at"}


@pytest.fixture(scope="module")
def fake():
    process, base_url = start_fake_openai()
    yield base_url
    stop_fake_openai(process)


@pytest.fixture(scope="module")
def gateway(fake, tmp_path_factory):
    server = start_gateway(CONFIG.replace("{fake}", fake), tmp_path_factory.mktemp("ollama"))
    yield server
    print(server.stop())


@pytest.fixture
def http(gateway, fake):
    httpx.post(f"{fake}/_fake/ollama/reset").raise_for_status()
    with httpx.Client(base_url=gateway.base_url, timeout=30, headers=ADMIN) as session:
        yield session


def ollama_state(fake: str) -> dict:
    return httpx.get(f"{fake}/_fake/ollama").json()


def rid() -> str:
    return f"ollama-{uuid.uuid4().hex}"


def test_loaded_models_are_what_ollama_ps_holds(http, fake):
    assert http.get("/admin/models/loaded").json() == {"data": [], "problems": []}
    httpx.post(f"{fake}/api/generate", json={"model": "llama3.2:1b", "keep_alive": -1}).raise_for_status()
    httpx.post(f"{fake}/api/generate", json={"model": "qwen2.5:0.5b", "keep_alive": "10m"}).raise_for_status()
    data = http.get("/admin/models/loaded").json()["data"]
    mine = {entry["model"]: entry for entry in data if entry["provider"] == "ollama"}
    assert set(mine) == {"ollama:llama3.2:1b", "ollama:qwen2.5:0.5b"}
    assert all(set(entry) == LOADED_FIELDS for entry in data)
    pinned, timed = mine["ollama:llama3.2:1b"], mine["ollama:qwen2.5:0.5b"]
    assert (pinned["pinned"], pinned["expires_at"], pinned["pid"], pinned["state"]) == (True, None, None, "ready")
    assert pinned["memory_mb"] == round((1321098329 + 200_000_000) / 2**20, 1)
    assert timed["pinned"] is False and timed["expires_at"].startswith("20")
    # both Ollama providers reach the same Ollama
    assert {entry["model"] for entry in data if entry["provider"] == "ollama_ctx"} == {
        "ollama_ctx:llama3.2:1b", "ollama_ctx:qwen2.5:0.5b"}


def test_load_and_unload_reach_ollama_with_the_keep_alive_and_num_ctx(http, fake):
    response = http.post("/admin/models/ollama_ctx:llama3.2:1b/load", json={"keep_alive": "10m"})
    assert response.status_code == 200, response.text
    entry = response.json()
    assert (entry["model"], entry["pinned"]) == ("ollama_ctx:llama3.2:1b", False) and entry["expires_at"]
    [call] = ollama_state(fake)["calls"]
    assert call == {"path": "/api/generate", "body": {"model": "llama3.2:1b", "stream": False, "keep_alive": 600,
                                                       "options": {"num_ctx": 8192}}}
    assert ollama_state(fake)["loaded"] == {"llama3.2:1b": {"context_length": 8192, "keep_alive": 600.0}}
    pinned = http.post("/admin/models/ollama:qwen2.5:0.5b/load", json={"keep_alive": -1}).json()
    assert pinned["pinned"] is True and pinned["expires_at"] is None
    assert ollama_state(fake)["calls"][-1]["body"] == {"model": "qwen2.5:0.5b", "stream": False, "keep_alive": -1}

    assert http.post("/admin/models/ollama_ctx:llama3.2:1b/unload").json() == {
        "model": "ollama_ctx:llama3.2:1b", "unloaded": True}
    assert ollama_state(fake)["calls"][-1]["body"] == {"model": "llama3.2:1b", "keep_alive": 0, "stream": False}
    assert set(ollama_state(fake)["loaded"]) == {"qwen2.5:0.5b"}
    assert http.post("/admin/models/ollama_ctx:llama3.2:1b/unload").json()["unloaded"] is False
    # a provider whose models are always there loads nothing
    response = http.post("/admin/models/cloud:gpt-fake/load")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_not_loadable"


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("model, num_ctx", [("ollama_ctx:llama3.2:1b", 8192), ("ollama_ctx:qwen2.5:0.5b", 2048)],
                         ids=["provider", "per-model"])
def test_a_chat_request_runs_with_the_configured_num_ctx(http, gateway, fake, model, num_ctx, streamed):
    request_id = rid()
    client = openai_sdk(gateway)
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello there"}]
    if streamed:
        chunks = list(client.chat.completions.create(model=model, messages=messages, stream=True, max_tokens=20,
                                                     stream_options={"include_usage": True},
                                                     extra_headers={"x-request-id": request_id}))
        text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
        assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
        assert [chunk.choices[0].finish_reason for chunk in chunks if chunk.choices][-1] == "stop"
    else:
        answer = client.chat.completions.create(model=model, messages=messages, max_tokens=20,
                                                extra_headers={"x-request-id": request_id})
        text = answer.choices[0].message.content
        assert answer.choices[0].finish_reason == "stop" and answer.usage.completion_tokens == 3
    assert text == "echo: hello there"
    seen = upstream_record(fake, request_id)
    assert seen["path"] == "/api/chat"
    assert seen["body"]["options"]["num_ctx"] == num_ctx and seen["body"]["options"]["num_predict"] == 20
    assert seen["body"]["messages"] == messages and seen["body"]["stream"] is streamed
    name = model.partition(":")[2]
    assert ollama_state(fake)["loaded"][name]["context_length"] == num_ctx
    entry = next(entry for entry in http.get("/admin/models/loaded").json()["data"] if entry["model"] == model)
    assert entry["requests"] >= 1 and entry["tokens_per_s"] == 30.0 and entry["active"] == 0


def test_without_num_ctx_chat_goes_to_ollama_v1_and_a_request_keep_alive_is_honoured(http, gateway, fake):
    client = openai_sdk(gateway)
    request_id = rid()
    client.chat.completions.create(model="ollama:llama3.2:1b", messages=[{"role": "user", "content": "hi"}],
                                   extra_headers={"x-request-id": request_id})
    assert upstream_record(fake, request_id)["path"] == "/v1/chat/completions"
    request_id = rid()
    answer = client.chat.completions.create(model="ollama:llama3.2:1b", messages=[{"role": "user", "content": "hi"}],
                                            extra_body={"keep_alive": "-1"},
                                            extra_headers={"x-request-id": request_id})
    assert answer.choices[0].message.content == "echo: hi"
    seen = upstream_record(fake, request_id)
    assert seen["path"] == "/api/chat" and seen["body"]["keep_alive"] == -1
    assert "num_ctx" not in seen["body"]["options"]
    [entry] = [entry for entry in http.get("/admin/models/loaded").json()["data"]
               if entry["model"] == "ollama:llama3.2:1b"]
    assert entry["pinned"] is True


def long_prompt(tokens: int) -> str:
    return "lorem ipsum dolor sit amet " * (tokens * 4 // 27 + 1)


def test_a_prompt_longer_than_the_context_is_refused_in_openai_words(http, gateway, fake):
    client = openai_sdk(gateway)
    request_id = rid()
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="ollama_ctx:qwen2.5:0.5b",
                                       messages=[{"role": "user", "content": long_prompt(3000)}],
                                       extra_headers={"x-request-id": request_id})
    error = caught.value.body
    assert (caught.value.code, error["param"], error["type"]) == (
        "context_length_exceeded", "messages", "invalid_request_error")
    assert "maximum context length is 2048 tokens" in error["message"] and "about 30" in error["message"]
    assert "num_ctx" in error["message"]
    assert httpx.get(f"{fake}/_fake/requests/{request_id}").status_code == 404  # never sent to Ollama
    # without num_ctx: Ollama's default context, 4096, unless /api/ps says the loaded model runs with more
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="ollama:llama3.2:1b",
                                       messages=[{"role": "user", "content": long_prompt(6000)}])
    assert caught.value.code == "context_length_exceeded" and "Ollama's default" in caught.value.body["message"]
    httpx.post(f"{fake}/api/generate", json={"model": "llama3.2:1b", "options": {"num_ctx": 16384}})
    answer = client.chat.completions.create(model="ollama:llama3.2:1b",
                                            messages=[{"role": "user", "content": long_prompt(6000)}])
    assert answer.choices[0].message.content.startswith("echo: lorem")
    # a prompt that fits is not refused
    client.chat.completions.create(model="ollama_ctx:qwen2.5:0.5b",
                                   messages=[{"role": "user", "content": long_prompt(1500)}])


def test_a_prompt_longer_than_the_context_is_refused_in_anthropic_words(http, gateway):
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_sdk(gateway).messages.create(model="ollama_ctx:qwen2.5:0.5b", max_tokens=50,
                                               messages=[{"role": "user", "content": long_prompt(3000)}])
    assert caught.value.status_code == 400
    error = caught.value.body["error"]
    assert error["type"] == "invalid_request_error"
    assert error["message"].startswith("prompt is too long: about 30") and "> 2048 maximum" in error["message"]


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_an_anthropic_request_runs_with_the_configured_num_ctx_too(http, gateway, fake, streamed):
    request_id = rid()
    client = anthropic_sdk(gateway)
    params = dict(model="ollama_ctx:llama3.2:1b", max_tokens=50, messages=[{"role": "user", "content": "hi"}],
                  extra_headers={"x-request-id": request_id})
    if streamed:
        with client.messages.stream(**params) as stream:
            text = "".join(stream.text_stream)
            message = stream.get_final_message()
    else:
        message = client.messages.create(**params)
        text = message.content[0].text
    assert text == "echo: hi" and message.stop_reason == "end_turn" and message.usage.output_tokens == 3
    seen = upstream_record(fake, request_id)
    assert seen["path"] == "/api/chat" and seen["body"]["options"]["num_ctx"] == 8192


def test_tool_calls_and_images_cross_to_ollamas_native_chat_and_back():
    """The conversion both ways, as Ollama's own /v1 layer does it (openai.go), without a server."""
    import asyncio

    import orjson

    from api.upstream.providers.ollama import ModelStats, NativeChatAnswer, native_chat_request

    body = {"model": "llama3.2:1b", "stream": True, "max_completion_tokens": 9, "stop": "END", "seed": 3,
            "response_format": {"type": "json_object"}, "reasoning_effort": "none", "keep_alive": "5m",
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
            "messages": [
                {"role": "developer", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "get_weather", "arguments": "{\"city\": \"Oslo\"}"}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "rain"}]}
    native = native_chat_request(body, 4096)
    assert native["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather here?", "images": ["AAAA"]},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "call_1", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]},
        {"role": "tool", "content": "rain", "tool_call_id": "call_1", "tool_name": "get_weather"}]
    assert native["options"] == {"temperature": 1.0, "top_p": 1.0, "num_ctx": 4096, "num_predict": 9, "seed": 3,
                                 "stop": ["END"]}
    assert (native["format"], native["think"], native["keep_alive"], native["stream"]) == ("json", False, 300, True)
    assert native["tools"] == body["tools"]

    lines = [{"model": "llama3.2:1b", "created_at": "2025-01-01T00:00:00.123456789Z",
              "message": {"role": "assistant", "content": "", "tool_calls": [
                  {"function": {"name": "get_weather", "arguments": {"city": "Oslo"}}}]}, "done": False},
             {"model": "llama3.2:1b", "created_at": "2025-01-01T00:00:00Z", "message": {"role": "assistant",
              "content": ""}, "done": True, "done_reason": "stop", "prompt_eval_count": 20, "eval_count": 8,
              "eval_duration": 400_000_000}]

    class Upstream:
        status, headers = 200, {"content-type": "application/x-ndjson"}

        def __init__(self):
            self.content = self

        async def iter_any(self):
            for line in lines:
                yield orjson.dumps(line) + b"\n"

    stats = ModelStats()
    answer = NativeChatAnswer(Upstream(), "llama3.2:1b", True, True, stats)
    sse = asyncio.run(answer.read()).decode()
    events = [orjson.loads(part.removeprefix("data: ")) for part in sse.strip().split("\n\n")[:-1]]
    assert sse.endswith("data: [DONE]\n\n")
    [call] = events[0]["choices"][0]["delta"]["tool_calls"]
    assert call["function"] == {"name": "get_weather", "arguments": "{\"city\":\"Oslo\"}"} and call["id"]
    assert events[1]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[2]["usage"] == {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28}
    assert events[0]["created"] == 1735689600 and stats.tokens_per_s == 20.0
