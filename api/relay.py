"""Relaying an upstream's answer to the client.

Same dialect on both sides: bytes untouched, streams chunk by chunk as they
arrive. Different dialects: a `Translation` converts the JSON body, or the
stream incrementally. Errors always reach the client in its own dialect.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Callable, Protocol

import aiohttp
import orjson
from blacksheep import Content, Response, StreamedContent

from api.errors import JSON, ApiError, Dialect
from api.providers import Provider
from api.translate.responses import upstream_error

SSE_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))
SSE = b"text/event-stream; charset=utf-8"
PASSED_ERROR_HEADERS = ("retry-after", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                        "x-ratelimit-reset-requests", "x-ratelimit-limit-tokens",
                        "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")


class StreamTranslator(Protocol):
    def feed(self, chunk: bytes) -> bytes: ...
    def close(self) -> bytes: ...


@dataclass(frozen=True, slots=True)
class Translation:
    """How to turn the upstream's successful answer into the client's dialect."""

    response: Callable[[dict], dict]
    stream: Callable[[], StreamTranslator]


async def relay(upstream: aiohttp.ClientResponse, provider: Provider, receive, dialect: Dialect,
                translation: Translation | None = None) -> Response:
    """The client's response for an upstream response (which this takes ownership of).

    `receive` is the request's ASGI receive channel, watched during streams for the client leaving;
    `dialect` is the client's; `translation` is given when the provider speaks the other one.
    """
    if upstream.status >= 400:
        return await _error(upstream, provider, dialect)
    content_type = upstream.headers.get("content-type", "application/json").encode()
    if content_type.startswith(b"text/event-stream"):
        translator = translation.stream() if translation else None
        chunks = _chunks(upstream, provider, receive, dialect, translator)
        # Response takes ownership of (and extends) the header list it is given: always a fresh one.
        return Response(upstream.status, [*SSE_HEADERS], StreamedContent(SSE if translator else content_type, chunks))
    body = await _read(upstream, provider)
    if translation is None:
        return Response(upstream.status, None, Content(content_type, body))
    try:
        answer = translation.response(orjson.loads(body))
    except (orjson.JSONDecodeError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ApiError(502, f"provider '{provider.id}' sent an answer that cannot be translated: "
                            f"{exc.__class__.__name__}: {exc}", code="upstream_error") from exc
    return Response(upstream.status, None, Content(JSON, orjson.dumps(answer)))


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


def _chunks(upstream: aiohttp.ClientResponse, provider: Provider, receive, dialect: Dialect,
            translator: StreamTranslator | None):
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
                if translator is not None:
                    chunk = translator.feed(chunk)
                if chunk:
                    yield chunk
            finished = True
            if translator is not None and (tail := translator.close()):
                yield tail
        except Exception as exc:
            failure = provider.failure(exc)
            if not isinstance(failure, ApiError):
                raise
            if not watcher.done():  # a client that left needs no error event
                yield failure.stream_event(dialect)
        finally:
            watcher.cancel()
            if finished:
                upstream.release()
            else:
                upstream.close()

    return chunks


async def _error(upstream: aiohttp.ClientResponse, provider: Provider, dialect: Dialect) -> Response:
    """The upstream's error with its status, its message naming the provider, in the client's dialect."""
    raw = await _read(upstream, provider)
    note = f" (provider '{provider.id}', upstream status {upstream.status})"
    try:
        document = orjson.loads(raw)
        error = document.get("error") if isinstance(document, dict) else None
    except orjson.JSONDecodeError:
        document = error = None
    if provider.dialect == dialect and isinstance(error, dict) and isinstance(error.get("message"), str):
        defaults = {"type": None, "param": None, "code": None} if dialect == "openai" else {}
        payload = {**document, "error": {**defaults, **error, "message": error["message"] + note}}  # every field kept
    else:
        payload = upstream_error(dialect, upstream.status, raw, note)
    response = Response(upstream.status, None, Content(JSON, orjson.dumps(payload)))
    for name in PASSED_ERROR_HEADERS:
        if name in upstream.headers:
            response.add_header(name.encode(), upstream.headers[name].encode())
    return response
