"""Relaying an upstream's answer to the client: bytes untouched, streams chunk by chunk."""

from __future__ import annotations

import aiohttp
import orjson
from blacksheep import Content, Response, StreamedContent

from api.errors import JSON, ApiError
from api.providers import Provider

SSE_HEADERS = [(b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no")]
PASSED_ERROR_HEADERS = ("retry-after", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                        "x-ratelimit-reset-requests", "x-ratelimit-limit-tokens",
                        "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")


async def relay(upstream: aiohttp.ClientResponse, provider: Provider) -> Response:
    """The client's response for an upstream response (which this takes ownership of)."""
    if upstream.status >= 400:
        return await _error(upstream, provider)
    content_type = upstream.headers.get("content-type", "application/json").encode()
    if content_type.startswith(b"text/event-stream"):
        return Response(upstream.status, SSE_HEADERS, StreamedContent(content_type, _chunks(upstream, provider)))
    return Response(upstream.status, None, Content(content_type, await _read(upstream, provider)))


async def _read(upstream: aiohttp.ClientResponse, provider: Provider) -> bytes:
    try:
        return await upstream.read()
    except Exception as exc:
        raise provider.failure(exc) from exc
    finally:
        upstream.release()


def _chunks(upstream: aiohttp.ClientResponse, provider: Provider):
    """An async generator function relaying the upstream stream as it arrives.

    When the client goes away the generator is closed: the upstream
    connection is then closed too, which cancels the upstream request.
    """

    async def chunks():
        finished = False
        try:
            async for chunk in upstream.content.iter_any():
                if chunk:
                    yield chunk
            finished = True
        except Exception as exc:
            failure = provider.failure(exc)
            if not isinstance(failure, ApiError):
                raise
            yield b"data: " + orjson.dumps(failure.body()) + b"\n\n"
        finally:
            if finished:
                upstream.release()
            else:
                upstream.close()

    return chunks


async def _error(upstream: aiohttp.ClientResponse, provider: Provider) -> Response:
    """The upstream's error, passed on with its status, its message naming the provider."""
    raw = await _read(upstream, provider)
    note = f" (provider '{provider.id}', upstream status {upstream.status})"
    try:
        document = orjson.loads(raw)
        error = document.get("error") if isinstance(document, dict) else None
    except orjson.JSONDecodeError:
        error = None
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        payload = {"error": {"type": None, "param": None, "code": None, **error,
                             "message": error["message"] + note}}
        response = Response(upstream.status, None, Content(JSON, orjson.dumps(payload)))
    else:
        text = raw[:500].decode("utf-8", "replace").strip() or "(empty body)"
        response = ApiError(upstream.status, f"{text}{note}", code="upstream_error").response()
    for name in PASSED_ERROR_HEADERS:
        if name in upstream.headers:
            response.add_header(name.encode(), upstream.headers[name].encode())
    return response
