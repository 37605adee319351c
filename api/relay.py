"""Relaying an upstream's answer to the client: bytes untouched, streams chunk by chunk."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
from blacksheep import Content, Response, StreamedContent

from api.errors import JSON, ApiError
from api.providers import Provider

SSE_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))
PASSED_ERROR_HEADERS = ("retry-after", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                        "x-ratelimit-reset-requests", "x-ratelimit-limit-tokens",
                        "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")


async def relay(upstream: aiohttp.ClientResponse, provider: Provider, receive) -> Response:
    """The client's response for an upstream response (which this takes ownership of).

    `receive` is the request's ASGI receive channel, watched during streams for the client leaving.
    """
    if upstream.status >= 400:
        return await _error(upstream, provider)
    content_type = upstream.headers.get("content-type", "application/json").encode()
    if content_type.startswith(b"text/event-stream"):
        # Response takes ownership of (and extends) the header list it is given: always a fresh one.
        return Response(upstream.status, [*SSE_HEADERS], StreamedContent(content_type, _chunks(upstream, provider, receive)))
    return Response(upstream.status, None, Content(content_type, await _read(upstream, provider)))


async def _read(upstream: aiohttp.ClientResponse, provider: Provider) -> bytes:
    try:
        return await upstream.read()
    except Exception as exc:
        raise provider.failure(exc) from exc
    finally:
        upstream.release()


async def _until_disconnect(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _chunks(upstream: aiohttp.ClientResponse, provider: Provider, receive):
    """An async generator function relaying the upstream stream as it arrives.

    The server swallows writes to a client that has gone, so a watcher waits
    for the client's disconnect and then closes the upstream connection,
    which cancels the upstream request and ends the relay.
    """

    async def chunks():
        watcher = asyncio.ensure_future(_until_disconnect(receive))
        watcher.add_done_callback(lambda task: task.cancelled() or upstream.close())
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
            if not watcher.done():  # a client that left needs no error event
                yield b"data: " + orjson.dumps(failure.body()) + b"\n\n"
        finally:
            watcher.cancel()
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
