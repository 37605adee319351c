"""Which provider serves a model: the model catalog and model-name resolution.

Providers that list `models` in the config are never asked; the others are
asked for their list on first need, cached for `FRESH_S`, and retried after
`RETRY_S` when they fail. A provider that is down keeps its last good list
(marked unreachable) and never breaks the others.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from api.upstream.providers import Provider
from api.wire.errors import ApiError

FRESH_S = 300.0
RETRY_S = 15.0


@dataclass(slots=True)
class ProviderModels:
    provider: Provider
    models: dict[str, dict] | None = None
    """Model id → what the provider said of it (its `extra` fields are shown in /v1/models);
    None while never fetched successfully."""
    error: str | None = None
    """Why the last discovery failed, if it did."""
    checked: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def reachable(self) -> bool:
        return self.problem is None

    @property
    def problem(self) -> str | None:
        """Why the provider is not reachable: its last model discovery failed, or its last request
        could not connect (the only sign for a provider whose models are configured, never asked)."""
        return self.error or self.provider.unreachable


class Catalog:
    """Every provider's models, discovered lazily and cached."""

    def __init__(self, providers: dict[str, Provider]) -> None:
        self.providers = providers
        self._lists: dict[str, ProviderModels] = {}
        for pid, provider in providers.items():
            configured = provider.settings.models
            entry = ProviderModels(provider)
            if configured is not None:
                entry.models = {model: {"id": model} for model in configured}
                entry.checked = float("inf")
            self._lists[pid] = entry

    async def of(self, provider_id: str) -> ProviderModels:
        """A provider's model list, refreshed if stale."""
        entry = self._lists[provider_id]
        if self._fresh(entry):
            return entry
        async with entry.lock:
            if not self._fresh(entry):  # another task may have refreshed it meanwhile
                try:
                    entry.models = await entry.provider.discover()
                    entry.error = None
                except ApiError as exc:
                    entry.error = exc.message
                entry.checked = time.monotonic()
        return entry

    async def rediscover(self, provider_id: str) -> ProviderModels:
        """A provider's model list asked for again now (a configured list is returned as it is)."""
        entry = self._lists[provider_id]
        if entry.provider.settings.models is None:
            async with entry.lock:
                entry.checked = 0.0
        return await self.of(provider_id)

    async def check(self, provider_id: str) -> dict:
        """Ask a provider whose models are configured (and so never asked) for its list now: does it
        answer, with the key it is given, and does it offer the configured models?"""
        entry = self._lists[provider_id]
        assert entry.models is not None  # configured, so set from the start
        try:
            listed = await entry.provider.discover()
        except ApiError as exc:
            return {"answered": False, "error": exc.message, "not_listed": None}
        return {"answered": True, "error": None,
                "not_listed": [model for model in entry.models if entry.provider.listed(listed, model) is None]}

    @staticmethod
    def _fresh(entry: ProviderModels) -> bool:
        age = time.monotonic() - entry.checked
        return age < (RETRY_S if entry.error else FRESH_S)

    def known(self) -> list[ProviderModels]:
        """Every provider's list as last learned, without asking anyone."""
        return list(self._lists.values())

    async def everything(self) -> list[ProviderModels]:
        """Every provider's list, fetched concurrently."""
        return list(await asyncio.gather(*(self.of(pid) for pid in self._lists)))

    async def holds(self, name: str) -> bool:
        """Whether any provider has a model of this bare name (then it is not a route's: api/core/model_routes.py)."""
        return any(entry.models and entry.provider.listed(entry.models, name) is not None
                   for entry in await self.everything())

    async def resolve(self, name: str) -> tuple[Provider, str]:
        """The provider and upstream model id for `provider:model` or a bare model name.

        A model named under its provider is refused here only when the provider's list holds every
        model it serves; otherwise the provider decides (Anthropic takes aliases such as
        `claude-sonnet-4-5` that its list leaves out) and its own 404 reaches the client.
        """
        provider_id, sep, model = name.partition(":")
        if sep and model and provider_id in self._lists:
            entry = await self.of(provider_id)
            provider = entry.provider
            if provider.lists_all_models and entry.models is not None and provider.listed(entry.models, model) is None:
                raise model_not_found(name)
            return provider, model
        entries = await self.everything()
        holders = [entry.provider for entry in entries
                   if entry.models and entry.provider.listed(entry.models, name) is not None]
        if len(holders) == 1:
            return holders[0], name
        if holders:
            choices = ", ".join(f"'{p.id}:{name}'" for p in holders)
            raise ApiError(400, f"The model '{name}' is served by several providers; name one of {choices}.",
                           param="model", code="model_ambiguous")
        down = [f"'{entry.provider.id}'" for entry in entries if not entry.reachable]
        note = f" (unreachable now: {', '.join(down)})" if down else ""
        raise model_not_found(name, note)


def under_provider(providers: dict[str, Provider], provider_id: str, name: str) -> str:
    """The model `name` as `provider-id:model` when a path names the provider (`/{provider-id}/v1/...`),
    whose model ids may leave the prefix out; 404 for a provider the config does not have."""
    if provider_id not in providers:
        raise no_such_provider(provider_id)
    prefix = f"{provider_id}:"
    return name if name.startswith(prefix) else prefix + name


def no_such_provider(provider_id: str) -> ApiError:
    """404 for a path naming a provider the config does not have."""
    return ApiError(404, f"No provider '{provider_id}' in the config.", code="provider_not_found")


def model_not_found(name: str, note: str = "") -> ApiError:
    return ApiError(
        404,
        f"The model '{name}' does not exist on this gateway{note}. Model ids are 'provider-id:model-id'; "
        "list them with GET /v1/models.",
        param="model",
        code="model_not_found",
    )
