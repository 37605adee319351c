"""The edge's one way to turn what the layers below return into BlackSheep responses: JSON documents,
errors in the endpoint's dialect, and the relay's answers (whole or streamed)."""

from __future__ import annotations

import orjson
from blacksheep import Content, Response, StreamedContent

from api.core.relay import Answer
from api.wire.errors import JSON, ApiError, Dialect


def json_response(status: int, payload: object) -> Response:
    return Response(status, None, Content(JSON, orjson.dumps(payload)))


def error_response(error: ApiError, dialect: Dialect) -> Response:
    response = json_response(error.status, error.body(dialect))
    for name, value in error.headers(dialect):
        response.add_header(name, value)
    return response


def answer_response(answer: Answer) -> Response:
    """A relayed answer as the client's response, streamed as it arrives when it is a stream."""
    if answer.stream is not None:
        return Response(answer.status, answer.headers, StreamedContent(answer.content_type, answer.stream))
    return Response(answer.status, answer.headers, Content(answer.content_type, answer.body))
