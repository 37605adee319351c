"""OpenAI-compatible endpoints: chat completions, legacy completions, embeddings.

The hot path: read and parse the body once, apply the client's settings,
resolve the model, send it upstream, relay the answer's bytes untouched.
"""

from __future__ import annotations

import orjson
from blacksheep import Application, Request, Response

from api.body import read_json_object
from api.clients import apply_client_settings
from api.errors import ApiError, missing_parameter
from api.gateway import Gateway
from api.middleware import IDENTITY, REQUEST_ID
from api.relay import relay

# endpoint name → (upstream path, the parameter it cannot do without, and its JSON type)
ENDPOINTS = {
    "chat": ("/chat/completions", "messages", list),
    "completions": ("/completions", "prompt", (str, list)),
    "embeddings": ("/embeddings", "input", (str, list)),
}


def _check(body: dict, endpoint: str) -> None:
    _, required, kind = ENDPOINTS[endpoint]
    if body.get(required) is None:
        raise missing_parameter(required)
    if not isinstance(body[required], kind) or (kind is list and not body[required]):
        expected = "a non-empty array" if kind is list else "a string or an array"
        raise ApiError(400, f"Invalid value for '{required}': expected {expected}.", param=required,
                       code="invalid_type")
    if not isinstance(body.get("model", ""), str) and body.get("model") is not None:
        raise ApiError(400, "Invalid value for 'model': expected a string.", param="model", code="invalid_type")


def register(app: Application, gateway: Gateway) -> None:
    async def forward(request: Request, endpoint: str) -> Response:
        state = gateway.state
        body = await read_json_object(request, state.config.server.max_body_bytes)
        _check(body, endpoint)
        apply_client_settings(body, state.config, request.scope[IDENTITY].client, endpoint)
        provider, body["model"] = await state.catalog.resolve(body["model"])
        upstream = await provider.post(ENDPOINTS[endpoint][0], orjson.dumps(body), request.scope[REQUEST_ID])
        return await relay(upstream, provider, request.content.receive)

    @app.router.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await forward(request, "chat")

    @app.router.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await forward(request, "completions")

    @app.router.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        return await forward(request, "embeddings")
