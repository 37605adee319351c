"""A gateway with a short upstream timeout and CORS on: 504 naming the provider, CORS headers for listed origins."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.conftest import gateway_config
from tests.gateway import SERVER_KEY, start_gateway

ORIGIN = "http://localhost:3000"


@pytest.fixture(scope="module")
def strict_gateway(upstreams, tmp_path_factory):
    config = gateway_config(upstreams, request_timeout_s=1.0, cors_origins=[ORIGIN])
    server = start_gateway(config, tmp_path_factory.mktemp("strict"))
    yield server
    server.stop()


def test_a_provider_that_does_not_answer_gives_504(strict_gateway):
    client = openai.OpenAI(base_url=strict_gateway.openai_url, api_key=SERVER_KEY, max_retries=0)
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": "hi"}],
                                       extra_body={"fake": {"hang": True}})
    assert caught.value.status_code == 504
    assert "provider 'fake' did not answer in time" in caught.value.message


def test_a_stream_that_stalls_ends_with_a_timeout_event(strict_gateway):
    client = openai.OpenAI(base_url=strict_gateway.openai_url, api_key=SERVER_KEY, max_retries=0)
    stream = client.chat.completions.create(model="fake:gpt-fake", messages=[{"role": "user", "content": "hi"}],
                                            stream=True, extra_body={"fake": {"chunks": 3, "delay_ms": 1500}})
    with pytest.raises(openai.APIError) as caught:
        list(stream)
    assert "did not answer in time" in caught.value.message


def test_cors_only_for_listed_origins(strict_gateway, gateway):
    preflight = httpx.options(f"{strict_gateway.openai_url}/chat/completions", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in preflight.headers["access-control-allow-methods"]
    assert preflight.headers["access-control-allow-headers"] == "authorization, content-type"
    listed = httpx.get(f"{strict_gateway.openai_url}/models", headers={"Origin": ORIGIN, "X-API-Key": SERVER_KEY})
    assert listed.headers["access-control-allow-origin"] == ORIGIN
    exposed = {name.strip() for name in listed.headers["access-control-expose-headers"].split(",")}
    assert {"x-request-id", "x-should-retry"} <= exposed  # the page may read the request id and retry hints
    other = httpx.get(f"{strict_gateway.openai_url}/models", headers={"Origin": "http://evil.example",
                                                                      "X-API-Key": SERVER_KEY})
    assert "access-control-allow-origin" not in other.headers
    assert other.status_code == 200  # a client that is not a browser is not refused for its Origin header
    assert other.headers["vary"] == listed.headers["vary"] == "Origin"  # no cache mixes origins' answers
    refused = httpx.options(f"{strict_gateway.openai_url}/chat/completions", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in refused.headers
    # CORS is off unless configured.
    default = httpx.get(f"{gateway.openai_url}/models", headers={"Origin": ORIGIN, "X-API-Key": SERVER_KEY})
    assert "access-control-allow-origin" not in default.headers and default.status_code == 200
    assert "vary" not in default.headers


def test_a_refused_cross_origin_request_is_answered_in_the_endpoints_dialect(strict_gateway):
    response = httpx.post(f"{strict_gateway.base_url}/v1/messages", json={}, headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.json()["type"] == "error" and response.json()["error"]["type"] == "authentication_error"
    assert response.headers["access-control-allow-origin"] == ORIGIN  # the page can read why
