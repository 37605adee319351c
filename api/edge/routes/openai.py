"""OpenAI-compatible endpoints: chat completions, legacy completions, embeddings, and the Responses API
(passed through to a provider that serves it natively, else over chat completions, see
api/translate/responses_api.py).

The hot path: read and parse the body once, apply the client's settings, resolve the model, send it
upstream, relay the answer's bytes untouched (translated only when the provider speaks Anthropic's API).
"""

from __future__ import annotations

from blacksheep import Application, Request, Response

from api.edge.forwarding import forward


def register(app: Application) -> None:
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
        return await forward(request, "responses")
