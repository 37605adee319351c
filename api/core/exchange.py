"""The exchange: how one request reaches its provider and how the answer comes back.

`plan` maps (endpoint, provider) to the upstream path, the body to send, the translation of the answer
and whether it is passed through; the client's dialect follows from the endpoint. It is the only place that
asks which dialect a provider speaks: the routes carry out the plan, the relay follows it.

Crossing dialects: an OpenAI chat request to an Anthropic provider, an Anthropic request to an OpenAI one,
and a Responses API request to either (as a chat request, translated on for an Anthropic provider).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import orjson

from api.translate import TranslationError
from api.translate.answers import anthropic_to_openai_response, openai_to_anthropic_response
from api.translate.requests import anthropic_to_openai, openai_to_anthropic
from api.translate.responses_api import chat_to_response, echoed, responses_to_chat
from api.translate.responses_api_stream import ChatToResponsesStream
from api.translate.shapes import as_integer, check, check_boolean
from api.translate.streams import AnthropicToOpenAIStream, OpenAIToAnthropicStream
from api.translate.translation import Translation, chained
from api.upstream.providers import Provider
from api.upstream.providers.base import CountsTokens
from api.wire.errors import ApiError, Dialect
from api.wire.usage import asks_for_usage

Endpoint = Literal["chat", "completions", "embeddings", "responses", "messages", "count_tokens"]
"""The model endpoints: OpenAI's chat, legacy completions, embeddings and Responses API; Anthropic's
messages and count_tokens."""

CLIENT_DIALECTS: dict[Endpoint, Dialect] = {
    "chat": "openai", "completions": "openai", "embeddings": "openai", "responses": "openai",
    "messages": "anthropic", "count_tokens": "anthropic",
}
OPENAI_PATHS: dict[Endpoint, str] = {
    "chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings",
}
"""Endpoints an OpenAI-type provider serves as they are (same path as the client's, under its base URL)."""


@dataclass(slots=True)
class Exchange:
    """One request's way to its provider and back (not frozen: a frozen dataclass costs a microsecond more to
    make, on every request)."""

    provider: Provider
    client_dialect: Dialect
    upstream_dialect: Dialect
    path: str | None
    """The provider's endpoint; None when the gateway answers itself (count_tokens of a provider that
    cannot count: see `count_input_tokens`)."""
    body: dict
    """What is sent upstream."""
    translation: Translation | None = None
    """How the answer comes back into the client's dialect; None when it is passed through."""
    native_responses: bool = False
    """The answer is the provider's own Responses API answer, passed through (the relay follows its events)."""
    client_headers: bool = False
    """The client's `anthropic-version` / `anthropic-beta` go upstream (Anthropic to Anthropic)."""
    operator: bool = False
    """The caller holds the server key: it may read what a provider says about Gatehouse's credentials."""


def upstream_dialect(provider: Provider) -> Dialect:
    """The dialect the provider speaks."""
    return provider.dialect


def plan(endpoint: Endpoint, body: dict, provider: Provider) -> Exchange:
    """The exchange for a request to `endpoint` whose `body` names a model of `provider`; a 400 ApiError when
    the provider cannot serve the endpoint or the request cannot be translated for it."""
    client, upstream = CLIENT_DIALECTS[endpoint], provider.dialect
    try:
        check_boolean(body, "stream", client)  # the gateway decides streaming on it: 1 or "yes" is not an answer
    except TranslationError as exc:
        raise ApiError(400, str(exc), param=exc.param, code=exc.code) from None
    if endpoint == "messages":
        _check_max_tokens(body)
    if client == "anthropic":
        if upstream == "anthropic":
            path = "/messages/count_tokens" if endpoint == "count_tokens" else "/messages"
            return Exchange(provider, client, upstream, path, body, client_headers=True)
        if endpoint == "count_tokens":
            _check_messages(body)
            return Exchange(provider, client, upstream, None, body)
        sent, translation = anthropic_request_to_openai(body, provider.openai_itself)
        return Exchange(provider, client, upstream, "/chat/completions", sent, translation)
    if endpoint == "responses":
        if provider.responses_native:  # passed through, like a chat request to an OpenAI-type provider
            return Exchange(provider, client, upstream, "/responses", body, native_responses=True)
        sent, translation = responses_request_to_chat(body, provider.openai_itself, upstream)
        return Exchange(provider, client, upstream, "/messages" if upstream == "anthropic" else "/chat/completions",
                        sent, translation)
    if upstream == "openai":
        return Exchange(provider, client, upstream, OPENAI_PATHS[endpoint], body)
    if endpoint != "chat":
        hint = "choose a model of another provider" if endpoint == "embeddings" else \
            "send the prompt as a message to /v1/chat/completions or /v1/messages"
        raise ApiError(400, f"Provider '{provider.id}' speaks Anthropic's Messages API, which has no "
                            f"{OPENAI_PATHS[endpoint]} endpoint; {hint}.", param="model")
    sent, translation = openai_request_to_anthropic(body)
    return Exchange(provider, client, upstream, "/messages", sent, translation)


def _check_max_tokens(body: dict) -> None:
    """Messages requests need `max_tokens` ≥ 1, whichever provider serves them (Anthropic's own words)."""
    if body.get("max_tokens") is None:
        raise ApiError(400, "max_tokens: Field required", param="max_tokens")
    value = as_integer(body["max_tokens"])
    if value is None:
        raise ApiError(400, "max_tokens: Input should be a valid integer", param="max_tokens")
    body["max_tokens"] = value
    if value < 1:
        raise ApiError(400, "max_tokens: Input should be greater than or equal to 1", param="max_tokens")


MESSAGE_ROLES = ("user", "assistant", "system")
"""Roles of Anthropic messages; `system` mid-conversation too (Claude Code sends it, Claude Opus 4.8 takes it)."""


def _check_messages(body: dict) -> None:
    """The messages of a count_tokens request the gateway counts itself, checked as Anthropic checks them."""
    try:
        check(body, "anthropic")
    except TranslationError as exc:
        raise ApiError(400, str(exc), param=exc.param) from None
    for number, message in enumerate(body["messages"]):
        if message.get("role") not in MESSAGE_ROLES:
            raise ApiError(400, f"messages.{number}.role: Input should be 'user', 'assistant' or 'system'",
                           param=f"messages[{number}].role")


async def count_input_tokens(exchange: Exchange) -> int:
    """count_tokens for a provider that does not speak Anthropic: exact from one that counts (local models
    count the translated body as their generation would), else the estimate."""
    if isinstance(exchange.provider, CountsTokens):
        return await exchange.provider.count_tokens(anthropic_request_to_openai(exchange.body)[0])
    return estimate_input_tokens(exchange.body)


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


def responses_request_to_chat(body: dict, openai_itself: bool, upstream: Dialect) -> tuple[dict, Translation]:
    """A Responses request as a chat request, or for an Anthropic provider as the Messages request that
    chat request translates to; the answer comes back through both translations."""
    try:
        chat = responses_to_chat(body, openai_itself)
    except TranslationError as exc:
        raise ApiError(400, str(exc), param=exc.param, code=exc.code) from None
    model, echo, estimate = body["model"], echoed(body), estimate_input_tokens(chat)
    back = Translation(response=lambda completion: chat_to_response(completion, model, echo, estimate),
                       stream=lambda provider_id: ChatToResponsesStream(provider_id, model, echo, estimate))
    if upstream != "anthropic":
        return chat, back
    sent, to_chat = openai_request_to_anthropic(chat)
    return sent, chained(to_chat, back)
