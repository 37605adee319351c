"""One Granian worker's live state: config, keys, providers and their models, and the upstream connection pool.

A config reload builds a new `State` and swaps it in one assignment: requests
already in flight keep the state they started with, new ones get the new one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass

from api.config import locations
from api.config.settings import RESTART_KEYS, Config, ConfigError, changed_keys, load_config
from api.core import gc_tuning
from api.core import stopping as server_stop
from api.core.auth import KeyRing
from api.core.catalog import Catalog
from api.core.model_routes import Route, TargetHealth, routes
from api.core.reload import watch_config
from api.govern.costs import priced
from api.govern.ledger import Ledger, LedgerFull
from api.govern.limits import ClientLimits, client_limits
from api.govern.metrics import Metrics
from api.govern.prices import Pricing
from api.localdocs.search import Searcher
from api.store.activity import FILE_NAME as ACTIVITY_FILE
from api.store.activity import ActivityStore, Record, Recorder
from api.upstream.http_client import HttpClient
from api.upstream.providers import PROVIDER_CLASSES, Provider
from api.upstream.providers.base import Preloads

log = logging.getLogger("gatehouse")


@dataclass(frozen=True, slots=True)
class State:
    """Everything derived from one config. A request reads it once and keeps it to the end."""

    config: Config
    keys: KeyRing
    providers: dict[str, Provider]
    catalog: Catalog
    generation: int
    """1 for the config the worker started with, +1 for every accepted reload."""
    searcher: Searcher
    """The worker's LocalDocs searcher (the same across reloads: it keeps the collections' vectors)."""
    limits: dict[str, ClientLimits]
    """The limits of the clients that have any, by name (api/govern/limits.py)."""
    pricing: Pricing
    """The price table under the providers' overrides (api/govern/prices.py)."""
    routes: dict[str, Route]
    """The config's routes by `route:NAME` and by bare NAME (api/core/model_routes.py)."""

    def limits_of(self, client: str) -> ClientLimits | None:
        """The limits that apply to a client's requests (an unknown client's are the `server` client's)."""
        if not self.limits:
            return None
        found = self.limits.get(client)
        return found if found is not None or client in self.config.clients else self.limits.get("server")


@dataclass(slots=True)
class ReloadStatus:
    last_reload: float | None = None
    """When the last accepted reload happened (epoch seconds)."""
    last_error: str | None = None
    """Why the last reload was rejected; None once a reload succeeds."""
    last_error_at: float | None = None


class Worker:
    """Owns the pooled HTTP client and the current `State` of one worker process."""

    def __init__(self, config: Config) -> None:
        self.config_path = config.path
        self.started = time.time()
        self.http = HttpClient()
        self.state: State
        """Set by `start`, replaced by each accepted reload."""
        self.reloads = ReloadStatus()
        self.recorder: Recorder | None = None
        self.metrics = Metrics()
        self.ledger = Ledger(config.server.data_dir)
        """The counters every worker shares (limits, budgets), opened in this worker's own process."""
        self.searcher = Searcher(config.server.data_dir)
        self.health = TargetHealth()
        """How the routes' targets fared lately in this worker (kept across reloads)."""
        self._initial = config
        self._stopping = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()

    def _build_state(self, config: Config, generation: int) -> State:
        providers = {pid: PROVIDER_CLASSES[settings.type](settings, config.server, self.http)
                     for pid, settings in config.providers.items()}
        for provider in providers.values():
            if provider.settings.api_key_env and not provider.settings.api_key:
                log.warning("provider '%s': environment variable %s is not set; requests go out without a key",
                            provider.id, provider.settings.api_key_env)
        return State(config, KeyRing(config), providers, Catalog(providers), generation, self.searcher,
                     client_limits(config.clients, self.ledger), Pricing(config.providers),
                     routes(config.routes, providers, self.health))

    def _background(self, coroutine) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def stopping(self) -> bool:
        """True once this worker or its server is stopping: long-lived streams then end."""
        return self._stopping.is_set() or server_stop.announced()

    def _install(self, state: State) -> None:
        self.state = state
        if self.recorder is not None:
            self.recorder.max_age_s = state.config.activity.retention_days * 86400
            self.recorder.max_rows = state.config.activity.max_rows
        # Learn the model lists in the background so the first request does not wait for them.
        self._background(self._discover(state))

    @staticmethod
    async def _discover(state: State) -> None:
        await state.catalog.everything()
        for provider in state.providers.values():
            if isinstance(provider, Preloads):
                await provider.preload()

    async def start(self, _app: object = None) -> None:
        store = ActivityStore(self._initial.server.data_dir / ACTIVITY_FILE)
        self.recorder = Recorder(store, max_age_s=0, max_rows=0, echo=os.environ.get(locations.LOG_REQUESTS_ENV) == "1",
                                 on_lag=self.metrics.activity_lag.set)
        self._install(self._build_state(self._initial, generation=1))
        await self.recorder.start()
        self._background(self.recorder.run(self._stopping))
        self._background(watch_config(self.config_path, self._initial.stamp, self.reload, self._stopping))
        gc_tuning.tune()

    async def stop(self, _app: object = None) -> None:
        self._stopping.set()
        for task in list(self._tasks):
            task.cancel()
        if self.recorder is not None:
            await self.recorder.close()
        self.searcher.close()
        self.ledger.close()
        await self.http.close()

    def finished(self, record: Record) -> None:
        """A request's record is complete (a stream's when it ended): settle what it cost, then keep it."""
        priced(record, self.state.pricing)
        if record.settles is not None:
            record.settles(record)
        self.metrics.observe(record)
        if self.state.config.activity.enabled and self.recorder is not None:
            self.recorder.add(record)

    def reload(self) -> None:
        """Re-read the config file; keep serving the last good config if it is invalid."""
        worker = f"worker {os.getpid()}"
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            self.reloads.last_error, self.reloads.last_error_at = str(exc), time.time()
            log.error("%s: config change rejected, still serving generation %d: %s",
                      worker, self.state.generation, exc)
            return
        previous = self.state
        changed = changed_keys(previous.config, config)
        if not changed:
            self.reloads.last_error = self.reloads.last_error_at = None
            return
        try:
            state = self._build_state(config, previous.generation + 1)
        except LedgerFull as exc:  # a valid config, but more limited clients than the ledger has room for now
            self.reloads.last_error, self.reloads.last_error_at = f"config change not applied: {exc}", time.time()
            log.error("%s: config change not applied, still serving generation %d: %s",
                      worker, previous.generation, exc)
            return
        self.reloads.last_error = self.reloads.last_error_at = None
        self._install(state)
        self.reloads.last_reload = time.time()
        log.info("%s: config reloaded (generation %d); changed: %s", worker, self.state.generation, ", ".join(changed))
        needs_restart = [key for key in changed if key in RESTART_KEYS]
        if needs_restart:
            log.warning("%s: %s take effect when the supervisor restarts the server", worker, ", ".join(needs_restart))
