"""The app factory: one BlackSheep application wired explicitly from a config."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from blacksheep import Application, Request
from blacksheep.server.routing import Router

from api.config import locations
from api.config.settings import Config, load_config
from api.core import stopping
from api.core.worker import Worker
from api.edge.body_deadlines import BodyDeadlines
from api.edge.middleware import RequestMiddleware, dialect_of
from api.edge.responding import error_response
from api.edge.routes import (
    admin,
    anthropic,
    docs,
    health,
    limits,
    loaded_models,
    localdocs,
    mcp,
    metrics,
    models,
    openai,
)
from api.wire.errors import ApiError

UNSERVED = {
    "/v1/messages/batches": "Anthropic's Message Batches API",
    "/v1/batches": "OpenAI's Batch API",
    "/v1/files": "The Files API",
    "/v1/audio/": "OpenAI's audio API",
    "/v1/images/": "OpenAI's images API",
    "/v1/assistants": "OpenAI's Assistants API",
}
"""Well-known endpoints of the two APIs that clients may try, by path prefix: their 404 says so."""


SERVED_METHODS = (b"GET", b"POST")
"""The methods Gatehouse's routes are registered for."""


def configure_application(config: Config) -> Application:
    # Its own router: BlackSheep's default one is shared by every Application in the process, so a second app
    # (the in-process tests make one per module) would be served by the first one's routes and worker.
    app = Application(show_error_details=False, router=Router())
    worker = Worker(config)
    app.on_start += worker.start
    app.on_stop += worker.stop
    body_deadlines = BodyDeadlines()
    app.on_start += body_deadlines.start
    app.on_stop += body_deadlines.stop
    app.middlewares.append(RequestMiddleware(worker, body_deadlines))
    health.register(app, worker)
    models.register(app)
    openai.register(app)
    anthropic.register(app)
    admin.register(app, worker)
    localdocs.register(app)
    loaded_models.register(app)
    limits.register(app)
    metrics.register(app, worker)
    mcp.register(app)
    docs.register(app)

    async def not_found(request: Request):
        allowed = [method for method in SERVED_METHODS if app.router.get_matching_route(method, request.path.encode())]
        if allowed:  # any other method on a served path, TRACE and PUT included, is a 405 naming them (RFC 9110)
            error = ApiError(405, f"Method not allowed ({request.method} {request.path})", code="method_not_allowed")
            response = error_response(error, dialect_of(request, request.path))
            response.add_header(b"allow", b", ".join(allowed))
            return response
        unserved = next((what for path, what in UNSERVED.items() if request.path.startswith(path)), None)
        if unserved:
            raise ApiError(404, f"{unserved} is not served by Gatehouse ({request.method} {request.path}); "
                                "Chat Completions (/v1/chat/completions), Responses (/v1/responses) and "
                                "Messages (/v1/messages) are, "
                                "for every model.", code="unsupported_endpoint")
        raise ApiError(404, f"Invalid URL ({request.method} {request.path})", code="not_found")

    app.router.fallback = not_found
    return app


def create_app() -> Application:
    """Granian's factory target: the config path comes from $GATEHOUSE_CONFIG (set by `python -m api`)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stopping.end_with_parent()
    return configure_application(load_config(Path(os.environ[locations.CONFIG_ENV])))
