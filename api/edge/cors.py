"""CORS for browser clients, from `[server].cors_origins` as the config holds it now (hot reload).

A listed origin (or any, with "*") gets its preflight answered and the headers its page needs to
read the answer; an unlisted one gets the API's answer without them, which the browser keeps from
the page. Clients that are not browsers are never refused for the Origin header they send.
"""

from __future__ import annotations

from blacksheep import Request, Response

ALLOW_METHODS = b"GET, POST, OPTIONS"
MAX_AGE = b"600"
EXPOSE_HEADERS = b"x-request-id, request-id, retry-after, retry-after-ms, x-should-retry, *"
"""What a page may read: the request ids and retry hints by name (the SDKs read them), and the
rest (the providers' rate-limit headers) through the wildcard, which browsers honour for requests
without cookies."""


def allowed_origin(origins: tuple[str, ...], origin: bytes | None) -> bytes | None:
    """The Access-Control-Allow-Origin value for a request from `origin`, or None when it gets none."""
    if not origin or not origins:
        return None
    if "*" in origins:
        return b"*"
    return origin if origin.decode("latin-1").lower() in origins else None


def is_preflight(request: Request) -> bool:
    return request.method == "OPTIONS" and request.get_first_header(b"access-control-request-method") is not None


def preflight(request: Request, origins: tuple[str, ...], allowed: bytes | None) -> Response:
    """The answer to a preflight: 204, with the permissions only when the origin is allowed."""
    response = Response(204)
    if origins:
        add_headers(response, origins, allowed)
    if allowed is not None:
        response.add_header(b"access-control-allow-methods", ALLOW_METHODS)
        requested = request.get_first_header(b"access-control-request-headers")
        if requested:  # the key comes in a header, so any header the page asks for may come
            response.add_header(b"access-control-allow-headers", requested)
        response.add_header(b"access-control-max-age", MAX_AGE)
    return response


def add_headers(response: Response, origins: tuple[str, ...], allowed: bytes | None) -> None:
    """The CORS headers of an answer while CORS is on (`origins`): for an allowed origin, the origin and
    what its page may read; with listed origins, `Vary: Origin` on every answer, so that a cache never
    gives one origin's answer (or a request's without an origin) to another."""
    if "*" not in origins:
        response.add_header(b"vary", b"Origin")
    if allowed is not None:
        response.add_header(b"access-control-allow-origin", allowed)
        response.add_header(b"access-control-expose-headers", EXPOSE_HEADERS)
