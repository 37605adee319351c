"""The price table and the cost formulas (api/govern/prices.py, api/govern/costs.py): pure functions, tested
as such."""

from __future__ import annotations

import orjson
import pytest

from api.config.settings import ProviderSettings
from api.govern.costs import anthropic_cost, cost_of, openai_cost
from api.govern.prices import FREE, Price, Pricing, base_model, shipped

SONNET = Price(input=3.0, output=15.0, cache_read=0.3, cache_write=3.75, cache_write_1h=6.0)


def provider(pid: str, kind: str, **prices: dict) -> ProviderSettings:
    return ProviderSettings(id=pid, type=kind, base_url="http://x", prices=prices)


@pytest.mark.parametrize("model, base", [
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5"), ("gpt-4o-2024-08-06", "gpt-4o"),
    ("claude-3-5-sonnet-latest", "claude-3-5-sonnet"), ("o3-2025-04-16", "o3"), ("gpt-4o-mini", "gpt-4o-mini"),
    ("gpt-4.1-nano", "gpt-4.1-nano"), ("my-model-7", "my-model-7"),
])
def test_a_dated_or_latest_id_is_priced_as_its_base(model, base):
    assert base_model(model) == base


def test_the_shipped_table_prices_current_models_by_exact_or_dated_id():
    table = shipped()
    assert table.version >= 1 and table.date[:2] == "20" and table.source
    pricing = Pricing({"oa": provider("oa", "openai"), "an": provider("an", "anthropic")})
    assert pricing.price("an", "claude-sonnet-4-5-20250929") == pricing.price("an", "claude-sonnet-4-5")
    assert pricing.price("oa", "gpt-4o-2024-08-06") == pricing.price("oa", "gpt-4o")
    assert pricing.price("oa", "gpt-4o-mini-2024-07-18") == pricing.price("oa", "gpt-4o-mini")
    assert pricing.price("oa", "gpt-4o-mini") != pricing.price("oa", "gpt-4o")
    for kind, models in table.models.items():
        for model, price in models.items():
            assert price.input > 0 or model.startswith("text-embedding"), (kind, model)
            if kind == "anthropic":
                assert price.read < price.input < price.write < price.write_1h, model
    assert pricing.price("oa", "claude-sonnet-4-5") is None  # a table is its provider type's
    assert pricing.price("oa", "gpt-fake") is None and pricing.price("gone", "gpt-4o") is None


def test_overrides_come_first_and_local_types_are_free():
    pricing = Pricing({"vendor": provider("vendor", "openai", **{"llama-70b": {"input": 0.6, "output": 0.8},
                                                                 "gpt-4o": {"input": 1.0, "output": 2.0}}),
                       "ol": provider("ol", "ollama"), "loc": provider("loc", "llamacpp")})
    assert pricing.price("vendor", "llama-70b") == Price(0.6, 0.8)
    assert pricing.price("vendor", "gpt-4o-2024-08-06") == Price(1.0, 2.0)
    assert pricing.price("ol", "llama3.2:1b") is FREE and pricing.price("loc", "anything") is FREE


def test_openai_cached_tokens_are_read_at_the_cache_price():
    price = Price(input=2.5, output=10.0, cache_read=1.25)
    chat = {"prompt_tokens": 1000, "completion_tokens": 200, "prompt_tokens_details": {"cached_tokens": 800},
            "completion_tokens_details": {"reasoning_tokens": 150}}
    assert openai_cost(price, chat) == pytest.approx((200 * 2.5 + 800 * 1.25 + 200 * 10.0) / 1e6)
    responses = {"input_tokens": 1000, "output_tokens": 200, "input_tokens_details": {"cached_tokens": 800}}
    assert openai_cost(price, responses) == openai_cost(price, chat)
    assert openai_cost(price, {"prompt_tokens": 10, "total_tokens": 10}) == pytest.approx(25 / 1e6)  # embeddings
    assert openai_cost(Price(2.0, 8.0), chat) == pytest.approx((1000 * 2.0 + 200 * 8.0) / 1e6)  # no cache price


def test_anthropic_cache_writes_and_reads_are_priced_apart():
    usage = {"input_tokens": 10, "cache_creation_input_tokens": 2000, "cache_read_input_tokens": 50_000,
             "output_tokens": 500}
    assert anthropic_cost(SONNET, usage) == pytest.approx((10 * 3 + 2000 * 3.75 + 50_000 * 0.3 + 500 * 15) / 1e6)
    hour = {**usage, "cache_creation": {"ephemeral_5m_input_tokens": 500, "ephemeral_1h_input_tokens": 1500}}
    assert anthropic_cost(SONNET, hour) == pytest.approx(
        (10 * 3 + 500 * 3.75 + 1500 * 6.0 + 50_000 * 0.3 + 500 * 15) / 1e6)


def test_a_record_without_usage_is_priced_by_its_estimated_tokens_and_an_unknown_one_not_at_all():
    pricing = Pricing({"an": provider("an", "anthropic"), "oa": provider("oa", "openai")})
    usage = orjson.dumps({"input_tokens": 10, "cache_read_input_tokens": 1000, "output_tokens": 5}).decode()
    assert cost_of(pricing, "an", "an:claude-sonnet-4-5", usage, 1010, 5) == pytest.approx(
        (10 * 3 + 1000 * 0.3 + 5 * 15) / 1e6)
    assert cost_of(pricing, "an", "an:claude-sonnet-4-5", None, 100, 10) == pytest.approx((300 + 150) / 1e6)
    assert cost_of(pricing, "oa", "oa:no-such-model", None, 100, 10) is None
    assert cost_of(pricing, "oa", "oa:gpt-4o", None, None, None) is None  # nothing counted
    assert cost_of(pricing, None, None, None, 100, 10) is None
