"""Relaying an upstream's answer to the client, as the exchange planned it.

Same dialect on both sides: bytes untouched, streams chunk by chunk as they arrive. Different dialects:
the exchange's `Translation` converts the JSON body, or the stream incrementally. Either way, a client that
asked for a stream gets one even from a provider that answered whole. Errors always reach the client in
its own dialect.

The relay only moves bytes. What it sees on the way (the first byte, the usage, a failure, the end) it
tells a `RelayObserver`: the activity record (api/core/recording.py), or `NOT_OBSERVED` when activity
recording is off. It returns a framework-free `Answer`, which the HTTP edge turns into a response.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import orjson

from api.core import stopping
from api.core.exchange import Exchange
from api.translate import UntranslatableAnswer
from api.translate.answers import read_answer, upstream_error
from api.translate.responses_api_stream import passthrough_failed
from api.translate.streams import as_stream, as_upstream_stream
from api.translate.translation import StreamTranslator, Translation
from api.upstream.providers import Provider
from api.upstream.providers.base import UpstreamResponse
from api.wire.errors import JSON, ApiError, Dialect
from api.wire.sse import SSE, SSE_HEADERS
from api.wire.usage import StreamUsage, asks_for_usage, body_usage, usage_counts

PASSED_ERROR_HEADERS = ("retry-after", "retry-after-ms", "x-should-retry")
PASSED_ERROR_HEADER_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
"""An upstream error's headers that reach the client: whether and when to retry (both SDKs honour them,
`x-should-retry` over their own rules) and the provider's rate limits, in either dialect's names."""

CREDENTIAL_STATUSES = (401, 403)
"""Upstream statuses whose messages may quote the provider's key (OpenAI's "Incorrect API key provided: sk-ab***yz"):
only a caller with the server key reads them; the activity record keeps them."""

Receive = Callable[[], Awaitable[dict[str, Any]]]
"""A request's ASGI receive channel."""
ReadAhead = Callable[[UpstreamResponse], Awaitable[UpstreamResponse]]
"""Reads an upstream stream's first chunk before it is relayed (api/core/model_routes.py `Target.ahead`)."""


@dataclass(slots=True)
class Answer:
    """What the client gets: a whole body, or a stream (`stream` called once, by the server, to iterate)."""

    status: int
    content_type: bytes
    body: bytes = b""
    stream: Callable[[], AsyncIterator[bytes]] | None = None
    headers: list[tuple[bytes, bytes]] | None = None


class RelayObserver(Protocol):
    """Told what the relay sees; the activity record is one (api/core/recording.py)."""

    wants_usage: bool
    """Whether the relay should read the usage of what it relays for it (a passed-through answer's, a stream's)."""

    def streaming(self) -> None:
        """The answer is a stream: it ends after the response has been handed over (`stream_ended`)."""

    def first_byte(self) -> None:
        """The first bytes of a stream are on their way to the client."""

    def tokens(self, input_tokens: int | None, output_tokens: int | None, estimated: bool = False) -> None:
        """The answer's token counts."""

    def reported(self, usage: object) -> None:
        """The usage object of a whole answer as the provider reported it (a stream's is in what followed it)."""

    def failed(self, message: str | None) -> None:
        """What went wrong (the first message given is kept; None is nothing)."""

    def stream_usage(self, usage: StreamUsage | None, translator: StreamTranslator | None) -> None:
        """The tokens of a stream: what followed it (a passed-through stream's usage, else the translator's)."""

    def stream_ended(self, sent: int, usage: StreamUsage | None, translator: StreamTranslator | None) -> None:
        """A stream ended after `sent` bytes; its usage and any error event it ended with are in what followed it."""


class NotObserved:
    """The observer when activity recording is off: it wants nothing and keeps nothing."""

    wants_usage = False

    def streaming(self) -> None:
        pass

    def first_byte(self) -> None:
        pass

    def tokens(self, input_tokens: int | None, output_tokens: int | None, estimated: bool = False) -> None:
        pass

    def reported(self, usage: object) -> None:
        pass

    def failed(self, message: str | None) -> None:
        pass

    def stream_usage(self, usage: StreamUsage | None, translator: StreamTranslator | None) -> None:
        pass

    def stream_ended(self, sent: int, usage: StreamUsage | None, translator: StreamTranslator | None) -> None:
        pass


NOT_OBSERVED = NotObserved()


@runtime_checkable
class EvaluatesPrompt(Protocol):
    """An in-process answer that knows how far the evaluation of its prompt got (a local model's,
    `api.upstream.providers.llamacpp.LocalAnswer`)."""

    @property
    def prompt_progress(self) -> tuple[int, int] | None:
        """(processed, total) prompt tokens; None when it has not said."""


def _client_left(upstream: UpstreamResponse, observer: RelayObserver) -> bool:
    """Tell the observer that the client left; True when it left while the prompt was being evaluated (then the
    observer has the prompt's tokens as the input, and nothing more is to be counted)."""
    progress = upstream.prompt_progress if isinstance(upstream, EvaluatesPrompt) else None
    if progress is None or progress[0] >= progress[1]:
        observer.failed("client disconnected")
        return False
    processed, total = progress
    observer.failed(f"the client left after {processed:,} of {total:,} prompt tokens were processed")
    observer.tokens(total, 0)
    return True


async def relay(upstream: UpstreamResponse, exchange: Exchange, receive: Receive, observer: RelayObserver,
                ahead: ReadAhead | None = None) -> Answer:
    """The client's answer for an upstream response (which this takes ownership of).

    `receive` is the request's ASGI receive channel, watched for the client leaving during streams (and during
    an in-process provider's whole answer, which is a generation, not a network read). `ahead` reads a stream's
    first chunk before it is the client's (a route's try: it may fail over to the next target until then).
    """
    provider = exchange.provider
    if upstream.status >= 400:
        return await _error(upstream, exchange, observer)
    translation = exchange.translation
    content_type = upstream.headers.get("content-type", "application/json").encode()
    if content_type.startswith(b"text/event-stream"):
        if ahead is not None:
            upstream = await ahead(upstream)
        translator = translation.stream(provider.id) if translation else None
        observer.streaming()
        chunks = _chunks(upstream, exchange, receive, translator, observer)
        return Answer(upstream.status, SSE if translator else content_type, stream=chunks, headers=[*SSE_HEADERS])
    body = await (_read_until_disconnect(upstream, provider, receive, observer) if provider.in_process
                  else _read(upstream, provider))
    streaming = exchange.body.get("stream") is True  # and yet the provider answered whole
    if translation is None:
        if streaming and (answer := _readable(body, exchange.upstream_dialect)) is not None:
            return _streamed_whole(answer, exchange, None, observer, upstream.status, asks_for_usage(exchange.body))
        if observer.wants_usage:
            reported = body_usage(body)
            observer.tokens(*usage_counts(exchange.upstream_dialect, reported))
            observer.reported(reported)
        return Answer(upstream.status, content_type, body)
    try:
        document = read_answer(body, exchange.upstream_dialect)
    except UntranslatableAnswer as exc:
        raise ApiError(502, f"provider '{provider.id}' sent an answer that cannot be translated: {exc}.",
                       code="upstream_error") from None
    if streaming:
        return _streamed_whole(document, exchange, translation, observer, upstream.status)
    answer = translation.response(document)  # without the provider's usage, the translation's estimate
    observer.tokens(*usage_counts(exchange.client_dialect, answer.get("usage")), estimated=not document.get("usage"))
    observer.reported(document.get("usage"))
    return Answer(upstream.status, JSON, orjson.dumps(answer))


def _streamed_whole(answer: dict, exchange: Exchange, translation: Translation | None, observer: RelayObserver,
                    status: int, include_usage: bool = True) -> Answer:
    """The stream a client asked for, from a provider that ignored `stream: true` and answered whole:
    the answer as the stream the provider would have sent, through the stream translator if any (else
    with the usage only if an OpenAI client asked for it). The observer gets the answer's usage."""
    observer.first_byte()
    if translation is None:
        events = as_stream(answer, exchange.upstream_dialect, include_usage)
        observer.tokens(*usage_counts(exchange.upstream_dialect, answer.get("usage")))
        observer.reported(answer.get("usage"))
    else:
        translator = translation.stream(exchange.provider.id)
        events = translator.feed(as_upstream_stream(answer, exchange.upstream_dialect)) + translator.close()
        observer.stream_usage(None, translator)
    return Answer(status, SSE, events, headers=[*SSE_HEADERS])


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


async def _read_until_disconnect(upstream: UpstreamResponse, provider: Provider, receive: Receive,
                                 observer: RelayObserver) -> bytes:
    """`_read` for an in-process provider: a client that leaves closes the answer, which stops the generation."""
    watcher = _closed_when_client_leaves(upstream, receive)
    try:
        return await _read(upstream, provider)
    except ApiError:
        if watcher.done() and not watcher.cancelled():  # the answer failed because the client left
            _client_left(upstream, observer)
        raise
    finally:
        watcher.cancel()


async def until_disconnect(receive: Receive) -> None:
    """Returns when the client of the request with this ASGI `receive` channel has gone."""
    while (await receive())["type"] != "http.disconnect":
        pass


def _closed_when_client_leaves(upstream: UpstreamResponse, receive: Receive) -> asyncio.Future[None]:
    """A watcher that closes the upstream answer (its connection, or a generation) once the client has gone;
    it is done then, and is to be cancelled when the answer ends first."""
    def leave(watcher: asyncio.Future[None]) -> None:
        if not watcher.cancelled():
            upstream.close()
    watcher = asyncio.ensure_future(until_disconnect(receive))
    watcher.add_done_callback(leave)
    return watcher


def _chunks(upstream: UpstreamResponse, exchange: Exchange, receive: Receive, translator: StreamTranslator | None,
            observer: RelayObserver) -> Callable[[], AsyncIterator[bytes]]:
    """An async generator function relaying the upstream stream as it arrives.

    The server swallows writes to a client that has gone, so a watcher waits
    for the client's disconnect and then closes the upstream connection,
    which cancels the upstream request and ends the relay. The observer gets
    the first byte, the usage the stream reported, and how the stream ended.
    A passed-through Responses stream is followed even unobserved, for the
    Responses events that end it if the provider fails, or ends it without
    closing the response.
    """
    provider, responses = exchange.provider, exchange.native_responses
    usage = StreamUsage(exchange.upstream_dialect) \
        if (observer.wants_usage or responses) and translator is None else None

    async def chunks() -> AsyncIterator[bytes]:
        watcher = _closed_when_client_leaves(upstream, receive)
        finished, sent, cut = False, 0, False

        def cut_now() -> None:  # the server is stopping and its grace period nearly over
            nonlocal cut
            cut = True
            upstream.close()

        stopping.cut_at_stop(cut_now)
        try:
            async for chunk in upstream.content.iter_any():
                if usage is not None:
                    usage.feed(chunk)
                if translator is not None:
                    chunk = translator.feed(chunk)
                if chunk:
                    if not sent:
                        observer.first_byte()
                    sent += len(chunk)
                    yield chunk
            if cut:
                raise _shutting_down()
            finished = True
            tail = b""
            if translator is not None:
                tail = translator.close()
            elif responses and usage is not None and not watcher.done():  # a response left open is failed here
                ended = _ended_early(provider)
                if tail := passthrough_failed(ended, usage):
                    observer.failed(ended.message)
            if tail:
                sent += len(tail)
                yield tail
        except Exception as exc:
            failure = _shutting_down() if cut else provider.failure(exc)
            if not isinstance(failure, ApiError):
                raise
            if not watcher.done():  # a client that left needs no error event: its leaving ended the stream
                observer.failed(f"cut: {failure.message}" if cut else failure.message)
                if translator is not None:
                    yield translator.failed(failure)
                else:
                    yield passthrough_failed(failure, usage) if responses and usage is not None else \
                        failure.stream_event(exchange.client_dialect)
        finally:
            in_prompt = watcher.done() and not watcher.cancelled() and _client_left(upstream, observer)
            watcher.cancel()
            stopping.forget(cut_now)
            if finished:
                upstream.release()
            else:
                upstream.close()
            if in_prompt:  # nothing was generated: the prompt's tokens are the usage
                observer.stream_ended(sent, None, None)
            else:
                observer.stream_ended(sent, usage, translator)

    return chunks


def _shutting_down() -> ApiError:
    """What ends a stream the server cut because it is stopping: a fresh error each time (a shared instance,
    raised again and again, would keep every cut stream's traceback and frames alive)."""
    return ApiError(503, "server shutting down", code="server_shutting_down")


def _ended_early(provider: Provider) -> ApiError:
    """A Responses stream the provider ended without the event that closes the response."""
    return ApiError(502, f"provider '{provider.id}' ended the stream before the response was complete",
                    code="upstream_error")


async def _error(upstream: UpstreamResponse, exchange: Exchange, observer: RelayObserver) -> Answer:
    """The upstream's error with its status, its message naming the provider, in the client's dialect."""
    provider, dialect = exchange.provider, exchange.client_dialect
    raw = await _read(upstream, provider)
    note = f" (provider '{provider.id}', upstream status {upstream.status})"
    try:
        document = orjson.loads(raw)
        error = document.get("error") if isinstance(document, dict) else None
    except orjson.JSONDecodeError:
        document = error = None
    if exchange.upstream_dialect == dialect and isinstance(error, dict) and isinstance(error.get("message"), str):
        defaults = {"type": None, "param": None, "code": None} if dialect == "openai" else {}
        payload = {**document, "error": {**defaults, **error, "message": error["message"] + note}}  # every field kept
    else:
        payload = upstream_error(dialect, upstream.status, raw, note)
    observer.failed(payload["error"]["message"])
    if upstream.status in CREDENTIAL_STATUSES and not exchange.operator:
        payload["error"]["message"] = (f"Provider '{provider.id}' refused Gatehouse's credentials for it (upstream "
                                       f"status {upstream.status}); the server's operator can read its message in "
                                       "the activity.")
    headers = [(name.encode(), value.encode("latin-1")) for name, value in upstream.headers.items()
               if name in PASSED_ERROR_HEADERS or name.startswith(PASSED_ERROR_HEADER_PREFIXES)]
    return Answer(upstream.status, JSON, orjson.dumps(payload), headers=headers or None)
