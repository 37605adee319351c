"""OpenAI-compatible endpoints: chat completions, legacy completions, embeddings, and the Responses API
(passed through to a provider that serves it natively, else over chat completions, see
api/translate/responses_api.py).

The hot path: read and parse the body once, apply the client's settings, resolve the model, send it
upstream, relay the answer's bytes untouched (translated only when the provider speaks Anthropic's API).
"""

from __future__ import annotations

from blacksheep import Application

from api.core.exchange import Endpoint
from api.edge.forwarding import serving

PATHS: dict[str, Endpoint] = {
    "/v1/chat/completions": "chat",
    "/v1/completions": "completions",
    "/v1/embeddings": "embeddings",
    "/v1/responses": "responses",
}


def register(app: Application) -> None:
    for path, endpoint in PATHS.items():
        app.router.add_post(path, serving(endpoint))
