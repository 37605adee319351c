"""Reading a request's input: its JSON body (bounded in size, parsed once with orjson) and query parameters."""

from __future__ import annotations

from typing import cast, overload
from urllib.parse import parse_qs, unquote

import orjson
from blacksheep import Request
from blacksheep.contents import ASGIContent

from api.core.relay import Receive
from api.wire.errors import ApiError, invalid_json, missing_parameter


def too_large(limit: int) -> ApiError:
    return ApiError(413, f"Request body is larger than the limit of {limit} bytes (server.max_body_bytes).",
                    code="request_too_large")


def receive_of(request: Request) -> Receive:
    """The request's ASGI receive channel (BlackSheep gives every request one, with or without a body)."""
    return cast(ASGIContent, request.content).receive


async def receive_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    """The body from the ASGI channel `receive`, given its Content-Length header value `declared`, refusing
    with 413 anything over `limit` bytes before buffering it.

    Read only until the declared length has arrived: Granian ends every body with an empty message
    of its own, and waiting for it costs a round trip through its I/O thread on every request
    (BlackSheep's `read()` waits for it).
    """
    expected = None
    if declared is not None:
        if not declared.isdigit():
            raise ApiError(400, "Invalid Content-Length header.")
        expected = int(declared)
        if expected > limit:
            raise too_large(limit)
        if expected == 0:
            return b""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ApiError(400, "The client closed the connection before the whole request body arrived.")
        part = message.get("body", b"")
        parts.append(part)
        size += len(part)
        if size > limit:
            raise too_large(limit)
        if not message.get("more_body") or (expected is not None and size >= expected):
            return parts[0] if len(parts) == 1 else b"".join(parts)


async def read_json_object(receive: Receive, declared: bytes | None, limit: int) -> dict:
    """The body (see `receive_body`) as a JSON object, or a 400/413 ApiError."""
    return json_object(await receive_body(receive, declared, limit))


def json_object(raw: bytes) -> dict:
    """A body as a JSON object, or a 400 ApiError."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise invalid_json() from None
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_json")
    return body


def require(body: dict, name: str, kind: type | tuple[type, ...]) -> None:
    """400 unless `body[name]` is present, of `kind`, and (for lists) not empty."""
    value = body.get(name)
    if value is None:
        raise missing_parameter(name)
    if not isinstance(value, kind) or (isinstance(value, list) and not value):
        expected = "a non-empty array" if kind is list else "a string or a non-empty array"
        raise ApiError(400, f"Invalid value for '{name}': expected {expected}.", param=name, code="invalid_type")


def optional_model(body: dict) -> None:
    """400 unless `model`, if given, is a string."""
    if body.get("model") is not None and not isinstance(body["model"], str):
        raise ApiError(400, "Invalid value for 'model': expected a string.", param="model", code="invalid_type")


def first_path_segment(request: Request) -> str:
    """The first segment of the request's path (`/{provider_id}/...`), percent-decoded once. BlackSheep matches
    routes on the path decoded once and decodes route values again, so `/an%2561/...` would name `ana`."""
    raw: bytes = request.scope["raw_path"]
    return unquote(raw.split(b"/", 2)[1].decode("utf-8", "replace"))


LARGEST_INT = (1 << 63) - 1
"""The largest integer SQLite stores, and so the largest a query parameter may be."""


Query = dict[str, list[str]]


def query_of(request: Request) -> Query:
    """The query parameters, blank values kept: `?limit=` is a value, and a wrong one (BlackSheep's
    `request.query` drops it and parses again at every use)."""
    return parse_qs((request.url.query or b"").decode("utf-8", "replace"), keep_blank_values=True)


def first(query: Query, name: str) -> str | None:
    """The first value of a query parameter, None when absent."""
    values = query.get(name)
    return values[0] if values else None


@overload
def query_int(query: Query, name: str, default: int, maximum: int | None = None) -> int: ...


@overload
def query_int(query: Query, name: str, default: None = None, maximum: int | None = None) -> int | None: ...


def query_int(query: Query, name: str, default: int | None = None, maximum: int | None = None) -> int | None:
    """A non-negative integer query parameter (capped at `maximum`, and at the largest integer SQLite stores),
    `default` when absent, else 400."""
    value = first(query, name)
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):  # not '²', which isdigit() takes and int() refuses
        raise ApiError(400, f"Invalid value for '{name}': expected a non-negative integer.", param=name,
                       code="invalid_type")
    return min(int(value), maximum or LARGEST_INT)
