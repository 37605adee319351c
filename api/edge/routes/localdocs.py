"""LocalDocs over HTTP: `POST /v1/localdocs/search` (any key: a client key searches its client's collections),
`GET /admin/collections` and `POST /admin/collections/{name}/reindex` (server key)."""

from __future__ import annotations

from blacksheep import Application, Request, Response

from api.config.settings import CollectionSettings
from api.core.auth import Identity
from api.core.worker import State
from api.edge.body import read_json_object, receive_of
from api.edge.context import RequestContext, context_of
from api.edge.responding import json_response
from api.edge.routes.admin import require_server_key
from api.localdocs.selection import MAX_TOP_K, asked_for, select
from api.wire.errors import ApiError
from api.wire.times import iso


async def search(context: RequestContext, query: str, names: list[str] | None, top_k: int | None) -> list[dict]:
    """The ranked snippets of `query` in the collections `names` (None: the caller's own, or every one for the
    server key), as POST /v1/localdocs/search and the MCP tool `search_documents` answer, recorded in the request's
    activity; ApiError 400/403 for a collection unknown or not the caller's."""
    state, identity = context.state, context.identity
    selection = select(state.config, identity.client, identity.server_key, names, top_k or 10,
                       everything_by_default=True)
    if selection is None:
        return []
    hits = await state.searcher.search(query, selection.collections, state.config, min(selection.top_k, MAX_TOP_K),
                                       identity.client)
    context.recording.searched([collection.name for collection in selection.collections], len(hits),
                               sum(len(hit.text) for hit in hits))
    return [{"collection": hit.collection, "path": hit.path, "title": hit.title, "page": hit.page,
             "text": hit.text, "score": round(hit.score, 6), "chunk_id": hit.chunk_id} for hit in hits]


def visible(state: State, identity: Identity) -> list[CollectionSettings]:
    """The collections a caller may search and read: the server key's are every one, a client key's its client's."""
    selection = select(state.config, identity.client, identity.server_key,
                       list(state.config.collections) if identity.server_key else None, None)
    return [] if selection is None else selection.collections


async def collections_shown(state: State, names: list[str]) -> list[dict]:
    """The collections `names` as GET /admin/collections (and the MCP tool `list_collections`) show them."""
    indexed = await state.searcher.status()
    data = []
    for name in names:
        settings = state.config.collections[name]
        found = indexed.get(name)
        data.append({
            "name": name,
            "state": found["state"] if found else "indexing",
            "problem": found["problem"] if found else None,
            "paths": [str(path) for path in settings.folders(state.config.path)],
            "files": found["files"] if found else 0,
            "files_indexed": found["files_indexed"] if found else 0,
            "files_total": found["files_total"] if found else None,
            "files_done": found["files_done"] if found else None,
            "chunks": found["chunks"] if found else 0,
            "embedding_model": settings.embedding_model or (found["embedder"] if found else None),
            "last_indexed": iso(found["last_indexed"]) if found else None,
            "errors": found["errors"] if found else [],
        })
    return data


def register(app: Application) -> None:
    @app.router.post("/v1/localdocs/search")
    async def search_route(request: Request) -> Response:
        context = context_of(request)
        state = context.state
        body = await context.body_deadlines.read(
            read_json_object(receive_of(request), request.get_first_header(b"content-length"),
                             state.config.server.max_body_bytes), state.config.server.body_timeout_s)
        query = body.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ApiError(400, "'query' must be a non-empty string.", param="query", code="invalid_value")
        names, top_k = asked_for({key: body[key] for key in ("collections", "top_k") if key in body}, None)
        found = await search(context, query, names, top_k)
        return json_response(200, {"object": "list", "data": found})

    @app.router.get("/admin/collections")
    async def collections_route(request: Request) -> Response:
        require_server_key(request)
        state = context_of(request).state
        return json_response(200, {"data": await collections_shown(state, list(state.config.collections))})

    @app.router.post("/admin/collections/{name}/reindex")
    async def reindex(request: Request, name: str) -> Response:
        require_server_key(request)
        state = context_of(request).state
        if name not in state.config.collections:
            raise ApiError(404, f"No collection '{name}'.", code="collection_not_found")
        await state.searcher.reindex(name)
        return json_response(202, {"name": name, "reindex": "requested"})
