"""`GET /health`: unauthenticated liveness check."""

from __future__ import annotations

import time

from blacksheep import Application, Response

from api import __version__
from api.core.worker import Worker
from api.edge.responding import json_response


def register(app: Application, worker: Worker) -> None:
    @app.router.head("/health")  # uptime monitors that only ask whether it answers
    @app.router.get("/health")
    async def health() -> Response:
        return json_response(200, {"status": "ok", "version": __version__,
                                   "uptime_s": round(time.time() - worker.started, 3)})
