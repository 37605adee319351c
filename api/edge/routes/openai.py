"""OpenAI-compatible endpoints: chat completions, legacy completions, embeddings, and the Responses API
(passed through to a provider that serves it natively, else over chat completions, see
api/translate/responses_api.py).

The hot path: read and parse the body once, apply the client's settings,
resolve the model, send it upstream, relay the answer's bytes untouched
(translated only when the provider speaks Anthropic's API).
"""

from __future__ import annotations

import orjson
from blacksheep import Application, Request, Response

from api.core.exchange import openai_request_to_anthropic, responses_request_to_chat
from api.wire.errors import ApiError
from api.edge.middleware import REQUEST_ID
from api.core.relay import relay
from api.edge.routes.inbound import inbound

# endpoint name → (upstream path, the parameter it cannot do without, and its JSON type)
ENDPOINTS = {
    "chat": ("/chat/completions", "messages", list),
    "completions": ("/completions", "prompt", (str, list)),
    "embeddings": ("/embeddings", "input", (str, list)),
}


def register(app: Application) -> None:
    async def forward(request: Request, endpoint: str) -> Response:
        path, required, kind = ENDPOINTS[endpoint]
        routed = await inbound(request, endpoint, required, kind)
        body, provider = routed.body, routed.provider
        translation = None
        if provider.dialect == "anthropic":
            if endpoint != "chat":
                hint = "choose a model of another provider" if endpoint == "embeddings" else \
                    "send the prompt as a message to /v1/chat/completions or /v1/messages"
                raise ApiError(400, f"Provider '{provider.id}' speaks Anthropic's Messages API, which has no "
                                    f"{path} endpoint; {hint}.", param="model")
            body, translation = openai_request_to_anthropic(body)
            path = "/messages"
        upstream = await provider.post(path, orjson.dumps(body), request.scope[REQUEST_ID])
        return await relay(upstream, provider, request.content.receive, "openai", routed.record, body, translation)

    @app.router.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await forward(request, "chat")

    @app.router.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await forward(request, "completions")

    @app.router.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        return await forward(request, "embeddings")

    @app.router.post("/v1/responses")
    async def responses(request: Request) -> Response:
        routed = await inbound(request, "responses", "input", (str, list))
        provider = routed.provider
        if provider.responses_native:  # passed through, like a chat request to an OpenAI-type provider
            body, translation, path = routed.body, None, "/responses"
        else:
            body, translation = responses_request_to_chat(routed.body, provider)
            path = "/messages" if provider.dialect == "anthropic" else "/chat/completions"
        upstream = await provider.post(path, orjson.dumps(body), request.scope[REQUEST_ID])
        return await relay(upstream, provider, request.content.receive, "openai", routed.record, body, translation,
                           responses=translation is None)
