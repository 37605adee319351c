"""Errors in the dialect of the endpoint that answers them.

OpenAI: `{"error": {"message", "type", "param", "code"}}`.
Anthropic: `{"type": "error", "error": {"type", "message"}}`.
Every layer raises `ApiError`; only the HTTP edge turns it into a response (api/edge/responding.py), in the
dialect of the endpoint. Nothing here knows the web framework.
"""

from __future__ import annotations

from typing import Literal

import orjson

Dialect = Literal["openai", "anthropic"]

# OpenAI's error `type` for each status it uses (5xx: server_error; the `code` tells gateway failures apart).
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}

# Anthropic's error `type` for each status (anything else: 4xx invalid_request_error, 5xx api_error).
ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}

JSON = b"application/json"


def openai_type(status: int) -> str:
    return _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


def anthropic_type(status: int) -> str:
    return ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


class ApiError(Exception):
    """An error answered to the client with `status` and a body in the endpoint's dialect."""

    def __init__(self, status: int, message: str, *, type: str | None = None,
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        """The OpenAI error type, when it is not the one its status implies."""
        self.param = param
        self.code = code

    def body(self, dialect: Dialect = "openai") -> dict:
        if dialect == "anthropic":
            return {"type": "error", "error": {"type": anthropic_type(self.status), "message": self.message}}
        return {"error": {"message": self.message, "type": self.type or openai_type(self.status),
                          "param": self.param, "code": self.code}}

    def headers(self, dialect: Dialect) -> list[tuple[bytes, bytes]]:
        """Headers the error's response carries (a rate limit's, api/wire/rate_limits.py); none by default."""
        return []

    def stream_event(self, dialect: Dialect = "openai") -> bytes:
        """The error as the last event of a stream that already started."""
        data = orjson.dumps(self.body(dialect))
        return b"event: error\ndata: " + data + b"\n\n" if dialect == "anthropic" else b"data: " + data + b"\n\n"


def missing_parameter(name: str) -> ApiError:
    return ApiError(400, f"Missing required parameter: '{name}'.", param=name, code="missing_required_parameter")


def invalid_json() -> ApiError:
    return ApiError(400, "We could not parse the JSON body of your request. The API expects a JSON object "
                         "(Content-Type: application/json).", code="invalid_json")
