"""Costs (#25): each activity record keeps the usage the provider reported, cache and reasoning tokens
included, and its cost in USD by the price table under the config's overrides; /admin/usage sums it and
can price the past again. A real gateway over the fake upstreams, driven by the official SDKs."""

from __future__ import annotations

import anthropic
import httpx
import openai
import pytest

from tests.conftest import UPSTREAM_KEY, gateway_config
from tests.gateway import SERVER_KEY, start_gateway, wait_until

CLIENTS = ("whole", "streamed", "crossing", "local", "unknown", "cached", "budgeted", "responses")
KEYS = {name: f"key-of-{name}-0123456789" for name in CLIENTS}
PRICES = """
[providers.fake.prices."gpt-fake"]
input = 2.0
output = 8.0
cache_read = 0.5

[providers.anth.prices."claude-fake-sonnet"]
input = 3.0
output = 15.0
cache_write = 3.75
cache_write_1h = 6.0
cache_read = 0.3
"""
CONFIG = PRICES + "".join(f'\n[clients.{name}]\napi_key = "{key}"\n' for name, key in KEYS.items()
                         if name != "budgeted") + f"""
[clients.budgeted]
api_key = "{KEYS['budgeted']}"
budget = {{ amount = 0.01, currency = "usd", period = "day" }}
"""
NATIVE = """
[providers.native]
type = "openai"
base_url = "{upstream}/v1"
api_key = "{key}"
responses = "native"

[providers.native.prices."gpt-fake"]
input = 1.0
output = 4.0
cache_read = 0.25
"""
"""A provider whose /v1/responses is passed through to its own."""
HELLO = [{"role": "user", "content": "tell me about the prompt cache and what it costs"}]
CACHED = {"cache_read_input_tokens": 1000, "cache_creation_input_tokens": 200}


@pytest.fixture(scope="module")
def server(upstreams, tmp_path_factory):
    native = NATIVE.replace("{upstream}", upstreams[0]).replace("{key}", UPSTREAM_KEY)
    gateway = start_gateway(gateway_config(upstreams) + CONFIG + native, tmp_path_factory.mktemp("costs"))
    yield gateway
    gateway.stop()


def gpt(server, client: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.openai_url, api_key=KEYS[client], max_retries=0)


def claude(server, client: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=server.base_url, api_key=KEYS[client], max_retries=0)


def records(server, client: str, count: int) -> list[dict]:
    """The client's last `count` activity records, newest first, once they are written."""
    found: list[dict] = []

    def written() -> bool:
        found[:] = httpx.get(f"{server.base_url}/admin/activity", params={"client": client, "limit": count},
                             headers={"x-api-key": SERVER_KEY}).json()["data"]
        return len(found) == count
    wait_until(written, 5, f"{count} records of {client}")
    return found


def usage(server, **params) -> dict:
    answer = httpx.get(f"{server.base_url}/admin/usage", params=params, headers={"x-api-key": SERVER_KEY})
    assert answer.status_code == 200, answer.text
    return answer.json()


def of(report: dict, client: str) -> dict:
    return next(row for row in report["by_client"] if row["client"] == client)


def anthropic_cost(input_tokens: int, output_tokens: int, writes: int, reads: int) -> float:
    return (input_tokens * 3.0 + writes * 3.75 + reads * 0.3 + output_tokens * 15.0) / 1e6


def test_anthropic_cache_tokens_are_priced_whole_and_streamed(server):
    sdk = claude(server, "whole")
    whole = sdk.messages.create(model="anth:claude-fake-sonnet", max_tokens=50, messages=HELLO,
                                extra_body={"fake": {"usage": CACHED}})
    with sdk.messages.stream(model="anth:claude-fake-sonnet", max_tokens=50, messages=HELLO,
                             extra_body={"fake": {"usage": CACHED}}) as stream:
        streamed = stream.get_final_message()
    assert whole.usage.cache_read_input_tokens == 1000 and streamed.usage.cache_read_input_tokens == 1000
    expected = [anthropic_cost(answer.usage.input_tokens, answer.usage.output_tokens, 200, 1000)
                for answer in (streamed, whole)]
    newest = records(server, "whole", 2)
    assert [record["cost"] for record in newest] == pytest.approx(expected)
    assert expected[0] > 10 * anthropic_cost(whole.usage.input_tokens, whole.usage.output_tokens, 0, 0)
    for record in newest:
        assert record["usage"]["cache_read_input_tokens"] == 1000
        assert record["usage"]["cache_creation_input_tokens"] == 200
    row = of(usage(server), "whole")
    assert row["cost"] == pytest.approx(sum(expected))
    assert (row["cached_input_tokens"], row["cache_write_tokens"], row["unpriced_requests"]) == (2000, 400, 0)


def test_a_dollar_budget_is_spent_by_cache_reads(server):
    """50,000 tokens read from the cache cost $0.015 at $0.30 a million: over a $0.01 budget after one answer,
    which its 40 or so uncached input and output tokens alone (a few hundredths of a cent) would never be."""
    sdk = claude(server, "budgeted")
    first = sdk.messages.create(model="anth:claude-fake-sonnet", max_tokens=50, messages=HELLO,
                                extra_body={"fake": {"usage": {"cache_read_input_tokens": 50_000}}})
    assert anthropic_cost(first.usage.input_tokens, first.usage.output_tokens, 0, 0) < 0.001
    [record] = records(server, "budgeted", 1)
    assert record["cost"] > 0.01
    with pytest.raises(anthropic.RateLimitError) as refused:
        sdk.messages.create(model="anth:claude-fake-sonnet", max_tokens=50, messages=HELLO)
    assert "budget" in refused.value.message


def test_an_anthropic_one_hour_cache_write_is_priced_as_such(server):
    hour = {"cache_creation_input_tokens": 100, "cache_read_input_tokens": 0,
            "cache_creation": {"ephemeral_5m_input_tokens": 40, "ephemeral_1h_input_tokens": 60}}
    answer = claude(server, "cached").messages.create(model="anth:claude-fake-sonnet", max_tokens=50,
                                                      messages=HELLO, extra_body={"fake": {"usage": hour}})
    [record] = records(server, "cached", 1)
    assert record["cost"] == pytest.approx(
        (answer.usage.input_tokens * 3.0 + 40 * 3.75 + 60 * 6.0 + answer.usage.output_tokens * 15.0) / 1e6)


def test_openai_cached_and_reasoning_tokens_are_priced_whole_and_streamed(server):
    sdk = gpt(server, "streamed")
    fake = {"fake": {"usage": {"prompt_tokens_details": {"cached_tokens": 6}}, "reasoning": "let me think"}}
    whole = sdk.chat.completions.create(model="fake:gpt-fake", messages=HELLO, extra_body=fake)
    chunks = list(sdk.chat.completions.create(model="fake:gpt-fake", messages=HELLO, extra_body=fake, stream=True,
                                              stream_options={"include_usage": True}))
    streamed = chunks[-1].usage
    assert whole.usage.prompt_tokens_details.cached_tokens == 6 and streamed.prompt_tokens_details.cached_tokens == 6
    expected = [((u.prompt_tokens - 6) * 2.0 + 6 * 0.5 + u.completion_tokens * 8.0) / 1e6
                for u in (streamed, whole.usage)]
    newest = records(server, "streamed", 2)
    assert [record["cost"] for record in newest] == pytest.approx(expected)
    for record in newest:
        assert record["usage"]["prompt_tokens_details"] == {"cached_tokens": 6}
        assert record["usage"]["completion_tokens_details"]["reasoning_tokens"] > 0
    row = of(usage(server), "streamed")
    assert row["cost"] == pytest.approx(sum(expected)) and row["cached_input_tokens"] == 12


def test_a_passed_through_responses_answer_is_priced_by_its_usage_whole_and_streamed(server):
    sdk = gpt(server, "responses")
    fake = {"fake": {"usage": {"input_tokens_details": {"cached_tokens": 4}}}}
    whole = sdk.responses.create(model="native:gpt-fake", input="tell me about the prompt cache", extra_body=fake)
    with sdk.responses.stream(model="native:gpt-fake", input="tell me about the prompt cache",
                              extra_body=fake) as stream:
        streamed = stream.get_final_response()
    expected = [((u.input_tokens - 4) * 1.0 + 4 * 0.25 + u.output_tokens * 4.0) / 1e6
                for u in (streamed.usage, whole.usage)]
    newest = records(server, "responses", 2)
    assert [record["cost"] for record in newest] == pytest.approx(expected)
    assert [record["usage"]["input_tokens_details"]["cached_tokens"] for record in newest] == [4, 4]


def test_a_translated_request_records_the_providers_own_usage(server):
    """An Anthropic client of an OpenAI-type provider: the record keeps OpenAI's usage, as OpenAI reported it,
    and is priced by it (whole, and streamed: the translation asks the provider for the stream's usage)."""
    sdk = claude(server, "crossing")
    fake = {"fake": {"usage": {"prompt_tokens_details": {"cached_tokens": 5}}}}
    sdk.messages.create(model="fake:gpt-fake", max_tokens=50, messages=HELLO, extra_body=fake)
    with sdk.messages.stream(model="fake:gpt-fake", max_tokens=50, messages=HELLO, extra_body=fake) as stream:
        stream.get_final_message()
    for record in records(server, "crossing", 2):
        reported = record["usage"]
        assert reported["prompt_tokens_details"] == {"cached_tokens": 5} and "completion_tokens" in reported
        assert not record["tokens_estimated"]
        assert record["cost"] == pytest.approx(
            ((reported["prompt_tokens"] - 5) * 2.0 + 5 * 0.5 + reported["completion_tokens"] * 8.0) / 1e6)


def test_a_local_model_costs_nothing_and_an_unknown_price_is_no_cost(server):
    gpt(server, "local").chat.completions.create(model="ollama:llama3.2:1b", messages=HELLO)
    gpt(server, "unknown").chat.completions.create(model="fake:gpt-fake-mini", messages=HELLO)
    [local] = records(server, "local", 1)
    [unknown] = records(server, "unknown", 1)
    assert local["cost"] == 0 and local["total_tokens"] > 0
    assert unknown["cost"] is None and unknown["total_tokens"] > 0
    report = usage(server)
    assert (of(report, "local")["cost"], of(report, "local")["unpriced_requests"]) == (0, 0)
    assert (of(report, "unknown")["cost"], of(report, "unknown")["unpriced_requests"]) == (0, 1)
    assert report["total"]["unpriced_requests"] >= 1
    by_model = {row["model"]: row for row in report["by_model"]}
    assert by_model["fake:gpt-fake-mini"]["unpriced_requests"] == 1
    assert [row["route"] for row in report["by_route"]] == [None]


def test_the_price_table_and_overrides_are_shown(server):
    prices = httpx.get(f"{server.base_url}/admin/prices", headers={"x-api-key": SERVER_KEY}).json()
    assert prices["version"] >= 1 and prices["date"]
    assert prices["models"]["anthropic"]["claude-sonnet-4-5"]["cache_read"] > 0
    providers = {provider["id"]: provider for provider in prices["providers"]}
    assert providers["fake"]["prices"] == {"gpt-fake": {"input": 2.0, "output": 8.0, "cache_read": 0.5}}


def test_a_changed_price_applies_to_new_requests_and_to_the_past_on_recompute(upstreams, tmp_path):
    server = start_gateway(gateway_config(upstreams) + CONFIG, tmp_path)
    try:
        sdk = gpt(server, "whole")
        first = sdk.chat.completions.create(model="fake:gpt-fake", messages=HELLO).usage
        records(server, "whole", 1)
        server.config_path.write_text(server.config_path.read_text().replace("input = 2.0", "input = 20.0"))
        generation = lambda: httpx.get(f"{server.base_url}/admin/status",  # noqa: E731
                                       headers={"x-api-key": SERVER_KEY}).json()["config_generation"]
        wait_until(lambda: generation() == 2, 5, "the reload")
        second = sdk.chat.completions.create(model="fake:gpt-fake", messages=HELLO).usage
        newest, older = records(server, "whole", 2)
        assert older["cost"] == pytest.approx((first.prompt_tokens * 2.0 + first.completion_tokens * 8.0) / 1e6)
        assert newest["cost"] == pytest.approx((second.prompt_tokens * 20.0 + second.completion_tokens * 8.0) / 1e6)
        assert usage(server)["total"]["cost"] == pytest.approx(older["cost"] + newest["cost"])
        recomputed = usage(server, recompute="true")
        assert recomputed["recomputed"] is True
        assert recomputed["total"]["cost"] == pytest.approx(2 * newest["cost"])
        assert of(recomputed, "whole")["cost"] == pytest.approx(2 * newest["cost"])
    finally:
        server.stop()


def test_bad_prices_in_the_config_are_refused_by_key_path(upstreams, tmp_path):
    from api.config.settings import ConfigError, load_config
    bad = gateway_config(upstreams).replace("{port}", "1").replace("{data_dir}", str(tmp_path)) + """
[providers.fake.prices."gpt-4o"]
input = "cheap"
outptu = 1

[providers.anth.prices]
"claude-x" = 3
"""
    path = tmp_path / "config.toml"
    path.write_text(bad)
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    message = str(refused.value)
    assert "providers.fake.prices.gpt-4o.input: must be a number of USD per million tokens" in message
    assert "providers.fake.prices.gpt-4o.outptu: unknown key; did you mean 'output'?" in message
    assert "providers.fake.prices.gpt-4o.output: missing" in message
    assert "providers.anth.prices.claude-x: must be a table" in message
