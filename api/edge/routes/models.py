"""`GET /v1/models` and `GET /v1/models/{id}`: every provider's models as `provider-id:model-id`, then the
routes as `route:NAME`.

Requests carrying `anthropic-version` (Anthropic's SDK sends it) get Anthropic's formats, errors included
(the request middleware words those).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import unquote

from blacksheep import Application, Request, Response

from api.config.settings import PROVIDER_TYPES
from api.core.catalog import model_not_found, no_such_provider, under_provider
from api.core.model_routes import find
from api.edge.body import Query, first, first_path_segment, query_int, query_of
from api.edge.context import context_of
from api.edge.middleware import speaks_anthropic
from api.edge.responding import json_response
from api.upstream.providers import Provider
from api.wire.errors import ApiError

MODEL_KINDS = (*PROVIDER_TYPES, "route")
"""What `provider_type` filters by: a provider type, or `route` for the routes."""


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


def anthropic_page(query: Query, data: list[dict]) -> dict:
    """One page of the list in Anthropic's format: `limit` models after `after_id`, or before `before_id`,
    or the first `limit` between them when both are given (the ids are cursors, as in Anthropic's API and
    its SDK's auto-pagination). An id not in the list answers 404."""
    limit = query_int(query, "limit", ANTHROPIC_PAGE, maximum=1000) or ANTHROPIC_PAGE
    ids = [model["id"] for model in data]
    after, before = (_cursor(query, name, ids) for name in ("after_id", "before_id"))
    if before is not None and after is None:
        end = before
        start = max(end - limit, 0)
        has_more = start > 0
    else:
        start = after + 1 if after is not None else query_int(query, "offset") or 0
        bound = len(data) if before is None else before
        end = min(start + limit, bound)
        has_more = end < bound
    page = [anthropic_model_object(model) for model in data[start:end]]
    return {"data": page, "has_more": has_more,
            "first_id": page[0]["id"] if page else None, "last_id": page[-1]["id"] if page else None}


def _cursor(query: Query, name: str, ids: list[str]) -> int | None:
    """The position of the model a cursor parameter names; a blank one names none."""
    cursor = first(query, name)
    if not cursor:
        return None
    if cursor not in ids:
        raise ApiError(404, f"Invalid value for '{name}': no model has the id '{cursor}'.", param=name,
                       code="model_not_found")
    return ids.index(cursor)


def register(app: Application) -> None:
    async def list_of(request: Request, provider_id: str | None) -> Response:
        state = context_of(request).state
        if provider_id is not None and provider_id not in state.providers:
            raise no_such_provider(provider_id)
        query = query_of(request)
        kinds = {kind for name in ("provider_type", "providerType") for kind in query.get(name, ())}
        if not kinds <= set(MODEL_KINDS):
            raise ApiError(400, f"Invalid value for 'provider_type': expected one of {', '.join(MODEL_KINDS)}.",
                           param="provider_type", code="invalid_value")
        data = [
            model_object(entry.provider, model_id, info)
            for entry in await state.catalog.everything()
            if kinds <= {entry.provider.type} and provider_id in (None, entry.provider.id)
            for model_id, info in (entry.models or {}).items()
        ]
        if provider_id is None and kinds <= {"route"}:
            data += [route.model_object() for name, route in state.routes.items() if name == route.settings.model_id]
        if speaks_anthropic(request):
            return json_response(200, anthropic_page(query, data))
        limit, offset = query_int(query, "limit"), query_int(query, "offset") or 0
        return json_response(200, {"object": "list", "data": data[offset:] if limit is None
                                   else data[offset:offset + limit]})

    async def one(request: Request, name: str) -> Response:
        state = context_of(request).state
        catalog = state.catalog
        route = await find(state.routes, catalog, name) if state.routes else None
        if route is not None:
            found = route.model_object()
            return json_response(200, anthropic_model_object(found) if speaks_anthropic(request) else found)
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
