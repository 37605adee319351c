"""`/admin/*`: the server's own state, for operators and the TUI. Server key only; secrets never leave."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import time
from datetime import datetime

import orjson
from blacksheep import Application, Request, Response, StreamedContent

from api import __version__
from api.config.redact import redacted
from api.core import crashes
from api.core.catalog import ProviderModels, no_such_provider
from api.core.relay import until_disconnect
from api.core.worker import State, Worker
from api.edge.body import Query, first, query_int, query_of, receive_of
from api.edge.context import context_of
from api.edge.responding import json_response
from api.govern.costs import recomputed
from api.local.host_client import model_hosts
from api.store.activity import StoreUnavailable, as_json
from api.upstream.providers.base import HoldsModels
from api.wire.errors import ApiError
from api.wire.sse import SSE, SSE_HEADERS
from api.wire.times import iso

TAIL_POLL_S = 0.25
TAIL_KEEPALIVE_S = 15.0
PAGE_MAX = 1000

FAILED = "(status >= 400 OR error IS NOT NULL)"
"""A failed request: an error status, or an error after a 200 (a stream the provider broke off, a client
that left)."""


USAGE_SUMS = ", ".join(f"COALESCE(SUM({expression}), 0) AS {name}" for name, expression in (
    ("requests", "1"), ("errors", FAILED), ("input_tokens", "input_tokens"),
    ("output_tokens", "output_tokens"), ("total_tokens", "total_tokens"),
    ("estimated_requests", "tokens_estimated"), ("cost", "cost"),
    ("cached_input_tokens", "COALESCE(json_extract(usage, '$.cache_read_input_tokens'), "
                            "json_extract(usage, '$.prompt_tokens_details.cached_tokens'), "
                            "json_extract(usage, '$.input_tokens_details.cached_tokens'))"),
    ("cache_write_tokens", "json_extract(usage, '$.cache_creation_input_tokens')"),
    ("unpriced_requests", "cost IS NULL AND total_tokens IS NOT NULL")))
"""What /admin/usage sums per group: cache reads and writes from the raw usage each dialect reports."""
RECOMPUTE_COLUMNS = ("client", "model", "route", "provider", "usage", "input_tokens", "output_tokens",
                     "total_tokens", "cost")


def require_server_key(request: Request) -> None:
    if not context_of(request).identity.server_key:
        raise ApiError(403, "The admin API needs the server key ([server].api_key); client keys cannot use it.",
                       code="server_key_required")


async def client_settings(state: State, name: str) -> dict:
    """What applies to requests of client `name`: its own settings, or the `server` client's."""
    config = state.config
    client = config.client(name)
    model = {"id": client.model, "provider": None, "upstream_id": None, "error": None}
    if client.model:
        try:
            provider, upstream_id = await state.catalog.resolve(client.model)
            model.update(provider=provider.id, upstream_id=upstream_id)
        except ApiError as exc:
            model["error"] = exc.message
    prompt = config.prompts.get(client.prompt) if client.prompt else None
    return {
        "name": name,
        "configured": name in config.clients,
        "settings_from": client.name,
        "model": model,
        "prompt": {"name": prompt.name, "text": prompt.text} if prompt else None,
        "temperature": client.temperature,
        "top_p": client.top_p,
        "max_tokens": client.max_tokens,
        "collections": list(client.collections),
        "own_api_key": bool(client.api_key) and client.name == name,
    }


EARLIEST_S, LATEST_S = -62135596800, 253402300799
"""Epoch seconds of 0001-01-01 and 9999-12-31: the times Python's datetime can show."""


def _time_param(query: Query, name: str) -> float | None:
    """Epoch seconds or an ISO 8601 time (RFC 3339's lower-case `t`/`z` and fractions finer than
    microseconds taken too)."""
    value = first(query, name)
    if value is None:
        return None
    invalid = ApiError(400, f"Invalid value for '{name}': expected epoch seconds or an ISO 8601 time.",
                       param=name, code="invalid_value")
    try:
        seconds = float(value)
    except ValueError:
        text = _FINER_THAN_MICROSECONDS.sub(r"\1", value.upper()).replace("Z", "+00:00")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise invalid from None
        return (moment if moment.tzinfo else moment.astimezone()).timestamp()
    if not (math.isfinite(seconds) and EARLIEST_S <= seconds <= LATEST_S):  # nan, inf, before year 1, after 9999
        raise invalid
    return seconds


_FINER_THAN_MICROSECONDS = re.compile(r"(\.\d{6})\d+")


def _activity_filters(query: Query) -> tuple[list[str], list]:
    """SQL conditions and parameters for the filters client, model, status, since_id, since, until."""
    conditions: list[str] = []
    parameters: list[object] = []
    for name in ("client", "model", "provider"):
        if text := first(query, name):  # blank: no filter
            conditions.append(f"{name} = ?")
            parameters.append(text)
    status = first(query, "status")
    if status in ("ok", "error"):
        conditions.append(f"NOT {FAILED}" if status == "ok" else FAILED)
    elif status is not None:
        conditions.append("status = ?")
        parameters.append(query_int(query, "status"))
    for name, condition in (("since_id", "id > ?"), ("before_id", "id < ?")):
        value = query_int(query, name)
        if value is not None:
            conditions.append(condition)
            parameters.append(value)
    for name, condition in (("since", "ts >= ?"), ("until", "ts < ?")):
        moment = _time_param(query, name)
        if moment is not None:
            conditions.append(condition)
            parameters.append(moment)
    return conditions, parameters


def _health(worker: Worker) -> dict:
    """Whether this worker's records reach the activity file (see api.store.activity.Health)."""
    if worker.recorder is None:
        return {"recording": False, "problem": "not started", "since": None, "lost_records": 0}
    health = worker.recorder.health
    return {"recording": health.recording, "problem": health.problem, "since": iso(health.since),
            "lost_records": health.lost}


def _where(conditions: list[str]) -> str:
    return f"WHERE {' AND '.join(conditions)}" if conditions else ""


def provider_models(entry: ProviderModels) -> dict:
    """A provider as the models view shows it: where it is, whether it answers, what it serves."""
    provider = entry.provider
    return {"id": provider.id, "type": provider.type, "base_url": provider.settings.base_url,
            "models_configured": provider.settings.models is not None,
            "reachable": entry.reachable, "error": entry.problem,
            "models": [f"{provider.id}:{model}" for model in entry.models or ()]}


def register(app: Application, worker: Worker) -> None:
    def recorder():
        if worker.recorder is None:
            raise ApiError(503, "Activity recording is not running.")
        return worker.recorder

    async def read(sql: str, parameters: tuple = ()) -> list[dict]:
        """Rows of the activity file, or a 503 while it cannot be read (deleted, not yet created again)."""
        try:
            return await recorder().query(sql, parameters)
        except StoreUnavailable as exc:
            raise ApiError(503, f"Activity cannot be read right now: {exc}.", code="activity_unavailable") from None

    @app.router.get("/admin/status")
    async def status(request: Request) -> Response:
        require_server_key(request)
        state = context_of(request).state
        reloads = worker.reloads
        local = [entry.provider for entry in state.catalog.known() if isinstance(entry.provider, HoldsModels)
                 and entry.provider.in_process]
        crashed: list[dict] = []
        if local:  # what the model hosts hold now, and their crashes
            await asyncio.gather(*(provider.loaded_models() for provider in local), return_exceptions=True)
            with contextlib.suppress(ApiError):
                crashed = [{**crash, "at": iso(crash["at"])} for crash in await model_hosts().crashes()]
        return json_response(200, {
            "version": __version__,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - worker.started, 3),
            "workers": state.config.server.workers,
            "workers_restarted": crashes.recent(state.config.server.data_dir),
            "config_path": str(worker.config_path),
            "config_generation": state.generation,
            "last_reload": iso(reloads.last_reload),
            "last_reload_error": reloads.last_error,
            "last_reload_error_at": iso(reloads.last_error_at),
            "activity_recording": state.config.activity.enabled,
            "activity": _health(worker),
            "local_model_crashes": crashed,
            "providers": [{"id": entry.provider.id, "type": entry.provider.type,
                           "reachable": entry.reachable if entry.checked else None,
                           "error": entry.problem, "models": len(entry.models or ()), **entry.provider.status()}
                          for entry in state.catalog.known()],
        })

    @app.router.get("/admin/providers")
    async def providers(request: Request) -> Response:
        require_server_key(request)
        return json_response(200, {"data": [provider_models(entry)
                                            for entry in await context_of(request).state.catalog.everything()]})

    @app.router.get("/admin/providers/{provider_id}")
    async def one_provider(request: Request, provider_id: str) -> Response:
        """One provider's models; `?refresh=true` asks the provider again now (the TUI's provider test),
        also one whose models are configured, whose answer is then under `check`."""
        require_server_key(request)
        catalog = context_of(request).state.catalog
        if provider_id not in catalog.providers:
            raise no_such_provider(provider_id)
        refresh = (first(query_of(request), "refresh") or "").lower() in ("1", "true", "yes")
        entry = await (catalog.rediscover(provider_id) if refresh else catalog.of(provider_id))
        body = provider_models(entry)
        if refresh and body["models_configured"]:
            body["check"] = await catalog.check(provider_id)
        return json_response(200, body)

    @app.router.get("/admin/config")
    async def config(request: Request) -> Response:
        require_server_key(request)
        return json_response(200, redacted(context_of(request).state.config))

    @app.router.get("/admin/clients")
    async def clients(request: Request) -> Response:
        require_server_key(request)
        state = context_of(request).state
        names = ["server", *(name for name in state.config.clients if name != "server")]
        return json_response(200, {"data": [await client_settings(state, name) for name in names]})

    @app.router.get("/admin/clients/{name}")
    async def one_client(request: Request, name: str) -> Response:
        require_server_key(request)
        return json_response(200, await client_settings(context_of(request).state, name))

    @app.router.get("/admin/activity")
    async def activity(request: Request) -> Response:
        require_server_key(request)
        query = query_of(request)
        conditions, parameters = _activity_filters(query)
        limit = max(1, query_int(query, "limit", 100, PAGE_MAX))
        rows = await read(f"SELECT * FROM activity {_where(conditions)} ORDER BY id DESC LIMIT ?",
                                      (*parameters, limit + 1))
        page = rows[:limit]
        return json_response(200, {"data": [as_json(row) for row in page],
                                   "next_before_id": page[-1]["id"] if len(rows) > limit else None})

    @app.router.get("/admin/activity/stream")
    async def activity_stream(request: Request) -> Response:
        """New records as they are written, by any worker (they share the file), as SSE."""
        require_server_key(request)
        query = query_of(request)
        conditions, parameters = _activity_filters(query)
        last = query_int(query, "since_id")
        if last is None:  # from now on
            last = (await read("SELECT COALESCE(MAX(id), 0) AS id FROM activity"))[0]["id"]
        newer = f"SELECT * FROM activity {_where([*conditions, 'id > ?'])} ORDER BY id LIMIT 500"
        receive = receive_of(request)

        async def events():
            nonlocal last
            gone = asyncio.ensure_future(until_disconnect(receive))
            quiet_since = time.monotonic()
            try:
                yield b": activity tail\n\n"
                while not gone.done() and not worker.stopping:
                    try:
                        rows = await read(newer, (*parameters, last))
                    except ApiError:  # the file is being created again: nothing new yet
                        rows = []
                    if rows:
                        last = rows[-1]["id"]
                        quiet_since = time.monotonic()
                        yield b"".join(b"data: " + orjson.dumps(as_json(row)) + b"\n\n" for row in rows)
                    elif time.monotonic() - quiet_since > TAIL_KEEPALIVE_S:
                        quiet_since = time.monotonic()
                        yield b": keep-alive\n\n"
                    await asyncio.wait((gone,), timeout=TAIL_POLL_S)
            finally:
                gone.cancel()

        return Response(200, [*SSE_HEADERS], StreamedContent(SSE, events))

    @app.router.get("/admin/usage")
    async def usage(request: Request) -> Response:
        """Requests, tokens and cost per client, model, route and client and model over a window (default: the
        last 24 hours); `recompute=true` prices each request again by the current prices (docs/costs.md)."""
        require_server_key(request)
        query = query_of(request)
        until = _time_param(query, "until")
        until = time.time() if until is None else until
        since = _time_param(query, "since")
        since = max(until - 86400, EARLIEST_S) if since is None else since
        recompute = (first(query, "recompute") or "").lower() in ("1", "true", "yes")
        window = "WHERE ts >= ? AND ts < ?"
        groups = {"total": (), "by_client": ("client",), "by_model": ("model",), "by_route": ("route",),
                  "by_client_and_model": ("client", "model")}
        body: dict = {"since": iso(since), "until": iso(until), "recomputed": recompute}
        for name, columns in groups.items():
            select = "".join(f"{column}, " for column in columns)
            group = f"GROUP BY {', '.join(columns)} ORDER BY requests DESC" if columns else ""
            body[name] = await read(f"SELECT {select}{USAGE_SUMS} FROM activity {window} {group}", (since, until))
        if recompute:
            rows = await read(f"SELECT {', '.join(RECOMPUTE_COLUMNS)} FROM activity {window}", (since, until))
            sums = await asyncio.to_thread(recomputed, context_of(request).state.pricing, rows, groups.values())
            for name, columns in groups.items():
                for row in body[name]:
                    row["cost"], row["unpriced_requests"] = sums[columns].get(tuple(row[c] for c in columns), (0.0, 0))
        body["total"] = body["total"][0]
        return json_response(200, body)

    @app.router.get("/admin/prices")
    async def prices(request: Request) -> Response:
        """The price table and each provider's overrides of it (USD per million tokens)."""
        require_server_key(request)
        return json_response(200, context_of(request).state.pricing.as_json())
