"""What every model endpoint does: read and check the body, fill in the client's settings, resolve the model
to its provider (or a route's targets: api/core/model_routes.py), then carry out the exchange
(api/core/exchange.py) and relay the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from blacksheep import Request, Response

from api.config.settings import ClientSettings
from api.core import model_routes
from api.core.catalog import under_provider
from api.core.client_settings import apply_client_settings, refused_sampling
from api.core.exchange import CLIENT_DIALECTS, Endpoint, Exchange, count_input_tokens, plan, upstream_dialect
from api.core.recording import Recording
from api.core.relay import Answer, ReadAhead, relay
from api.core.worker import State
from api.edge.body import first_path_segment, json_object, optional_model, receive_body, require
from api.edge.context import RequestContext, context_of
from api.edge.responding import answer_response, json_response
from api.localdocs import augment
from api.localdocs.selection import FIELD, HEADER, asked_for, select
from api.upstream.providers import Provider
from api.upstream.providers.base import UpstreamResponse
from api.wire.errors import JSON

REQUIRED: dict[Endpoint, tuple[str, type | tuple[type, ...]]] = {
    "chat": ("messages", list),
    "completions": ("prompt", (str, list)),
    "embeddings": ("input", (str, list)),
    "responses": ("input", (str, list)),
    "messages": ("messages", list),
    "count_tokens": ("messages", list),
}
"""The parameter each endpoint cannot do without, and its JSON type."""
LOCALDOCS_ENDPOINTS = frozenset({"chat", "responses", "messages"})
"""The chat endpoints, whose requests get LocalDocs snippets."""
CLIENT_HEADERS = (b"anthropic-version", b"anthropic-beta")
"""Client headers that reach an Anthropic provider as they are."""


def _model(_state: State, body: dict) -> str:
    return body["model"]


async def forward(request: Request, endpoint: Endpoint,
                  model_name: Callable[[State, dict], str] = _model) -> Response:
    """Serve a model endpoint: read the request, complete it with its client's settings, resolve the model
    (`model_name` gives the name to resolve; default: the body's model) to a provider or a route, plan the
    exchange, send it upstream, relay the answer."""
    context = context_of(request)
    state = context.state
    receive = request.content.receive  # type: ignore[union-attr]  # receive_of(request), minus two calls
    server = state.config.server
    raw = await context.body_deadlines.read(
        receive_body(receive, request.get_first_header(b"content-length"), server.max_body_bytes),
        server.body_timeout_s)
    body = json_object(raw)
    require(body, *REQUIRED[endpoint])
    optional_model(body)
    localdocs = body.pop(FIELD, None)  # Gatehouse's own field: never sent upstream
    if localdocs is not None or state.config.collections:
        hits = await _localdocs(request, endpoint, body, localdocs)
    else:
        hits = None
    client = apply_client_settings(body, state.config, context.identity.client, endpoint)
    name = model_name(state, body)
    route = state.routes.get(name) if state.routes else None  # (`model_routes.find` written out: no coroutine)
    if route is not None and name == route.name and await state.catalog.holds(name):
        route = None  # the route's bare NAME: a provider's model of that name comes first
    recording = context.recording
    assert isinstance(recording, Recording)  # model paths always have one (api/edge/middleware.py)
    if route is not None:
        forwarding = Forwarding(request, context, endpoint, raw, body, client, hits, recording)
        answer = await model_routes.serve(route, forwarding)
    else:
        provider, body["model"] = await state.catalog.resolve(name)
        exchange = _planned(context, recording, endpoint, body, provider)
        if exchange.path is None:
            return json_response(200, {"input_tokens": await count_input_tokens(exchange)})
        _admit(context, recording)
        answer = await relay(await _sent(request, exchange, hits), exchange, receive, recording)
    if hits and answer.status < 400:
        found = augment.sources(hits)
        if answer.stream is not None:
            dialect = "responses" if endpoint == "responses" else CLIENT_DIALECTS[endpoint]
            answer.stream = augment.with_sources_stream(answer.stream, found, dialect)
        else:
            answer.body = augment.with_sources_body(answer.body, found)
    return answer_response(answer)


def _planned(context: RequestContext, recording: Recording, endpoint: Endpoint, body: dict,
             provider: Provider) -> Exchange:
    """The exchange of `body`, its model already the provider's."""
    recording.routed(provider.id, body["model"], upstream_dialect(provider), body.get("stream") is True)
    exchange = plan(endpoint, body, provider)
    exchange.operator = context.identity.server_key
    return exchange


def _admit(context: RequestContext, recording: Recording) -> None:
    """Let the request in by its client's limits (429 when one refuses), once however many tries it takes."""
    if recording.settles is None and (limits := context.state.limits_of(context.identity.client)):
        limits.admit(recording)


def _sent(request: Request, exchange: Exchange, hits: list | None) -> Awaitable[UpstreamResponse]:
    """The exchange's request sent upstream (the coroutine that sends it: the caller awaits it, one coroutine
    frame less on every request)."""
    if hits:
        augment.augment(exchange.body, exchange.path, hits)  # type: ignore[arg-type]  # path: planned
    headers = _client_headers(request) if exchange.client_headers else None
    return exchange.provider.post(exchange.path, orjson.dumps(exchange.body),  # type: ignore[arg-type]
                                  context_of(request).request_id, headers)


class Forwarding:
    """A route's request on its way to each target it tries (api/core/model_routes.py `Sender`); `client`: the
    settings of its client, which completed it."""

    __slots__ = ("body", "client", "context", "endpoint", "hits", "raw", "recording", "request")

    def __init__(self, request: Request, context: RequestContext, endpoint: Endpoint, raw: bytes, body: dict | None,
                 client: ClientSettings, hits: list | None, recording: Recording) -> None:
        self.request, self.context, self.endpoint, self.raw, self.body = request, context, endpoint, raw, body
        self.client, self.hits, self.recording = client, hits, recording

    def plan(self, provider: Provider, model: str) -> Exchange:
        """The exchange for one target (the request let in by its client's limits once one goes upstream). Each try
        changes a body of its own (translation, snippets): the first the request's, the next ones the request's
        body read again as it came (`raw`) and completed again with its client's settings (nothing is copied for a
        request that the first try answers); so is the first's for a target that refuses the client's sampling
        defaults, filled in for the route's name."""
        body, self.body = self.body, None  # the first try's: the next gets its own
        if body is None or refused_sampling(self.client, model):
            body = json_object(self.raw)
            body.pop(FIELD, None)
            body["model"] = model  # the settings that depend on the model: for the target's
            apply_client_settings(body, self.context.state.config, self.client.name, self.endpoint)
        body["model"] = model
        exchange = _planned(self.context, self.recording, self.endpoint, body, provider)
        if exchange.path is not None:
            _admit(self.context, self.recording)
        return exchange

    async def answer_here(self, exchange: Exchange) -> Answer:
        return Answer(200, JSON, orjson.dumps({"input_tokens": await count_input_tokens(exchange)}))

    def send(self, exchange: Exchange) -> Awaitable[UpstreamResponse]:
        return _sent(self.request, exchange, self.hits)

    def relay(self, upstream: UpstreamResponse, exchange: Exchange, ahead: ReadAhead) -> Awaitable[Answer]:
        return relay(upstream, exchange, self.request.content.receive,  # type: ignore[union-attr]
                     self.recording, ahead)


async def _localdocs(request: Request, endpoint: Endpoint, body: dict, field: object) -> list | None:
    """The snippets for a chat request (None when it searches no collection), fitted to the prompt budget."""
    context = context_of(request)
    names, top_k = asked_for(field, request.get_first_header(HEADER))
    if endpoint not in LOCALDOCS_ENDPOINTS:
        return None
    selection = select(context.state.config, context.identity.client, context.identity.server_key, names, top_k)
    if selection is None:
        return None
    query = augment.question(body, endpoint)
    if not query.strip():
        return None
    hits = augment.fitted(await context.state.searcher.search(query, selection.collections, context.state.config,
                                                              selection.top_k, context.identity.client))
    context.recording.searched([collection.name for collection in selection.collections], len(hits),
                               sum(len(hit.text) for hit in hits))
    return hits


def serving(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """The handler of a model endpoint's path."""
    async def serve(request: Request) -> Response:
        return await forward(request, endpoint)
    return serve


def serving_under_provider(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """The handler of a model endpoint under `/{provider_id}/`: the provider from the path, the model id without
    its prefix (`provider-id:model` when it is left out)."""
    async def serve(request: Request) -> Response:
        provider_id = first_path_segment(request)
        return await forward(request, endpoint,
                             lambda state, body: under_provider(state.providers, provider_id, body["model"]))
    return serve


def _client_headers(request: Request) -> dict[str, str]:
    found = {}
    for name in CLIENT_HEADERS:
        value = request.get_first_header(name)
        if value:
            found[name.decode()] = value.decode("latin-1")
    return found
