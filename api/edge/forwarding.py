"""What every model endpoint does: read and check the body, fill in the client's settings, resolve the model
to its provider, then carry out the exchange (api/core/exchange.py) and relay the answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from blacksheep import Request, Response

from api.core.catalog import under_provider
from api.core.client_settings import apply_client_settings
from api.core.exchange import Endpoint, count_input_tokens, plan, upstream_dialect
from api.core.relay import relay
from api.core.worker import State
from api.edge.body import first_path_segment, optional_model, read_json_object, require
from api.edge.context import context_of
from api.edge.responding import answer_response, json_response

REQUIRED: dict[Endpoint, tuple[str, type | tuple[type, ...]]] = {
    "chat": ("messages", list),
    "completions": ("prompt", (str, list)),
    "embeddings": ("input", (str, list)),
    "responses": ("input", (str, list)),
    "messages": ("messages", list),
    "count_tokens": ("messages", list),
}
"""The parameter each endpoint cannot do without, and its JSON type."""
CLIENT_HEADERS = (b"anthropic-version", b"anthropic-beta")
"""Client headers that reach an Anthropic provider as they are."""


def _model(_state: State, body: dict) -> str:
    return body["model"]


async def forward(request: Request, endpoint: Endpoint,
                  model_name: Callable[[State, dict], str] = _model) -> Response:
    """Serve a model endpoint: read the request, complete it with its client's settings, resolve the model
    (`model_name` gives the name to resolve; default: the body's model), plan the exchange, send it upstream,
    relay the answer."""
    context = context_of(request)
    state = context.state
    receive = request.content.receive  # type: ignore[union-attr]  # receive_of(request), minus two calls
    server = state.config.server
    body = await context.body_deadlines.read(
        read_json_object(receive, request.get_first_header(b"content-length"), server.max_body_bytes),
        server.body_timeout_s)
    require(body, *REQUIRED[endpoint])
    optional_model(body)
    apply_client_settings(body, state.config, context.identity.client, endpoint)
    provider, body["model"] = await state.catalog.resolve(model_name(state, body))
    context.recording.routed(provider.id, body["model"], upstream_dialect(provider), body.get("stream") is True)
    exchange = plan(endpoint, body, provider)
    exchange.operator = context.identity.server_key
    if exchange.path is None:
        return json_response(200, {"input_tokens": await count_input_tokens(exchange)})
    headers = _client_headers(request) if exchange.client_headers else None
    upstream = await exchange.provider.post(exchange.path, orjson.dumps(exchange.body), context.request_id, headers)
    return answer_response(await relay(upstream, exchange, receive, context.recording))


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
