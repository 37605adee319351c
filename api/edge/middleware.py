"""The one middleware every request passes: request id, CORS, authentication, the activity record,
and errors in the endpoint's dialect."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable

from blacksheep import Request, Response

from api.core.auth import presented_key
from api.core.recording import NOT_RECORDED, Recording
from api.core.worker import Worker
from api.edge.body_deadlines import BodyDeadlines
from api.edge.context import RequestContext, attach
from api.edge.cors import add_headers, allowed_origin, is_preflight, preflight
from api.edge.responding import error_response
from api.edge.routes.mcp import PATH as MCP_PATH
from api.upstream import instance
from api.wire.errors import ApiError, Dialect

log = logging.getLogger("gatehouse")

PUBLIC_PATHS = ("/health", "/api-docs", "/api-docs.json")
"""Paths that need no key, with the docs' assets under /api-docs/."""
ANTHROPIC_PATHS = ("/v1/messages", "/v1/messages/count_tokens")
MODELS_PATH = "/v1/models"
"""Also under /{provider-id}/, with a model id after it."""


def dialect_of(request: Request, path: str) -> Dialect:
    """The dialect the client is answered in: Anthropic's on the Messages endpoints (also under
    /{provider-id}/), and on the models endpoints, which serve both SDKs, for an Anthropic SDK;
    OpenAI's for the rest."""
    if path.endswith(ANTHROPIC_PATHS) or "/v1/messages/" in path:  # also what is not served there
        return "anthropic"
    _, models, rest = path.partition(MODELS_PATH)
    return "anthropic" if models and rest[:1] in ("", "/") and speaks_anthropic(request) else "openai"


def speaks_anthropic(request: Request) -> bool:
    """Whether the client is an Anthropic SDK, which sends `anthropic-version`: the models endpoints,
    which serve both SDKs, answer it in Anthropic's format."""
    return request.get_first_header(b"anthropic-version") is not None



def public(path: str) -> bool:
    """Health and the API docs need no key; any other path does (a provider id may begin like them)."""
    return path in PUBLIC_PATHS or path.startswith("/api-docs/")


def recorded(path: str) -> bool:
    """API requests (MCP's too) are recorded; health, docs and admin requests are not."""
    return path.startswith("/v1/") or path.endswith(ANTHROPIC_PATHS) or path == MCP_PATH


def _request_id(request: Request) -> bytes:
    given = request.get_first_header(b"x-request-id")
    if given and len(given) <= 128 and given.isascii() and given.strip() == given:
        return given
    return b"req-" + os.urandom(12).hex().encode()


class RequestMiddleware:
    def __init__(self, worker: Worker, body_deadlines: BodyDeadlines) -> None:
        self.worker = worker
        self.body_deadlines = body_deadlines
        self.pid = os.getpid()
        self.instance_id = instance.INSTANCE_ID_BYTES
        """This Gatehouse's id, which every request it sends upstream carries (api/upstream/instance.py)."""

    def _recording(self, request: Request, request_id: str, path: str, client: bytes | None) -> Recording:
        length = request.get_first_header(b"content-length")
        return Recording(
            request_id=request_id, ts=time.time(), started=time.perf_counter(),
            client=client.decode("utf-8", "replace")[:64] if client else "server",
            key_id=None, method=request.method, path=path,
            dialect_in=dialect_of(request, path), request_bytes=int(length) if length and length.isdigit() else 0,
            worker=self.pid, sink=self.worker.finished,
        )

    async def __call__(self, request: Request, handler: Callable[[Request], Awaitable[Response]]) -> Response:
        request_id = _request_id(request)
        state = self.worker.state
        origins, origin = state.config.server.cors_origins, request.get_first_header(b"origin")
        cors = allowed_origin(origins, origin)
        if origin and is_preflight(request):
            return preflight(request, origins, cors)
        path = request.path
        key = presented_key(request.get_first_header(b"authorization"), request.get_first_header(b"x-api-key"))
        client = request.get_first_header(b"x-client-id") or request.get_first_header(b"client")
        request_id_text = request_id.decode()
        # recorded even with activity off: limits, costs and metrics are settled from the record (Worker.finished)
        recording = self._recording(request, request_id_text, path, client) if recorded(path) else NOT_RECORDED
        context = RequestContext(request_id_text, state, recording, self.body_deadlines)
        attach(request, context)
        came_back = False
        try:
            if request.get_first_header(instance.HEADER_BYTES) == self.instance_id:  # sent by this Gatehouse
                came_back = True  # refused before anything else: its key may not even be one of ours
                raise instance.came_back()
            if not public(path):
                identity = context.identity = state.keys.identify(key, client)
                recording.identified(identity.client, identity.key_id)
            response = await handler(request)
        except ApiError as error:
            response = error_response(error, dialect_of(request, path))
            recording.failed(error.message)
            if error.code == instance.LOOP_DETECTED:  # answered the same however often it is asked again
                response.add_header(b"x-should-retry", b"false")
                if came_back:  # tells the Gatehouse that sent it (only it knows the id) that it is itself
                    response.add_header(instance.HEADER_BYTES, self.instance_id)
            if key:  # a rejected key is named by its fingerprint too
                recording.refused_key(key)
        except Exception:
            log.exception("unexpected error on %s %s (request %s)", request.method, path, request_id.decode())
            message = f"Internal error in Gatehouse (request id {request_id.decode()}); see the server log."
            response = error_response(ApiError(500, message), dialect_of(request, path))
            recording.failed(message)
        response.add_header(b"x-request-id", request_id)
        if path.endswith(ANTHROPIC_PATHS):  # the header Anthropic's API sends and its SDKs read
            response.add_header(b"request-id", request_id)
        if origins:
            add_headers(response, origins, cors)
        if recording is not NOT_RECORDED:
            recording.answered(response.status, len(response.content.body or b"") if response.content else 0)
        return response
