"""The price table: what a model's tokens cost, in USD per million, by provider type and model id.

Shipped as data (prices.toml beside this module: versioned and dated), read once per process, and
overridden per provider by `[providers.NAME.prices."model-id"]` in the config. Providers of type
`ollama` and `llamacpp` run on the user's machine and cost 0 unless priced in the config.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources

from api.config.settings import ProviderSettings

FREE_TYPES = ("ollama", "llamacpp")
"""Provider types whose models run locally: their tokens cost nothing."""
_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|latest)$")
"""A dated or `-latest` version of a model id: `-2024-08-06`, `-20250929`, `-latest`."""


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens. A missing cache price costs as `input` (a write for an hour as a write)."""

    input: float
    output: float
    cache_read: float | None = None
    cache_write: float | None = None
    """Anthropic's 5-minute cache writes."""
    cache_write_1h: float | None = None

    @property
    def read(self) -> float:
        return self.input if self.cache_read is None else self.cache_read

    @property
    def write(self) -> float:
        return self.input if self.cache_write is None else self.cache_write

    @property
    def write_1h(self) -> float:
        return self.write if self.cache_write_1h is None else self.cache_write_1h

    def as_json(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value is not None}


FREE = Price(0.0, 0.0, 0.0, 0.0, 0.0)


def base_model(model: str) -> str:
    """The model id without a date or `-latest` suffix (`claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`)."""
    return _SUFFIX.sub("", model)


def matching(prices: Mapping[str, Price], model: str) -> Price | None:
    """The price of `model`: its exact id's, else that of its id without a date or `-latest` suffix."""
    found = prices.get(model)
    return prices.get(base_model(model)) if found is None else found


@dataclass(frozen=True, slots=True)
class PriceTable:
    """The shipped table."""

    version: int
    date: str
    """When its figures were taken."""
    source: str
    models: dict[str, dict[str, Price]]
    """By provider type, then model id."""


@cache
def shipped() -> PriceTable:
    """The table shipped with Gatehouse (read once per process)."""
    data = tomllib.loads(resources.files(__package__).joinpath("prices.toml").read_text("utf-8"))
    models = {kind: {model: Price(**price) for model, price in data[kind].items()}
              for kind in data if isinstance(data[kind], dict)}
    return PriceTable(data["version"], data["date"], data["source"], models)


class Pricing:
    """The prices that apply under one config: the shipped table under each provider's overrides.

    Built with each config (a reload builds a new one); what a (provider, model) costs is found once and kept.
    """

    def __init__(self, providers: Mapping[str, ProviderSettings], table: PriceTable | None = None) -> None:
        self.table = shipped() if table is None else table
        self.types = {pid: settings.type for pid, settings in providers.items()}
        self.overrides = {pid: {model: Price(**price) for model, price in settings.prices.items()}
                          for pid, settings in providers.items()}
        self._found: dict[tuple[str, str], Price | None] = {}

    def price(self, provider: str, model: str) -> Price | None:
        """What `model` of provider `provider` costs; None when unknown (no price, or no such provider)."""
        key = (provider, model)
        if key in self._found:
            return self._found[key]
        found = self._find(provider, model)
        if len(self._found) < 10_000:  # model ids come from clients: the memo is bounded
            self._found[key] = found
        return found

    def _find(self, provider: str, model: str) -> Price | None:
        kind = self.types.get(provider)
        if kind is None:
            return None
        if (found := matching(self.overrides[provider], model)) is not None:
            return found
        if kind in FREE_TYPES:
            return FREE
        return matching(self.table.models.get(kind, {}), model)

    def as_json(self) -> dict:
        """The table and each provider's overrides, for GET /admin/prices."""
        table = self.table
        return {
            "version": table.version, "date": table.date, "source": table.source,
            "free_types": list(FREE_TYPES),
            "models": {kind: {model: price.as_json() for model, price in prices.items()}
                       for kind, prices in table.models.items()},
            "providers": [{"id": pid, "type": kind,
                           "prices": {model: price.as_json() for model, price in self.overrides[pid].items()}}
                          for pid, kind in self.types.items()],
        }
