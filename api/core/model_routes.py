"""Routes: model ids (`route:NAME`) whose requests go to the first of their targets that answers.

A route orders its targets by its strategy (`fallback`, `weighted`, `least-busy`, `lowest-latency`), skipping
those cooled down. Each target is tried, and tried again after a failure that may pass (a connection error, 408,
429, 500-504, 529) as its `retry-after` says or with a growing backoff, within `retries` and the route's
deadline; then the next target. A prompt too long for a target goes to the next one; so do the target's own
problems (its credentials refused, the model unknown to it, an endpoint it cannot serve). Any other 4xx is the
client's own error and its answer at once: another target would refuse it too. A stream is committed to a target
once its first chunk arrived (and was not an error event); before that, it falls back like a whole answer.

What a try needs of the request (planning it for a target and admitting it once, sending it, relaying the answer)
comes from the edge as a `Sender`. Each worker keeps its targets' health (`TargetHealth`: failures in a row,
the cool-down, requests in flight, recent latency) in its own memory, across config reloads: a target cooled down
in one worker is tried once more by each other worker before that one cools it down too.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Protocol

import orjson

from api.config.settings import RouteSettings
from api.core.catalog import Catalog
from api.core.exchange import Exchange
from api.core.recording import Recording
from api.core.relay import Answer, ReadAhead
from api.translate.answers import too_long
from api.upstream.providers import Provider
from api.upstream.providers.base import UpstreamResponse
from api.wire.errors import ApiError, Dialect
from api.wire.rate_limits import RateLimited

TARGET_HEADER = b"x-gatehouse-target"
"""Names the target (`provider:model`) that answered a route's request, or failed last."""
RETRYABLE = frozenset({408, 429, 500, 502, 503, 504, 529})
"""Statuses worth a second try on the same target: they may pass."""
TARGET_PROBLEMS = frozenset({401, 403, 404, 413})
"""4xx statuses that are the target's problem rather than the client's: its credentials, its model, its size limit."""
BACKOFF_S = 0.5
BACKOFF_CAP_S = 8.0
"""A retry without a retry-after waits BACKOFF_S, doubled each time up to BACKOFF_CAP_S, less up to half (jitter)."""
LATENCY_WEIGHT = 0.3
"""How much the last successful try moves a target's latency (an exponentially weighted average)."""


class Sender(Protocol):
    """What a route's tries need of the request they serve (api/edge/forwarding.py)."""

    recording: Recording

    def plan(self, provider: Provider, model: str) -> Exchange:
        """The exchange for the request sent to `model` of `provider` (a 400 ApiError when it cannot serve it); one
        that goes upstream lets the request in by its client's limits, once however many tries it takes
        (`RateLimited` when they refuse it)."""
        ...

    async def answer_here(self, exchange: Exchange) -> Answer:
        """The answer of an exchange the gateway answers itself (no `path`: a count_tokens it counts)."""
        ...

    def send(self, exchange: Exchange) -> Awaitable[UpstreamResponse]: ...

    def relay(self, upstream: UpstreamResponse, exchange: Exchange, ahead: ReadAhead) -> Awaitable[Answer]:
        """The answer relayed (api/core/relay.py), a stream once `ahead` read its first chunk."""
        ...


@dataclass(slots=True)
class Health:
    """What a worker knows of one target lately."""

    failures: int = 0
    """Failed tries in a row."""
    cool_until: float = 0.0
    """time.monotonic() until which the target is skipped."""
    probing: bool = False
    """A try after the cool-down is under way: the others still skip the target."""
    in_flight: int = 0
    latency_ms: float | None = None
    """Recent latency of its successful tries (None before any)."""

    def cooling(self, now: float) -> bool:
        return now < self.cool_until or self.probing


class TargetHealth:
    """The health of every target this worker's routes tried, by `provider:model`."""

    def __init__(self) -> None:
        self._of: dict[str, Health] = {}

    def of(self, target: str) -> Health:
        found = self._of.get(target)
        if found is None:
            found = self._of[target] = Health()
        return found


class RouteUnavailable(ApiError):
    """Every target of a route is cooling down: 503 with the seconds until the first is tried again."""

    def __init__(self, name: str, wait: float) -> None:
        super().__init__(503, f"Every target of route '{name}' failed lately and is cooling down; the first is "
                              f"tried again in {wait:.0f} s.", code="route_unavailable")
        self.wait = wait

    def headers(self, dialect: Dialect) -> list[tuple[bytes, bytes]]:
        return [(b"retry-after", str(max(1, round(self.wait))).encode())]


class TriedError(ApiError):
    """A route's last failure as it is answered: the target's error, naming the target in a header."""

    def __init__(self, error: ApiError, target: str) -> None:
        super().__init__(error.status, error.message, type=error.type, param=error.param, code=error.code)
        self.error, self.target = error, target

    def headers(self, dialect: Dialect) -> list[tuple[bytes, bytes]]:
        return [*self.error.headers(dialect), (TARGET_HEADER, self.target.encode())]


@dataclass(slots=True, eq=False)
class Target:
    """One target of a route: its provider and model, and its health (shared with every route naming it)."""

    name: str
    """`provider:model`."""
    provider: Provider
    model: str
    health: Health
    weight: float
    header: tuple[bytes, bytes]
    """The `x-gatehouse-target` header naming it."""
    ahead: ReadAhead
    """Its streams' first chunk read before the try is settled (`_started`, bound to the target)."""


class Route:
    """One `[routes.NAME]` with its targets resolved to providers."""

    def __init__(self, settings: RouteSettings, providers: Mapping[str, Provider], health: TargetHealth) -> None:
        self.settings = settings
        self.name = settings.name
        weights = settings.weights or (1.0,) * len(settings.targets)
        self.targets = [Target(target, providers[provider], model, health.of(target), weight,
                               (TARGET_HEADER, target.encode()),
                               partial(_started, provider=providers[provider], health=health.of(target)))
                        for target, weight in zip(settings.targets, weights, strict=True)
                        for provider, _, model in (target.partition(":"),)]
        self._in_order = settings.strategy == "fallback" or len(self.targets) < 2
        """Whether the targets are tried in their order, as the config gives them."""

    def order(self, now: float) -> list[Target]:
        """The targets in the order to try them now: the strategy's, those cooling down last (`serve` skips them as it
        reaches them); in the config's order for the fallback strategy (the usual case: no list is made)."""
        targets = self.targets
        if self._in_order:
            return targets
        ready: list[Target] = []
        cooling: list[Target] = []
        for target in targets:
            (cooling if target.health.cooling(now) else ready).append(target)
        strategy = self.settings.strategy
        if len(ready) < 2:
            return ready + cooling
        if strategy == "weighted":
            if any(target.weight for target in ready):
                first = random.choices(ready, [target.weight for target in ready])[0]
                ready.remove(first)
                ready.insert(0, first)
        elif strategy == "least-busy":
            ready.sort(key=lambda target: target.health.in_flight)
        else:  # lowest-latency: a target not tried yet goes first, its latency is to be learned
            ready.sort(key=lambda target: target.health.latency_ms or 0.0)
        return ready + cooling

    def waits(self, now: float) -> float:
        """Seconds until the first cooled-down target may be tried again."""
        return max(0.0, min(target.health.cool_until for target in self.targets) - now)

    def model_object(self) -> dict:
        """The route as an entry of GET /v1/models."""
        return {"id": self.settings.model_id, "object": "model", "created": 0, "owned_by": "gatehouse",
                "name": self.name, "provider": "route", "provider_type": "route", "strategy": self.settings.strategy,
                "targets": list(self.settings.targets)}


def routes(settings: Mapping[str, RouteSettings], providers: Mapping[str, Provider],
           health: TargetHealth) -> dict[str, Route]:
    """The config's routes by the names that reach them: `route:NAME`, and the bare NAME (which reaches a route
    only where no provider has a model of that name: `Catalog.holds`, asked when the name is the route's `name`)."""
    found: dict[str, Route] = {}
    for route_settings in settings.values():
        route = Route(route_settings, providers, health)
        found[route_settings.model_id] = found[route_settings.name] = route
    return found


async def find(routes: Mapping[str, Route], catalog: Catalog, name: str) -> Route | None:
    """The route a model name reaches, if any."""
    route = routes.get(name)
    return None if route is None or (name == route.name and await catalog.holds(name)) else route


@dataclass(slots=True)
class _Failure:
    """A failed try: its error, and what to do next."""

    error: ApiError | Answer
    message: str
    retry: bool
    """Worth another try on the same target."""
    final: bool = False
    """The client's own error: answered at once."""
    counts: bool = True
    """A failure of the target (toward its cool-down)."""
    retry_after: float | None = None


async def serve(route: Route, sender: Sender) -> Answer:
    """The answer of the first target that gives one; else the last failure, naming the target it came from."""
    settings, recording = route.settings, sender.recording
    recording.route = route.name
    now = time.monotonic()
    deadline = now + settings.deadline_s
    tries: list[dict] = []
    last: tuple[Target, _Failure] | None = None
    try:
        for target in route.order(now):
            health = target.health
            if now < health.cool_until or health.probing:  # cooling down (`Health.cooling`, written out)
                tries.append({"target": target.name, "status": None, "latency_ms": 0.0,
                              "error": "skipped: cooling down"})
                continue
            if last is not None and time.monotonic() >= deadline:
                break
            if health.failures >= settings.failures:
                health.probing = True  # the one try after the cool-down
            try:
                for number in range(settings.retries + 1):
                    outcome = await _try(route, target, sender, tries)
                    if isinstance(outcome, Answer):
                        outcome.headers = [*outcome.headers, target.header] if outcome.headers else [target.header]
                        return outcome
                    last = target, outcome
                    if outcome.final:
                        return _failed(target, outcome, recording)
                    if not outcome.retry or number == settings.retries:
                        break
                    wait = outcome.retry_after if outcome.retry_after is not None else \
                        min(BACKOFF_CAP_S, BACKOFF_S * 2 ** number) * random.uniform(0.5, 1.0)
                    if wait > settings.max_wait_s:  # the target says it is out for a while: so it is skipped
                        health.cool_until = max(health.cool_until, time.monotonic() + wait)
                        break
                    if time.monotonic() + wait >= deadline:
                        break
                    await asyncio.sleep(wait)
            finally:
                health.probing = False
    finally:
        recording.attempts = tries
    if last is None:
        raise RouteUnavailable(route.name, route.waits(time.monotonic()))
    return _failed(*last, recording)


def _failed(target: Target, failure: _Failure, recording: Recording) -> Answer:
    """The answer of a route whose last try failed: that failure, in the client's dialect, naming the target."""
    recording.error = failure.message
    if isinstance(failure.error, ApiError):
        raise TriedError(failure.error, target.name)
    failure.error.headers = [*(failure.error.headers or ()), target.header]
    return failure.error


async def _try(route: Route, target: Target, sender: Sender, tries: list[dict]) -> Answer | _Failure:
    """One try of a target: its answer, or how it failed (also noted in `tries`, and in the target's health)."""
    health = target.health
    began = time.perf_counter()
    try:
        exchange = sender.plan(target.provider, target.model)
    except RateLimited:  # the client's limits refuse the request, whichever target it goes to
        raise
    except ApiError as exc:  # it cannot serve this request (embeddings from an Anthropic provider, …): the next may
        return _noted(tries, target, began, _Failure(exc, exc.message, retry=False, counts=False), route)
    if exchange.path is None:
        return await sender.answer_here(exchange)
    health.in_flight += 1
    try:
        answer = await sender.relay(await sender.send(exchange), exchange, target.ahead)
    except ApiError as exc:
        health.in_flight -= 1
        failure = _Failure(exc, exc.message, retry=exc.status in RETRYABLE)
        if too_long(exc.status, exc.code, exc.message):
            failure.retry, failure.counts = False, False
        elif exc.status < 500 and exc.status not in RETRYABLE and exc.status not in TARGET_PROBLEMS:
            failure.final, failure.counts = True, False
        return _noted(tries, target, began, failure, route)
    if answer.stream is None:  # a stream's try is in flight until the stream ends (`Started`)
        health.in_flight -= 1
    if answer.status < 400:
        latency = _ms_since(began)
        tries.append({"target": target.name, "status": answer.status, "latency_ms": latency, "error": None})
        health.failures = 0
        health.latency_ms = latency if health.latency_ms is None else \
            health.latency_ms + LATENCY_WEIGHT * (latency - health.latency_ms)
        return answer
    recording = sender.recording
    message = recording.error or f"upstream status {answer.status}"
    recording.error = None  # the request's error is the last try's, said when it is answered
    code = _error_code(answer.body)
    failure = _Failure(answer, message, retry=answer.status in RETRYABLE, retry_after=_retry_after(answer.headers))
    if too_long(answer.status, code, message):
        failure.retry, failure.counts = False, False
    elif answer.status < 500 and not failure.retry and answer.status not in TARGET_PROBLEMS:
        failure.final, failure.counts = True, False
    return _noted(tries, target, began, failure, route)


def _noted(tries: list[dict], target: Target, began: float, failure: _Failure, route: Route) -> _Failure:
    status = failure.error.status
    tries.append({"target": target.name, "status": status,
                  "latency_ms": _ms_since(began), "error": failure.message})
    if failure.counts:
        health = target.health
        health.failures += 1
        if health.failures >= route.settings.failures:
            health.cool_until = time.monotonic() + route.settings.cooldown_s
    return failure


def _ms_since(began: float) -> float:
    """Milliseconds since `began` (a `time.perf_counter()`), to a tenth (by arithmetic: `round(x, 1)` takes
    twice as long, on every route request)."""
    return int((time.perf_counter() - began) * 10_000 + 0.5) / 10


def _error_code(body: bytes) -> object:
    """The `code` of an error body in OpenAI's dialect (None in Anthropic's, whose message says it)."""
    try:
        document = orjson.loads(body)
        return document["error"].get("code")
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None


def _retry_after(headers: list[tuple[bytes, bytes]] | None) -> float | None:
    """The wait an upstream asked for: `retry-after-ms`, else `retry-after` in seconds or as an HTTP date."""
    found = dict(headers or ())
    try:
        if b"retry-after-ms" in found:
            return max(0.0, float(found[b"retry-after-ms"]) / 1000)
        if b"retry-after" in found:
            value = found[b"retry-after"].decode("latin-1").strip()
            if value.replace(".", "", 1).isdigit():
                return float(value)
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
    except (ValueError, TypeError, OverflowError):
        return None
    return None


STREAM_ERROR_STARTS = (b"event: error", b'data: {"error"', b'data: {"type":"error"', b'data: {"type": "error"')
"""How a stream that failed at once begins, in either dialect."""


async def _started(upstream: UpstreamResponse, *, provider: Provider, health: Health) -> UpstreamResponse:
    """A stream once its first chunk arrived, to be relayed from that chunk on; an ApiError (502) when the stream
    failed, ended or began with an error event before it."""
    chunks = upstream.content.iter_any().__aiter__()
    try:
        first = await anext(chunks)
    except StopAsyncIteration:
        upstream.close()
        raise ApiError(502, f"provider '{provider.id}' ended the stream before its first byte",
                       code="upstream_error") from None
    except ApiError:
        upstream.close()
        raise
    except Exception as exc:
        upstream.close()
        failure = provider.failure(exc)
        if isinstance(failure, ApiError):
            raise failure from exc
        raise
    if first.lstrip().startswith(STREAM_ERROR_STARTS):
        upstream.close()
        text = first.decode("utf-8", "replace").strip()[:300]
        raise ApiError(502, f"provider '{provider.id}' began the stream with an error: {text}",
                       code="upstream_error")
    return Started(upstream, first, chunks, health)


class Started:
    """An upstream stream whose first chunk was read ahead: the relay reads it from that chunk on. When it ends
    the target has one request fewer in flight."""

    def __init__(self, upstream: UpstreamResponse, first: bytes, rest: AsyncIterator[bytes], health: Health) -> None:
        self._upstream, self._first, self._rest, self._health = upstream, first, rest, health
        self.status, self.headers = upstream.status, upstream.headers
        self.content = self
        self._done = False

    async def iter_any(self) -> AsyncIterator[bytes]:
        try:
            yield self._first
            async for chunk in self._rest:
                yield chunk
        finally:
            self._ended()

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_any()])

    def release(self) -> None:
        self._ended()
        self._upstream.release()

    def close(self) -> None:
        self._ended()
        self._upstream.close()

    def _ended(self) -> None:
        if not self._done:
            self._done = True
            self._health.in_flight -= 1

    def __getattr__(self, name: str) -> object:  # what else the answer offers (a local model's prompt progress)
        return getattr(self._upstream, name)
