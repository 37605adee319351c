"""The one middleware every request passes: request id, authentication, errors in the endpoint's dialect."""

from __future__ import annotations

import logging
import os

from blacksheep import Request, Response

from api.auth import presented_key
from api.errors import ApiError, Dialect
from api.gateway import Gateway

log = logging.getLogger("gatehouse")

REQUEST_ID = "gatehouse.request_id"
IDENTITY = "gatehouse.identity"
STATE = "gatehouse.state"
"""Scope keys: the request's id, who sent it, and the config state it is served with from start to end."""
PUBLIC_PATHS = ("/health", "/api-docs")
ANTHROPIC_PATHS = ("/v1/messages", "/v1/messages/count_tokens")


def dialect_of(path: str) -> Dialect:
    """Anthropic for the Messages endpoints (also under /{provider-id}/), OpenAI for the rest."""
    return "anthropic" if path.endswith(ANTHROPIC_PATHS) else "openai"


def _request_id(request: Request) -> bytes:
    given = request.get_first_header(b"x-request-id")
    if given and len(given) <= 128 and given.isascii() and given.strip() == given:
        return given
    return b"req-" + os.urandom(12).hex().encode()


class RequestMiddleware:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, request: Request, handler) -> Response:
        request_id = _request_id(request)
        request.scope[REQUEST_ID] = request_id.decode()
        request.scope[STATE] = state = self.gateway.state
        try:
            if not request.path.startswith(PUBLIC_PATHS):
                key = presented_key(request.get_first_header(b"authorization"),
                                    request.get_first_header(b"x-api-key"))
                client = request.get_first_header(b"x-client-id") or request.get_first_header(b"client")
                request.scope[IDENTITY] = state.keys.identify(key, client)
            response = await handler(request)
        except ApiError as error:
            response = error.response(dialect_of(request.path))
        except Exception:
            log.exception("unexpected error on %s %s (request %s)", request.method, request.path, request_id.decode())
            response = ApiError(500, f"Internal error in Gatehouse (request id {request_id.decode()}); "
                                     "see the server log.").response(dialect_of(request.path))
        response.add_header(b"x-request-id", request_id)
        return response
