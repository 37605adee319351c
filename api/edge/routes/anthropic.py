"""Anthropic-compatible endpoints: `POST /v1/messages` and `/v1/messages/count_tokens`,
also as `/{provider-id}/v1/...` with the provider taken from the path and a bare model id."""

from __future__ import annotations

import orjson
from blacksheep import Application, Request, Response

from api.core.exchange import anthropic_request_to_openai, estimate_input_tokens
from api.wire.errors import json_response
from api.core.worker import State
from api.edge.middleware import REQUEST_ID
from api.upstream.providers import Provider
from api.core.relay import relay
from api.edge.routes.inbound import inbound
from api.core.catalog import under_provider

FORWARDED_HEADERS = (b"anthropic-version", b"anthropic-beta")
"""Client headers that reach an Anthropic provider as they are."""


def _model_name(state: State, body: dict, provider_id: str | None) -> str:
    """The model to resolve: as sent, or `provider-id:model` when the path names the provider."""
    return body["model"] if provider_id is None else under_provider(state.providers, provider_id, body["model"])


def _forwarded(request: Request) -> dict[str, str]:
    found = {}
    for name in FORWARDED_HEADERS:
        value = request.get_first_header(name)
        if value:
            found[name.decode()] = value.decode("latin-1")
    return found


async def _input_tokens(provider: Provider, body: dict) -> int:
    """count_tokens for a provider that does not speak Anthropic: exact from one with a `count_tokens`
    method (local models count the translated body as its generation would), else the estimate."""
    count = getattr(provider, "count_tokens", None)
    if count is None:
        return estimate_input_tokens(body)
    return await count(anthropic_request_to_openai(body)[0])


def register(app: Application) -> None:
    async def forward(request: Request, provider_id: str | None, counting: bool) -> Response:
        routed = await inbound(request, "count_tokens" if counting else "messages", "messages", list,
                               lambda state, body: _model_name(state, body, provider_id))
        body, provider, record = routed.body, routed.provider, routed.record
        path = "/messages/count_tokens" if counting else "/messages"
        if provider.dialect == "anthropic":
            upstream = await provider.post(path, orjson.dumps(body), request.scope[REQUEST_ID], _forwarded(request))
            return await relay(upstream, provider, request.content.receive, "anthropic", record, body)
        if counting:
            return json_response(200, {"input_tokens": await _input_tokens(provider, body)})
        upstream_body, translation = anthropic_request_to_openai(body, provider.openai_itself)
        upstream = await provider.post("/chat/completions", orjson.dumps(upstream_body), request.scope[REQUEST_ID])
        return await relay(upstream, provider, request.content.receive, "anthropic", record, upstream_body,
                           translation)

    @app.router.post("/v1/messages")
    async def messages(request: Request) -> Response:
        return await forward(request, None, counting=False)

    @app.router.post("/v1/messages/count_tokens")
    async def count_tokens(request: Request) -> Response:
        return await forward(request, None, counting=True)

    @app.router.post("/{provider_id}/v1/messages")
    async def provider_messages(request: Request, provider_id: str) -> Response:
        return await forward(request, provider_id, counting=False)

    @app.router.post("/{provider_id}/v1/messages/count_tokens")
    async def provider_count_tokens(request: Request, provider_id: str) -> Response:
        return await forward(request, provider_id, counting=True)
