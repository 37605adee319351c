"""The clients' limits and budgets and what is left of them now (server key): `GET /admin/limits`."""

from __future__ import annotations

from blacksheep import Application, Request, Response

from api.edge.context import context_of
from api.edge.responding import json_response
from api.edge.routes.admin import require_server_key


def register(app: Application) -> None:
    @app.router.get("/admin/limits")
    async def limits(request: Request) -> Response:
        require_server_key(request)
        return json_response(200, {"data": [client.state() for client in context_of(request).state.limits.values()]})
