"""Errors in the OpenAI dialect: `{"error": {"message", "type", "param", "code"}}`.

Handlers raise `ApiError`; the request middleware turns it into a response.
"""

from __future__ import annotations

import orjson
from blacksheep import Content, Response

# OpenAI's error `type` for each status it uses.
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    501: "server_error",
    502: "upstream_error",
    503: "server_error",
    504: "upstream_timeout",
}

JSON = b"application/json"


class ApiError(Exception):
    """An error answered to the client with `status` and an OpenAI-shaped body."""

    def __init__(self, status: int, message: str, *, type: str | None = None,
                 param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type or _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        self.param = param
        self.code = code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type,
                          "param": self.param, "code": self.code}}

    def response(self) -> Response:
        return json_response(self.status, self.body())


def json_response(status: int, payload: object) -> Response:
    return Response(status, None, Content(JSON, orjson.dumps(payload)))


def bad_request(message: str, *, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


def missing_parameter(name: str) -> ApiError:
    return ApiError(400, f"Missing required parameter: '{name}'.", param=name,
                    code="missing_required_parameter")


def invalid_json() -> ApiError:
    return ApiError(400, "We could not parse the JSON body of your request. The API expects a JSON object "
                         "(Content-Type: application/json).", code="invalid_json")
