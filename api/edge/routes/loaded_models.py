"""Which models are in memory, and loading and unloading them (server key): `GET /admin/models/loaded`,
`POST /admin/models/{id}/load`, `POST /admin/models/{id}/unload`. Local GGUF models (their model hosts) and
Ollama's models answer; other providers' models are always available and have nothing to load."""

from __future__ import annotations

import asyncio

from blacksheep import Application, Request, Response

from api.edge.body import read_json_object, receive_of
from api.edge.context import context_of
from api.edge.responding import json_response
from api.edge.routes.admin import require_server_key
from api.local import keep_alive
from api.upstream.providers.base import HoldsModels
from api.wire.errors import ApiError

ASK_TIMEOUT_S = 5.0
"""How long a provider is given to say what it has loaded."""


async def _holder(request: Request, model_id: str) -> tuple[HoldsModels, str]:
    provider, model = await context_of(request).state.catalog.resolve(model_id)
    if not isinstance(provider, HoldsModels):
        raise ApiError(400, f"Provider '{provider.id}' (type {provider.type}) does not load models: its models are "
                            "always available. Local (llamacpp) and Ollama models load and unload.",
                       param="model", code="model_not_loadable")
    return provider, model


def register(app: Application) -> None:
    @app.router.get("/admin/models/loaded")
    async def loaded(request: Request) -> Response:
        require_server_key(request)
        holders = [provider for provider in context_of(request).state.providers.values()
                   if isinstance(provider, HoldsModels)]
        answers = await asyncio.gather(*(asyncio.wait_for(holder.loaded_models(), ASK_TIMEOUT_S)
                                         for holder in holders), return_exceptions=True)
        data, problems = [], []
        for holder, answer in zip(holders, answers, strict=True):
            if isinstance(answer, BaseException):
                message = answer.message if isinstance(answer, ApiError) else (
                    f"no answer within {ASK_TIMEOUT_S:g} s" if isinstance(answer, TimeoutError)
                    else f"{answer.__class__.__name__}: {answer}")
                problems.append({"provider": holder.id, "message": message})
            else:
                data.extend(answer)
        return json_response(200, {"data": data, "problems": problems})

    @app.router.post("/admin/models/{path:model_id}/load")
    async def load(request: Request, model_id: str) -> Response:
        require_server_key(request)
        context = context_of(request)
        settings = context.state.config.server
        body = await context.body_deadlines.read(
            read_json_object(receive_of(request), request.get_first_header(b"content-length"),
                             settings.max_body_bytes), settings.body_timeout_s) \
            if request.get_first_header(b"content-length") not in (None, b"0") else {}
        unknown = sorted(body.keys() - {"keep_alive"})
        if unknown:
            raise ApiError(400, f"Unknown field '{unknown[0]}': a load takes only 'keep_alive'.", param=unknown[0],
                           code="invalid_value")
        seconds = keep_alive.seconds(body["keep_alive"]) if "keep_alive" in body else None
        holder, model = await _holder(request, model_id)
        return json_response(200, await holder.load_model(model, seconds))

    @app.router.post("/admin/models/{path:model_id}/unload")
    async def unload(request: Request, model_id: str) -> Response:
        require_server_key(request)
        holder, model = await _holder(request, model_id)
        unloaded = await holder.unload_model(model)
        return json_response(200, {"model": f"{holder.id}:{model}", "unloaded": unloaded})
