"""Anthropic-compatible endpoints: `POST /v1/messages` and `/v1/messages/count_tokens`,
also as `/{provider-id}/v1/...` with the provider taken from the path and a bare model id."""

from __future__ import annotations

from blacksheep import Application

from api.core.exchange import Endpoint
from api.edge.forwarding import serving, serving_under_provider

PATHS: dict[str, Endpoint] = {"/v1/messages": "messages", "/v1/messages/count_tokens": "count_tokens"}


def register(app: Application) -> None:
    for path, endpoint in PATHS.items():
        app.router.add_post(path, serving(endpoint))
        app.router.add_post("/{provider_id}" + path, serving_under_provider(endpoint))
