"""A client's settings applied to a request body, only where the request is silent."""

from __future__ import annotations

from api.config.settings import ClientSettings, Config
from api.translate import claude
from api.wire.errors import ApiError

DEFAULT_MODEL_NAMES = (None, "default")
"""A `model` that asks for the client's default; an empty string is refused, not guessed at."""
MAX_TOKENS = ("max_tokens", "max_completion_tokens")
"""Where a chat, messages or completions request sets its token limit."""


def apply_client_settings(body: dict, config: Config, client_name: str, endpoint: str) -> ClientSettings:
    """Fill the model, system prompt and sampling defaults of `client_name` into `body`; the client's settings.

    `endpoint` is "chat", "responses", "messages" (Anthropic), "count_tokens" (Anthropic's), "completions" or
    "embeddings": prompts apply to chat, responses (before its `instructions`), messages and count_tokens,
    sampling defaults to chat, responses (`max_tokens` as `max_output_tokens`), messages and completions
    (Anthropic's count_tokens refuses them), the default model to all.
    """
    client = config.client(client_name)
    if body.get("model") == "":
        raise ApiError(400, "'model' is empty: give a model id, or leave 'model' out (or send \"default\") for "
                            f"client '{client.name}''s default model.", param="model", code="invalid_value")
    if body.get("model") in DEFAULT_MODEL_NAMES:
        if not client.model:
            raise ApiError(400, f"No model given, and client '{client.name}' has no default model: "
                                f"send 'model' or set [clients.{client.name}].model in the config.",
                           param="model", code="missing_required_parameter")
        body["model"] = client.model
    if endpoint == "embeddings":
        return client
    if endpoint != "count_tokens":
        _apply_sampling(body, client, ("max_output_tokens",) if endpoint == "responses" else MAX_TOKENS)
    if not client.prompt:
        return client
    prompt = config.prompts[client.prompt].text
    if endpoint == "chat":
        body["messages"] = [{"role": "system", "content": prompt}, *body["messages"]]
    elif endpoint == "responses":
        instructions = body.get("instructions")
        body["instructions"] = f"{prompt}\n\n{instructions}" if instructions else prompt
    elif endpoint in ("messages", "count_tokens"):
        system = body.get("system")
        if isinstance(system, list):
            body["system"] = [{"type": "text", "text": prompt}, *system]
        else:
            body["system"] = f"{prompt}\n\n{system}" if system else prompt
    return client


def refused_sampling(client: ClientSettings, model: str) -> bool:
    """Whether `model` refuses sampling defaults the client has (Claude Opus 4.7 and later): a route's target, for
    which the defaults were filled in by the route's name."""
    return _samples(client) and claude.is_latest(model)


def _samples(client: ClientSettings) -> bool:
    """Whether the client has sampling defaults (`temperature`, `top_p`)."""
    return client.temperature is not None or client.top_p is not None


def _apply_sampling(body: dict, client: ClientSettings, limits: tuple[str, ...]) -> None:
    """The client's sampling defaults; `temperature` and `top_p` not for a model that refuses them (Claude Opus
    4.7 and later); `max_tokens` in the first of the endpoint's `limits`, when the request sets none of them."""
    if _samples(client) and not claude.is_latest(body["model"]):
        if client.temperature is not None and body.get("temperature") is None:
            body["temperature"] = client.temperature
        if client.top_p is not None and body.get("top_p") is None:
            body["top_p"] = client.top_p
    if client.max_tokens is not None and all(body.get(name) is None for name in limits):
        body[limits[0]] = client.max_tokens
