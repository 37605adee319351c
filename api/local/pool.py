"""Loaded models of one `llamacpp` provider: loaded lazily, lent out one request at a time, unloaded LRU.

A llama.cpp model object is not thread-safe, so each one serves one generation at a
time. A model has up to `parallel` such instances; requests beyond them wait in a queue
of at most `max_queue` (429 past that). An instance that is given back goes straight to
the oldest waiter. Loading happens in a thread and counts as the instance being busy, so
concurrent first requests load a model once (with `parallel = 1`).

The pool lives for the worker process, not for one config: a reload that keeps a model's
file and options keeps it loaded. Idle instances are unloaded, least recently used first,
while more than `max_loaded` models or more than `max_memory_mb` of model files are loaded;
a busy instance is never unloaded, so the budget can be exceeded while all are busy.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

from api.config.settings import LocalSettings
from api.wire.errors import ApiError

log = logging.getLogger("gatehouse")


@dataclass(slots=True)
class _Model:
    name: str
    size_bytes: int
    idle: list = field(default_factory=list)
    busy: int = 0
    waiters: deque = field(default_factory=deque)
    used: float = 0.0

    @property
    def instances(self) -> int:
        return len(self.idle) + self.busy


class ModelPool:
    def __init__(self) -> None:
        self.settings = LocalSettings()
        self._models: dict[Hashable, _Model] = {}

    async def acquire(self, key: Hashable, name: str, size_bytes: int, load: Callable[[], Any]) -> Any:
        """An instance of the model `key`, for this caller alone until `release`; `load` makes one (in a thread)."""
        model = self._models.setdefault(key, _Model(name, size_bytes))
        model.used = time.monotonic()
        if model.idle:
            model.busy += 1
            return model.idle.pop()
        if model.instances < self.settings.parallel:
            model.busy += 1
            await self._make_room(key, size_bytes)
            try:
                return await asyncio.get_running_loop().run_in_executor(None, load)
            except BaseException as exc:
                model.busy -= 1
                while model.waiters:  # they would have waited for this instance
                    waiter = model.waiters.popleft()
                    if not waiter.done():
                        waiter.set_exception(exc)
                raise
        if len(model.waiters) >= self.settings.max_queue:
            raise ApiError(429, f"The local model '{name}' is busy: {model.busy} request(s) running and "
                                f"{len(model.waiters)} waiting (max_queue = {self.settings.max_queue}). Retry later.",
                           code="model_busy")
        waiter = asyncio.get_running_loop().create_future()
        model.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.release(key, waiter.result())  # handed over just as this caller was cancelled
            raise
        finally:
            if waiter in model.waiters:
                model.waiters.remove(waiter)

    def release(self, key: Hashable, instance: Any) -> None:
        """Give an instance back: to the oldest waiter, else to the idle list (then the budget is enforced)."""
        model = self._models[key]
        model.used = time.monotonic()
        while model.waiters:
            waiter = model.waiters.popleft()
            if not waiter.done():
                waiter.set_result(instance)
                return
        model.busy -= 1
        model.idle.append(instance)
        self._trim()

    def loaded(self) -> dict[str, int]:
        """Model name → loaded instances."""
        found: dict[str, int] = {}
        for model in self._models.values():
            if model.instances:
                found[model.name] = found.get(model.name, 0) + model.instances
        return found

    async def _make_room(self, key: Hashable, size_bytes: int) -> None:
        """Unload idle instances so that one more instance of `key` fits the budget."""
        for instance in self._evict(key, size_bytes):
            await asyncio.get_running_loop().run_in_executor(None, instance.close)

    def _trim(self) -> None:
        for instance in self._evict(None, 0):
            instance.close()

    def _evict(self, adding: Hashable | None, size_bytes: int) -> list:
        settings, models = self.settings, self._models
        limit_bytes = settings.max_memory_mb * 1024 * 1024

        def over() -> bool:
            loaded = [key for key, model in models.items() if model.instances or key == adding]
            memory = size_bytes + sum(model.size_bytes * model.instances for model in models.values())
            return len(loaded) > settings.max_loaded or bool(limit_bytes and memory > limit_bytes)

        evicted = []
        for key, model in sorted(models.items(), key=lambda item: item[1].used):
            while key != adding and model.idle and over():
                evicted.append(model.idle.pop())
                log.info("unloading local model '%s' (least recently used; max_loaded=%d, max_memory_mb=%d)",
                         model.name, settings.max_loaded, settings.max_memory_mb)
        return evicted


_POOLS: dict[str, ModelPool] = {}


def pool_for(provider_id: str, settings: LocalSettings) -> ModelPool:
    """The worker's pool for a provider id, kept across config reloads, with the provider's current settings."""
    pool = _POOLS.setdefault(provider_id, ModelPool())
    pool.settings = settings
    return pool
