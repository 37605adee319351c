"""Crossing dialects: an OpenAI chat request to an Anthropic provider, or an Anthropic request to an OpenAI one.

Each function returns the body to send upstream and the `Translation` that brings the answer back.
"""

from __future__ import annotations

import math

import orjson

from api.errors import ApiError
from api.relay import Translation
from api.translate import TranslationError
from api.translate.requests import anthropic_to_openai, openai_to_anthropic
from api.translate.responses import (
    anthropic_to_openai_response,
    openai_to_anthropic_response,
)
from api.translate.shapes import check
from api.translate.streams import AnthropicToOpenAIStream, OpenAIToAnthropicStream
from api.usage import asks_for_usage


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
