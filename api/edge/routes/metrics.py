"""`GET /metrics` (server key): the requests served, in Prometheus' text format (api/govern/metrics.py)."""

from __future__ import annotations

from blacksheep import Application, Content, Request, Response

from api.core.worker import Worker
from api.edge.routes.admin import require_server_key


def register(app: Application, worker: Worker) -> None:
    @app.router.get("/metrics")
    async def metrics(request: Request) -> Response:
        require_server_key(request)
        body, content_type = worker.metrics.exposition()
        return Response(200, None, Content(content_type.encode(), body))
