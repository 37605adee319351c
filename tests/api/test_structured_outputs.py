"""Structured outputs through the gateway with both SDKs' `parse` helpers: passed through, and
translated (OpenAI `response_format` ⇄ Anthropic `output_config.format`)."""

from __future__ import annotations

import uuid

import pytest
from pydantic import BaseModel

from api.config.settings import ProviderSettings, ServerSettings
from api.upstream.http_client import HttpClient
from api.upstream.providers.openai import OpenAIProvider
from tests.conftest import anthropic_sdk, openai_sdk, upstream_record

HELLO = [{"role": "user", "content": "hello there"}]


class Weather(BaseModel):
    city: str
    days: list[int]


def rid() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.mark.parametrize("model", ["fake:gpt-fake", "anth:claude-fake-sonnet"])
def test_the_openai_sdks_parse_gets_its_object(gateway, model):
    completion = openai_sdk(gateway).chat.completions.parse(model=model, messages=HELLO, response_format=Weather)
    assert completion.choices[0].message.parsed == Weather(city="echo: hello there", days=[1])


@pytest.mark.parametrize("model", ["anth:claude-fake-sonnet", "fake:gpt-fake"])
def test_the_anthropic_sdks_parse_gets_its_object(gateway, model):
    message = anthropic_sdk(gateway).messages.parse(model=model, max_tokens=100, messages=HELLO,
                                                     output_format=Weather)
    assert message.parsed_output == Weather(city="echo: hello there", days=[1])


def test_the_schema_reaches_each_provider_in_its_own_terms(gateway, upstream, anthropic_upstream):
    to_claude, to_gpt = rid(), rid()
    openai_sdk(gateway).chat.completions.parse(model="anth:claude-fake-sonnet", messages=HELLO,
                                               response_format=Weather, extra_headers={"X-Request-Id": to_claude})
    sent = upstream_record(anthropic_upstream, to_claude)["body"]
    assert sent["output_config"]["format"]["type"] == "json_schema"
    assert sent["output_config"]["format"]["schema"]["required"] == ["city", "days"]
    assert "response_format" not in sent

    anthropic_sdk(gateway).messages.parse(model="fake:gpt-fake", max_tokens=100, messages=HELLO,
                                          output_format=Weather, extra_headers={"X-Request-Id": to_gpt})
    sent = upstream_record(upstream, to_gpt)["body"]
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["strict"] is True  # the SDK's schema meets OpenAI's strict rules
    assert "output_config" not in sent


@pytest.mark.parametrize("base_url, itself", [
    ("https://api.openai.com/v1", True),
    ("https://team.openai.azure.com/openai/v1", True),
    ("http://127.0.0.1:8000/v1", False),
    ("https://api.openai.com.example.net/v1", False),
])
def test_openai_itself_is_told_from_other_openai_compatible_servers(base_url, itself):
    """OpenAI's API takes `max_completion_tokens` (its reasoning models refuse `max_tokens`) and refuses
    `reasoning_content` in messages; other OpenAI-compatible servers may not know the former and want
    the latter."""
    provider = OpenAIProvider(ProviderSettings(id="p", type="openai", base_url=base_url),
                              ServerSettings(data_dir=None), HttpClient())
    assert provider.openai_itself is itself


@pytest.mark.parametrize("base_url, setting, native", [
    ("https://api.openai.com/v1", None, True),
    ("https://team.openai.azure.com/openai/v1", None, True),
    ("http://127.0.0.1:8000/v1", None, False),
    ("https://api.openai.com/v1", "translate", False),
    ("http://127.0.0.1:8000/v1", "native", True),
])
def test_responses_go_natively_to_openai_itself_unless_configured_otherwise(base_url, setting, native):
    """OpenAI serves its Codex models by the Responses API only, so its own API gets /v1/responses as sent."""
    provider = OpenAIProvider(ProviderSettings(id="p", type="openai", base_url=base_url, responses=setting),
                              ServerSettings(data_dir=None), HttpClient())
    assert provider.responses_native is native
