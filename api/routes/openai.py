"""OpenAI-compatible endpoints: chat completions, legacy completions, embeddings.

The hot path: read and parse the body once, apply the client's settings,
resolve the model, send it upstream, relay the answer's bytes untouched
(translated only when the provider speaks Anthropic's API).
"""

from __future__ import annotations

import orjson
from blacksheep import Application, Request, Response

from api.body import optional_model, read_json_object, require
from api.clients import apply_client_settings
from api.dialects import openai_request_to_anthropic
from api.errors import ApiError
from api.middleware import IDENTITY, RECORD, REQUEST_ID, STATE
from api.relay import relay

# endpoint name → (upstream path, the parameter it cannot do without, and its JSON type)
ENDPOINTS = {
    "chat": ("/chat/completions", "messages", list),
    "completions": ("/completions", "prompt", (str, list)),
    "embeddings": ("/embeddings", "input", (str, list)),
}


def register(app: Application) -> None:
    async def forward(request: Request, endpoint: str) -> Response:
        state = request.scope[STATE]
        body = await read_json_object(request, state.config.server.max_body_bytes)
        path, required, kind = ENDPOINTS[endpoint]
        require(body, required, kind)
        optional_model(body)
        apply_client_settings(body, state.config, request.scope[IDENTITY].client, endpoint)
        provider, body["model"] = await state.catalog.resolve(body["model"])
        record = request.scope[RECORD]
        if record is not None:
            record.routed(provider.id, body["model"], provider.dialect, body.get("stream") is True)
        translation = None
        if provider.dialect == "anthropic":
            if endpoint != "chat":
                raise ApiError(400, f"Provider '{provider.id}' speaks Anthropic's Messages API, which has no "
                                    f"{path} endpoint; use /v1/chat/completions.", param="model")
            body, translation = openai_request_to_anthropic(body)
            path = "/messages"
        upstream = await provider.post(path, orjson.dumps(body), request.scope[REQUEST_ID])
        return await relay(upstream, provider, request.content.receive, "openai", record, translation)

    @app.router.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await forward(request, "chat")

    @app.router.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await forward(request, "completions")

    @app.router.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        return await forward(request, "embeddings")
