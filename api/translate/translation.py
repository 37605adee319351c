"""What a crossing of dialects hands the relay: how to turn the provider's answer, whole or streamed,
into the client's dialect."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from api.wire.errors import ApiError


class StreamTranslator(Protocol):
    """Turns a provider's SSE stream, fed in pieces as they arrive, into the client's."""

    @property
    def failure(self) -> str | None:
        """The message of an error event the provider ended the stream with, if it did."""

    def feed(self, chunk: bytes) -> bytes: ...

    def close(self) -> bytes: ...

    def failed(self, error: ApiError) -> bytes: ...

    @property
    def usage(self) -> tuple[int | None, int | None]: ...

    @property
    def estimated_usage(self) -> tuple[int, int] | None: ...

    @property
    def reported(self) -> dict | None:
        """The usage object as the provider reported it, in its dialect (None when it reported none)."""


@dataclass(frozen=True, slots=True)
class Translation:
    """How to turn the upstream's successful answer into the client's dialect."""

    response: Callable[[dict], dict]
    stream: Callable[[str], StreamTranslator]
    """A stream translator, given the provider's id, which its error events name."""


class ChainedStream:
    """A stream translated twice: the provider's stream through `first`, what that gives through `then`,
    which words the client's errors and counts the usage."""

    def __init__(self, first: StreamTranslator, then: StreamTranslator) -> None:
        self._first, self._then = first, then

    @property
    def failure(self) -> str | None:
        return self._then.failure

    @property
    def usage(self) -> tuple[int | None, int | None]:
        return self._then.usage

    @property
    def estimated_usage(self) -> tuple[int, int] | None:
        return self._then.estimated_usage

    @property
    def reported(self) -> dict | None:
        return self._first.reported

    def feed(self, chunk: bytes) -> bytes:
        return self._then.feed(self._first.feed(chunk))

    def close(self) -> bytes:
        return self._then.feed(self._first.close()) + self._then.close()

    def failed(self, error: ApiError) -> bytes:
        return self._then.failed(error)


def chained(first: Translation, then: Translation) -> Translation:
    """The answer back through `first`, then through `then`."""
    return Translation(response=lambda answer: then.response(first.response(answer)),
                       stream=lambda provider_id: ChainedStream(first.stream(provider_id), then.stream(provider_id)))
