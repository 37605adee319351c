"""The exchange: which upstream path, which translation, passed through or not, for every endpoint and provider
type — decided in one place (api/core/exchange.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.config.settings import parse_config
from api.core.exchange import plan
from api.upstream.providers import PROVIDER_CLASSES, Provider
from api.wire.errors import ApiError

CONFIG = {
    "server": {"api_key": "a-server-key-0123"},
    "providers": {
        "openai": {"type": "openai", "base_url": "https://api.openai.com/v1"},
        "compatible": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"},
        "ollama": {"type": "ollama", "base_url": "http://127.0.0.1:9"},
        "anthropic": {"type": "anthropic"},
    },
}
BODIES = {
    "chat": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    "completions": {"model": "m", "prompt": "hi"},
    "embeddings": {"model": "m", "input": "hi"},
    "responses": {"model": "m", "input": "hi"},
    "messages": {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    "count_tokens": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
}


def _provider(pid: str) -> Provider:
    config = parse_config(CONFIG, Path("config.toml"))
    settings = config.providers[pid]
    return PROVIDER_CLASSES[settings.type](settings, config.server, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("endpoint", "pid", "path", "translated", "native"), [
    ("chat", "compatible", "/chat/completions", False, False),
    ("chat", "anthropic", "/messages", True, False),
    ("completions", "ollama", "/completions", False, False),
    ("embeddings", "openai", "/embeddings", False, False),
    ("responses", "openai", "/responses", False, True),  # OpenAI itself serves the Responses API
    ("responses", "compatible", "/chat/completions", True, False),
    ("responses", "anthropic", "/messages", True, False),
    ("messages", "anthropic", "/messages", False, False),
    ("messages", "ollama", "/chat/completions", True, False),
    ("count_tokens", "anthropic", "/messages/count_tokens", False, False),
    ("count_tokens", "compatible", None, False, False),  # counted (estimated) by the gateway itself
])
def test_the_plan_for_each_endpoint_and_provider(endpoint, pid, path, translated, native):
    exchange = plan(endpoint, dict(BODIES[endpoint]), _provider(pid))
    assert exchange.path == path
    assert (exchange.translation is not None) == translated
    assert exchange.native_responses == native
    assert exchange.client_headers == (pid == "anthropic" and endpoint in ("messages", "count_tokens"))


def test_a_translated_request_is_sent_in_the_providers_dialect():
    exchange = plan("chat", {**BODIES["chat"], "max_tokens": 7}, _provider("anthropic"))
    assert exchange.body["max_tokens"] == 7
    assert exchange.body["messages"] == [{"role": "user", "content": "hi"}]
    assert (exchange.client_dialect, exchange.upstream_dialect) == ("openai", "anthropic")


@pytest.mark.parametrize("endpoint", ["completions", "embeddings"])
def test_what_an_anthropic_provider_cannot_serve_is_a_400(endpoint):
    with pytest.raises(ApiError) as refused:
        plan(endpoint, dict(BODIES[endpoint]), _provider("anthropic"))
    assert refused.value.status == 400
    assert "speaks Anthropic's Messages API" in refused.value.message


@pytest.mark.parametrize("endpoint", ["chat", "completions", "responses", "messages"])
@pytest.mark.parametrize("stream", ["yes", 1, 0])
def test_a_stream_that_is_not_a_boolean_is_a_400_naming_it(endpoint, stream):
    """Issue 21 item 9: the gateway decides streaming on `stream`, so it checks its type in every dialect."""
    with pytest.raises(ApiError) as caught:
        plan(endpoint, BODIES[endpoint] | {"stream": stream}, _provider("openai"))
    assert (caught.value.status, caught.value.param) == (400, "stream")


@pytest.mark.parametrize("pid", ["anthropic", "compatible"])
@pytest.mark.parametrize(("max_tokens", "message"), [
    (None, "max_tokens: Field required"),
    (0, "max_tokens: Input should be greater than or equal to 1"),
    (-5, "max_tokens: Input should be greater than or equal to 1"),
    ("10", "max_tokens: Input should be a valid integer"),
])
def test_messages_need_max_tokens_of_at_least_one_on_every_route(pid, max_tokens, message):
    body = {**BODIES["messages"], "max_tokens": max_tokens}
    if max_tokens is None:
        del body["max_tokens"]
    with pytest.raises(ApiError) as refused:
        plan("messages", body, _provider(pid))
    assert (refused.value.status, refused.value.message, refused.value.param) == (400, message, "max_tokens")


@pytest.mark.parametrize(("messages", "param"), [
    ([None], "messages[0]"),
    ([{"role": "robot", "content": "hi"}], "messages[0].role"),
    ([{"role": "user", "content": 123}], "messages[0].content"),
])
def test_count_tokens_counted_here_refuses_malformed_messages(messages, param):
    with pytest.raises(ApiError) as refused:
        plan("count_tokens", {"model": "m", "messages": messages}, _provider("compatible"))
    assert (refused.value.status, refused.value.param) == (400, param)


def test_count_tokens_counted_here_takes_a_system_message_mid_conversation():
    messages = [{"role": "user", "content": "hi"}, {"role": "system", "content": "Answer in French."}]
    assert plan("count_tokens", {"model": "m", "messages": messages}, _provider("compatible")).path is None
