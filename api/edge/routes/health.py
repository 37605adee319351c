"""`GET /health`: unauthenticated liveness check."""

from __future__ import annotations

import time

from blacksheep import Application, Response

from api import __version__
from api.wire.errors import json_response
from api.core.worker import Gateway


def register(app: Application, gateway: Gateway) -> None:
    @app.router.head("/health")  # uptime monitors that only ask whether it answers
    @app.router.get("/health")
    async def health() -> Response:
        return json_response(200, {"status": "ok", "version": __version__,
                                   "uptime_s": round(time.time() - gateway.started, 3)})
