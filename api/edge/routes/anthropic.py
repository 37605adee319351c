"""Anthropic-compatible endpoints: `POST /v1/messages` and `/v1/messages/count_tokens`,
also as `/{provider-id}/v1/...` with the provider taken from the path and a bare model id."""

from __future__ import annotations

from collections.abc import Callable

from blacksheep import Application, Request, Response

from api.core.catalog import under_provider
from api.core.worker import State
from api.edge.forwarding import forward


def _under(provider_id: str) -> Callable[[State, dict], str]:
    """The model to resolve when the path names the provider: `provider-id:model`."""
    return lambda state, body: under_provider(state.providers, provider_id, body["model"])


def register(app: Application) -> None:
    @app.router.post("/v1/messages")
    async def messages(request: Request) -> Response:
        return await forward(request, "messages")

    @app.router.post("/v1/messages/count_tokens")
    async def count_tokens(request: Request) -> Response:
        return await forward(request, "count_tokens")

    @app.router.post("/{provider_id}/v1/messages")
    async def provider_messages(request: Request, provider_id: str) -> Response:
        return await forward(request, "messages", _under(provider_id))

    @app.router.post("/{provider_id}/v1/messages/count_tokens")
    async def provider_count_tokens(request: Request, provider_id: str) -> Response:
        return await forward(request, "count_tokens", _under(provider_id))
