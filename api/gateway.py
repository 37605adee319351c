"""The gateway's live state: config, keys, providers and their models, and the upstream connection pool."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import aiohttp

from api.auth import KeyRing
from api.config import Config
from api.providers import PROVIDER_CLASSES, Provider
from api.routing import Catalog

log = logging.getLogger("gatehouse")


@dataclass(frozen=True, slots=True)
class State:
    """Everything derived from one config. A request reads it once and keeps it to the end."""

    config: Config
    keys: KeyRing
    providers: dict[str, Provider]
    catalog: Catalog


class Gateway:
    """Owns the pooled HTTP client and the current `State` of one worker."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.started = time.time()
        self.http: aiohttp.ClientSession | None = None
        self.state: State | None = None
        self._warmup: asyncio.Task | None = None

    def build_state(self, config: Config) -> State:
        providers = {pid: PROVIDER_CLASSES[settings.type](settings, config.server, self.http)
                     for pid, settings in config.providers.items()}
        return State(config, KeyRing(config), providers, Catalog(providers))

    async def start(self, _app=None) -> None:
        connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=60, ttl_dns_cache=300)
        self.http = aiohttp.ClientSession(connector=connector, auto_decompress=True)
        self.state = self.build_state(self.config)
        for provider in self.state.providers.values():
            if provider.settings.api_key_env and not provider.settings.api_key:
                log.warning("provider '%s': environment variable %s is not set; requests go out without a key",
                            provider.id, provider.settings.api_key_env)
        # Learn the model lists in the background so the first request does not wait for them.
        self._warmup = asyncio.create_task(self.state.catalog.everything())

    async def stop(self, _app=None) -> None:
        if self._warmup and not self._warmup.done():
            self._warmup.cancel()
        if self.http:
            await self.http.close()
