"""`GET /v1/models` and `GET /v1/models/{id}`: every provider's models as `provider-id:model-id`.

Requests carrying `anthropic-version` (Anthropic's SDK sends it) get Anthropic's formats, errors included
(the request middleware words those).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from blacksheep import Application, Request, Response

from api.config.settings import PROVIDER_TYPES
from api.core.catalog import model_not_found, no_such_provider, under_provider
from api.edge.body import first_path_segment, query_int
from api.edge.context import context_of
from api.edge.middleware import speaks_anthropic
from api.edge.responding import json_response
from api.upstream.providers import Provider
from api.wire.errors import ApiError


def model_object(provider: Provider, model_id: str, info: dict) -> dict:
    created = info.get("created")
    return {
        "id": f"{provider.id}:{model_id}",
        "object": "model",
        "created": created if isinstance(created, int) else 0,
        "owned_by": info.get("owned_by") or provider.id,
        "name": model_id,
        "provider": provider.id,
        "provider_type": provider.type,
        **({"display_name": info["display_name"]} if info.get("display_name") else {}),
        **info.get("extra", {}),
    }


def anthropic_model_object(model: dict) -> dict:
    """The same model in Anthropic's format; a provider's model list names no retirements, so it is `active`."""
    created = datetime.fromtimestamp(model["created"], UTC).isoformat().replace("+00:00", "Z")
    return {"type": "model", "id": model["id"], "display_name": model.get("display_name") or model["id"],
            "created_at": created, "lifecycle": "active"}


ANTHROPIC_PAGE = 20
"""Anthropic's default `limit` (its maximum is 1000)."""


def anthropic_page(request: Request, data: list[dict]) -> dict:
    """One page of the list in Anthropic's format: `limit` models after `after_id`, or before `before_id`
    (the ids are cursors, as in Anthropic's API and its SDK's auto-pagination)."""
    limit = query_int(request, "limit", ANTHROPIC_PAGE, maximum=1000) or ANTHROPIC_PAGE
    after, before = (request.query.get(name, [None])[0] for name in ("after_id", "before_id"))
    if after and before:
        raise ApiError(400, "Give either after_id or before_id, not both.", param="before_id")
    ids = [model["id"] for model in data]
    cursor = after or before
    if cursor and cursor not in ids:
        raise ApiError(400, f"Invalid value for '{'after_id' if after else 'before_id'}': no model has the id "
                            f"'{cursor}'.", param="after_id" if after else "before_id", code="invalid_value")
    if before:
        end = ids.index(before)
        start = max(end - limit, 0)
        has_more = start > 0
    else:
        start = ids.index(after) + 1 if after else query_int(request, "offset") or 0
        end = start + limit
        has_more = end < len(data)
    page = [anthropic_model_object(model) for model in data[start:end]]
    return {"data": page, "has_more": has_more,
            "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None}


def register(app: Application) -> None:
    async def list_of(request: Request, provider_id: str | None) -> Response:
        state = context_of(request).state
        if provider_id is not None and provider_id not in state.providers:
            raise no_such_provider(provider_id)
        kinds = request.query.get("provider_type") or request.query.get("providerType")
        kind = kinds[0] if kinds else None
        if any(value not in PROVIDER_TYPES for name in ("provider_type", "providerType")
               for value in request.query.get(name, ())):
            raise ApiError(400, f"Invalid value for 'provider_type': expected one of {', '.join(PROVIDER_TYPES)}.",
                           param="provider_type", code="invalid_value")
        data = [
            model_object(entry.provider, model_id, info)
            for entry in await state.catalog.everything()
            if (kind is None or entry.provider.type == kind) and provider_id in (None, entry.provider.id)
            for model_id, info in (entry.models or {}).items()
        ]
        if speaks_anthropic(request):
            return json_response(200, anthropic_page(request, data))
        limit, offset = query_int(request, "limit"), query_int(request, "offset") or 0
        return json_response(200, {"object": "list", "data": data[offset:] if limit is None
                                   else data[offset:offset + limit]})

    async def one(request: Request, name: str) -> Response:
        catalog = context_of(request).state.catalog
        provider, upstream_id = await catalog.resolve(name)
        entry = await catalog.of(provider.id)
        if entry.models is None or (listed := provider.listed(entry.models, upstream_id)) is None:
            raise model_not_found(name)
        model = model_object(provider, listed, entry.models[listed])
        return json_response(200, anthropic_model_object(model) if speaks_anthropic(request) else model)

    @app.router.get("/v1/models")
    async def list_models(request: Request) -> Response:
        return await list_of(request, None)

    @app.router.get("/v1/models/{path:model_id}")
    async def get_model(request: Request, model_id: str) -> Response:
        return await one(request, unquote(model_id))

    # Under /{provider-id}/, where Anthropic's SDK lists models when its base URL names a provider.
    @app.router.get("/{provider_id}/v1/models")
    async def list_provider_models(request: Request) -> Response:
        return await list_of(request, first_path_segment(request))

    @app.router.get("/{provider_id}/v1/models/{path:model_id}")
    async def get_provider_model(request: Request, model_id: str) -> Response:
        provider_id = first_path_segment(request)
        return await one(request, under_provider(context_of(request).state.providers, provider_id, unquote(model_id)))
