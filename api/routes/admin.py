"""`/admin/*`: the server's own state, for operators and the TUI. Server key only."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone

from blacksheep import Application, Request, Response

from api import __version__
from api.errors import ApiError, json_response
from api.gateway import Gateway
from api.middleware import IDENTITY, STATE


def _iso(moment: float | None) -> str | None:
    return datetime.fromtimestamp(moment, timezone.utc).isoformat() if moment else None


def require_server_key(request: Request) -> None:
    if not request.scope[IDENTITY].server_key:
        raise ApiError(403, "The admin API needs the server key ([server].api_key); client keys cannot use it.",
                       code="server_key_required")


def register(app: Application, gateway: Gateway) -> None:
    @app.router.get("/admin/status")
    async def status(request: Request) -> Response:
        require_server_key(request)
        state = request.scope[STATE]
        reloads = gateway.reloads
        return json_response(200, {
            "version": __version__,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - gateway.started, 3),
            "workers": state.config.server.workers,
            "config_path": str(gateway.config_path),
            "config_generation": state.generation,
            "last_reload": _iso(reloads.last_reload),
            "last_reload_error": reloads.last_error,
            "last_reload_error_at": _iso(reloads.last_error_at),
            "providers": [{"id": entry.provider.id, "type": entry.provider.type, "reachable": entry.reachable if entry.checked else None,
                           "error": entry.error, "models": len(entry.models or ())}
                          for entry in state.catalog.known()],
        })
