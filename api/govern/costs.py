"""What an answer cost in USD: the provider's raw usage (cache and reasoning tokens included) at the prices
that apply (api/govern/prices.py).

- OpenAI (Chat Completions, Responses, embeddings): `(prompt - cached) × input + cached × cache_read +
  completion × output`; reasoning tokens are inside the completion tokens.
- Anthropic: `input × input + cache writes × cache_write (1-hour ones × cache_write_1h) + cache reads ×
  cache_read + output × output` (its `input_tokens` leave the cached ones out).

Without a usage object (the provider reported none: the tokens are estimated), the record's input and
output tokens are priced as such. A model with no price has no cost (None), never a guessed one.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from api.govern.prices import FREE, Price, Pricing
from api.store.activity import Record

PER_TOKEN = 1e-6
"""Prices are per million tokens."""


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _detail(usage: dict, details: str, key: str) -> int:
    inner = usage.get(details)
    return _count(inner.get(key)) if isinstance(inner, dict) else 0


def openai_cost(price: Price, usage: dict) -> float:
    """The cost of an OpenAI usage object: Chat Completions' or embeddings' (`prompt_tokens`, ...) or the
    Responses API's (`input_tokens`, ...)."""
    if "prompt_tokens" in usage:
        prompt, completion = _count(usage["prompt_tokens"]), _count(usage.get("completion_tokens"))
        cached = _detail(usage, "prompt_tokens_details", "cached_tokens")
    else:
        prompt, completion = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
        cached = _detail(usage, "input_tokens_details", "cached_tokens")
    cached = min(cached, prompt)
    return ((prompt - cached) * price.input + cached * price.read + completion * price.output) * PER_TOKEN


def anthropic_cost(price: Price, usage: dict) -> float:
    """The cost of an Anthropic usage object; its writes split by `cache_creation` into 5-minute and
    1-hour ones when it says so."""
    writes = _count(usage.get("cache_creation_input_tokens"))
    hour = _detail(usage, "cache_creation", "ephemeral_1h_input_tokens")
    return (_count(usage.get("input_tokens")) * price.input + (writes - min(hour, writes)) * price.write
            + min(hour, writes) * price.write_1h + _count(usage.get("cache_read_input_tokens")) * price.read
            + _count(usage.get("output_tokens")) * price.output) * PER_TOKEN


def cost_of(pricing: Pricing, provider: str | None, model: str | None, usage: dict | str | None,
            input_tokens: int | None, output_tokens: int | None) -> float | None:
    """The cost of one answer of `model` (as `provider:model`) from its raw usage (an object, or the JSON text
    the activity stored), else its (estimated) tokens; None when nothing was counted or the price is unknown."""
    if provider is None or model is None or (usage is None and input_tokens is None and output_tokens is None):
        return None
    price = pricing.price(provider, model[len(provider) + 1:])
    if price is None:
        return None
    if price is FREE:
        return 0.0
    reported = orjson.loads(usage) if isinstance(usage, str) else usage
    if isinstance(reported, dict):
        return anthropic_cost(price, reported) if pricing.types.get(provider) == "anthropic" \
            else openai_cost(price, reported)
    return ((input_tokens or 0) * price.input + (output_tokens or 0) * price.output) * PER_TOKEN


def priced(record: Record, pricing: Pricing) -> None:
    """Sets the record's cost (the first step of a finished record: the client's budget is settled with it)."""
    record.cost = cost_of(pricing, record.provider, record.model, record.usage, record.input_tokens,
                          record.output_tokens)


def recomputed(pricing: Pricing, rows: Iterable[dict], groups: Iterable[tuple[str, ...]]) -> dict:
    """Cost sums of activity rows (`provider`, `model`, `usage`, `input_tokens`, `output_tokens`,
    `total_tokens`, `cost`, and the group columns) priced again by the current prices, as
    `{columns: {values: [cost, unpriced requests]}}` for each tuple of group columns. A row whose provider is
    no longer configured keeps the cost it was recorded with."""
    sums: dict[tuple[str, ...], dict[tuple, list]] = {columns: {} for columns in groups}
    for row in rows:
        provider = row["provider"]
        cost = cost_of(pricing, provider, row["model"], row["usage"], row["input_tokens"], row["output_tokens"]) \
            if provider in pricing.types else row["cost"]
        unpriced = cost is None and row["total_tokens"] is not None
        for columns, by_values in sums.items():
            entry = by_values.setdefault(tuple(row[column] for column in columns), [0.0, 0])
            entry[0] += cost or 0.0
            entry[1] += unpriced
    return sums
