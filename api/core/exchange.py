"""Crossing dialects: an OpenAI chat request to an Anthropic provider, an Anthropic request to an OpenAI one,
and a Responses API request to either (as a chat request, translated on for an Anthropic provider).

Each function returns the body to send upstream and the `Translation` that brings the answer back.
"""

from __future__ import annotations

import math

import orjson

from api.wire.errors import ApiError
from api.core.relay import Translation
from api.translate import TranslationError
from api.translate.requests import anthropic_to_openai, openai_to_anthropic
from api.translate.responses import (
    anthropic_to_openai_response,
    openai_to_anthropic_response,
)
from api.upstream.providers import Provider
from api.core.relay import StreamTranslator
from api.translate.responses_api import chat_to_response, echoed, responses_to_chat
from api.translate.responses_stream import ChatToResponsesStream
from api.translate.shapes import check
from api.translate.streams import AnthropicToOpenAIStream, OpenAIToAnthropicStream
from api.wire.usage import asks_for_usage


def estimate_input_tokens(body: dict) -> int:
    """A documented estimate for providers that cannot count: one token per 4 bytes of the
    JSON of `system`, `messages` and `tools`, plus 3 per message."""
    parts = {key: body[key] for key in ("system", "messages", "tools") if key in body}
    messages = body.get("messages")
    return math.ceil(len(orjson.dumps(parts)) / 4) + 3 * (len(messages) if isinstance(messages, list) else 0)


def openai_request_to_anthropic(body: dict) -> tuple[dict, Translation]:
    try:
        check(body, "openai")
        upstream = openai_to_anthropic(body)
    except TranslationError as exc:
        raise ApiError(400, str(exc), param=exc.param, code=exc.code) from None
    model, include_usage = body["model"], asks_for_usage(body)
    return upstream, Translation(response=lambda message: anthropic_to_openai_response(message, model),
                                 stream=lambda provider_id: AnthropicToOpenAIStream(provider_id, model, include_usage))


def anthropic_request_to_openai(body: dict, openai_itself: bool = False) -> tuple[dict, Translation]:
    try:
        check(body, "anthropic")
        upstream = anthropic_to_openai(body, openai_itself)
    except TranslationError as exc:
        raise ApiError(400, str(exc), param=exc.param) from None
    model, estimate = body["model"], estimate_input_tokens(body)
    return upstream, Translation(response=lambda completion: openai_to_anthropic_response(completion, model, estimate),
                                 stream=lambda provider_id: OpenAIToAnthropicStream(provider_id, model, estimate))


def responses_request_to_chat(body: dict, provider: Provider) -> tuple[dict, Translation]:
    """A Responses request as a chat request, or for an Anthropic provider as the Messages request that
    chat request translates to; the answer comes back through both translations."""
    try:
        chat = responses_to_chat(body, provider.openai_itself)
    except TranslationError as exc:
        raise ApiError(400, str(exc), param=exc.param, code=exc.code) from None
    model, echo, estimate = body["model"], echoed(body), estimate_input_tokens(chat)
    back = Translation(response=lambda completion: chat_to_response(completion, model, echo, estimate),
                       stream=lambda provider_id: ChatToResponsesStream(provider_id, model, echo, estimate))
    if provider.dialect != "anthropic":
        return chat, back
    upstream, to_chat = openai_request_to_anthropic(chat)
    return upstream, Translation(response=lambda message: back.response(to_chat.response(message)),
                                 stream=lambda provider_id: ChainedStream(to_chat.stream(provider_id),
                                                                          back.stream(provider_id)))


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

    def feed(self, chunk: bytes) -> bytes:
        return self._then.feed(self._first.feed(chunk))

    def close(self) -> bytes:
        return self._then.feed(self._first.close()) + self._then.close()

    def failed(self, error: ApiError) -> bytes:
        return self._then.failed(error)
