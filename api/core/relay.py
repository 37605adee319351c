"""Relaying an upstream's answer to the client.

Same dialect on both sides: bytes untouched, streams chunk by chunk as they
arrive. Different dialects: a `Translation` converts the JSON body, or the
stream incrementally. Either way, a client that asked for a stream gets one
even from a provider that answered whole. Errors always reach the client in
its own dialect.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import orjson
from blacksheep import Content, Response, StreamedContent

from api.store.activity import Record
from api.wire.errors import JSON, ApiError, Dialect
from api.upstream.http_client import Response as UpstreamResponse
from api.upstream.providers import Provider
from api.translate import UntranslatableAnswer
from api.translate.responses import read_answer, upstream_error
from api.translate.responses_stream import passthrough_failed
from api.translate.streams import as_stream, as_upstream_stream
from api.wire.usage import StreamUsage, asks_for_usage, body_usage, usage_counts

SSE_HEADERS = ((b"cache-control", b"no-cache"), (b"x-accel-buffering", b"no"))
SSE = b"text/event-stream; charset=utf-8"
PASSED_ERROR_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")
PASSED_ERROR_HEADER_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
"""An upstream error's headers that reach the client: whether and when to retry (both SDKs honour them,
`x-should-retry` over their own rules) and the provider's rate limits, in either dialect's names."""


class StreamTranslator(Protocol):
    failure: str | None
    def feed(self, chunk: bytes) -> bytes: ...
    def close(self) -> bytes: ...
    def failed(self, error: ApiError) -> bytes: ...
    @property
    def usage(self) -> tuple[int | None, int | None]: ...
    @property
    def estimated_usage(self) -> tuple[int, int] | None: ...


@dataclass(frozen=True, slots=True)
class Translation:
    """How to turn the upstream's successful answer into the client's dialect."""

    response: Callable[[dict], dict]
    stream: Callable[[str], StreamTranslator]
    """A stream translator, given the provider's id, which its error events name."""


async def relay(upstream: UpstreamResponse, provider: Provider, receive, dialect: Dialect, record: Record | None,
                sent: dict, translation: Translation | None = None, responses: bool = False) -> Response:
    """The client's response for an upstream response (which this takes ownership of).

    `receive` is the request's ASGI receive channel, watched during streams for the client leaving;
    `dialect` is the client's; `record` gets the usage; `sent` is the body sent upstream (looked at
    only when a whole answer comes back); `translation` is given when the provider speaks the other dialect;
    `responses` says the answer is the provider's own Responses API answer, passed through.
    """
    if upstream.status >= 400:
        return await _error(upstream, provider, dialect, record)
    content_type = upstream.headers.get("content-type", "application/json").encode()
    if content_type.startswith(b"text/event-stream"):
        translator = translation.stream(provider.id) if translation else None
        if record is not None:
            record.stream = record.pending = True
        chunks = _chunks(upstream, provider, receive, dialect, translator, record, responses)
        # Response takes ownership of (and extends) the header list it is given: always a fresh one.
        return Response(upstream.status, [*SSE_HEADERS], StreamedContent(SSE if translator else content_type, chunks))
    body = await (_read_until_disconnect(upstream, provider, receive) if provider.in_process
                  else _read(upstream, provider))
    streaming = sent.get("stream") is True  # and yet the provider answered whole
    if translation is None:
        if streaming and (answer := _readable(body, provider.dialect)) is not None:
            return _streamed_whole(answer, provider, None, record, upstream.status, asks_for_usage(sent))
        if record is not None:
            record.tokens(*body_usage(provider.dialect, body))
        return Response(upstream.status, None, Content(content_type, body))
    try:
        document = read_answer(body, provider.dialect)
    except UntranslatableAnswer as exc:
        raise ApiError(502, f"provider '{provider.id}' sent an answer that cannot be translated: {exc}.",
                       code="upstream_error") from None
    if streaming:
        return _streamed_whole(document, provider, translation, record, upstream.status)
    answer = translation.response(document)
    if record is not None:  # without the provider's usage, the translation's estimate
        record.tokens(*usage_counts(dialect, answer.get("usage")), estimated=not document.get("usage"))
    return Response(upstream.status, None, Content(JSON, orjson.dumps(answer)))


def _streamed_whole(answer: dict, provider: Provider, translation: Translation | None, record: Record | None,
                    status: int, include_usage: bool = True) -> Response:
    """The stream a client asked for, from a provider that ignored `stream: true` and answered whole:
    the answer as the stream the provider would have sent, through the stream translator if any (else
    with the usage only if an OpenAI client asked for it). The record gets the answer's usage."""
    if translation is None:
        events = as_stream(answer, provider.dialect, include_usage)
    else:
        translator = translation.stream(provider.id)
        events = translator.feed(as_upstream_stream(answer, provider.dialect)) + translator.close()
    if record is not None:
        record.ttfb_ms = (time.perf_counter() - record.started) * 1000
        if translation is None:
            record.tokens(*usage_counts(provider.dialect, answer.get("usage")))
        else:
            _stream_tokens(record, None, translator)
    return Response(status, [*SSE_HEADERS], Content(SSE, events))


def _readable(body: bytes, dialect: Dialect) -> dict | None:
    """A whole answer that can be streamed, or None (an answer of another kind, or a broken one, is passed on
    as it came)."""
    try:
        return read_answer(body, dialect)
    except UntranslatableAnswer:
        return None


async def _read(upstream: UpstreamResponse, provider: Provider) -> bytes:
    try:
        return await upstream.read()
    except Exception as exc:
        raise provider.failure(exc) from exc
    finally:
        upstream.release()


async def _read_until_disconnect(upstream, provider: Provider, receive) -> bytes:
    """`_read` for an in-process provider: a client that leaves closes the answer, which stops the generation."""
    watcher = asyncio.ensure_future(until_disconnect(receive))
    watcher.add_done_callback(lambda task: task.cancelled() or upstream.close())
    try:
        return await _read(upstream, provider)
    finally:
        watcher.cancel()


async def until_disconnect(receive) -> None:
    """Returns when the client of the request with this ASGI `receive` channel has gone."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _chunks(upstream: UpstreamResponse, provider: Provider, receive, dialect: Dialect,
            translator: StreamTranslator | None, record: Record | None, responses: bool):
    """An async generator function relaying the upstream stream as it arrives.

    The server swallows writes to a client that has gone, so a watcher waits
    for the client's disconnect and then closes the upstream connection,
    which cancels the upstream request and ends the relay. The record gets the
    time to first byte, the usage the stream reported (else an estimate), and
    how the stream ended. A passed-through Responses stream (`responses`) is
    followed even unrecorded, for the Responses events that end it if the
    provider fails, or ends it without closing the response.
    """
    usage = StreamUsage(provider.dialect) if (record is not None or responses) and translator is None else None

    async def chunks():
        watcher = asyncio.ensure_future(until_disconnect(receive))
        watcher.add_done_callback(lambda task: task.cancelled() or upstream.close())
        finished, sent = False, 0
        try:
            async for chunk in upstream.content.iter_any():
                if usage is not None:
                    usage.feed(chunk)
                if translator is not None:
                    chunk = translator.feed(chunk)
                if chunk:
                    if not sent and record is not None:
                        record.ttfb_ms = (time.perf_counter() - record.started) * 1000
                    sent += len(chunk)
                    yield chunk
            finished = True
            tail = b""
            if translator is not None:
                tail = translator.close()
            elif responses and not watcher.done():  # a response the provider left open is failed here
                ended = _ended_early(provider)
                if (tail := passthrough_failed(ended, usage)) and record is not None:
                    record.error = ended.message
            if tail:
                sent += len(tail)
                yield tail
        except Exception as exc:
            failure = provider.failure(exc)
            if not isinstance(failure, ApiError):
                raise
            if not watcher.done():  # a client that left needs no error event: its leaving ended the stream
                if record is not None:
                    record.error = failure.message
                if translator is not None:
                    yield translator.failed(failure)
                else:
                    yield passthrough_failed(failure, usage) if responses else failure.stream_event(dialect)
        finally:
            if watcher.done() and not watcher.cancelled() and record is not None:
                record.error = record.error or "client disconnected"
            watcher.cancel()
            if finished:
                upstream.release()
            else:
                upstream.close()
            if record is not None:  # an error event that ended the stream makes it a failure too
                record.error = record.error or (translator.failure if translator is not None else usage.error)
                _stream_tokens(record, usage, translator)
                record.finish(sent)

    return chunks


def _ended_early(provider: Provider) -> ApiError:
    """A Responses stream the provider ended without the event that closes the response."""
    return ApiError(502, f"provider '{provider.id}' ended the stream before the response was complete",
                    code="upstream_error")


def _stream_tokens(record: Record, usage: StreamUsage | None, translator: StreamTranslator | None) -> None:
    """The usage the stream reported; else the estimate a translator gave the client; else about 4 bytes
    a token in and one event a token out."""
    if translator is not None:
        (inputs, outputs), estimate = translator.usage, translator.estimated_usage
    else:
        inputs, outputs = usage.input_tokens, usage.output_tokens
        estimate = (-(-record.request_bytes // 4), usage.estimated_output())
    if outputs is not None:
        record.tokens(inputs, outputs)
    elif estimate is not None:
        record.tokens(*estimate, estimated=True)


async def _error(upstream: UpstreamResponse, provider: Provider, dialect: Dialect,
                 record: Record | None) -> Response:
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
    if record is not None:
        record.error = payload["error"]["message"]
    response = Response(upstream.status, None, Content(JSON, orjson.dumps(payload)))
    for name, value in upstream.headers.items():
        if name in PASSED_ERROR_HEADERS or name.startswith(PASSED_ERROR_HEADER_PREFIXES):
            response.add_header(name.encode(), value.encode("latin-1"))
    return response
