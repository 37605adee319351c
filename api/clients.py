"""A client's settings applied to a request body, only where the request is silent."""

from __future__ import annotations

from api import claude
from api.config import ClientSettings, Config
from api.errors import ApiError

DEFAULT_MODEL_NAMES = (None, "", "default")


def apply_client_settings(body: dict, config: Config, client_name: str, endpoint: str) -> None:
    """Fill the model, system prompt and sampling defaults of `client_name` into `body`.

    `endpoint` is "chat", "messages" (Anthropic), "count_tokens" (Anthropic's), "completions" or
    "embeddings": prompts apply to chat, messages and count_tokens, sampling defaults to chat, messages and
    completions (Anthropic's count_tokens refuses them), the default model to all.
    """
    client = config.client(client_name)
    if body.get("model") in DEFAULT_MODEL_NAMES:
        if not client.model:
            raise ApiError(400, f"No model given, and client '{client.name}' has no default model: "
                                f"send 'model' or set [clients.{client.name}].model in the config.",
                           param="model", code="missing_required_parameter")
        body["model"] = client.model
    if endpoint == "embeddings":
        return
    if endpoint != "count_tokens":
        _apply_sampling(body, client)
    if not client.prompt:
        return
    prompt = config.prompts[client.prompt].text
    if endpoint == "chat":
        body["messages"] = [{"role": "system", "content": prompt}, *body["messages"]]
    elif endpoint in ("messages", "count_tokens"):
        system = body.get("system")
        if isinstance(system, list):
            body["system"] = [{"type": "text", "text": prompt}, *system]
        else:
            body["system"] = f"{prompt}\n\n{system}" if system else prompt


def _apply_sampling(body: dict, client: ClientSettings) -> None:
    """The client's sampling defaults; `temperature` and `top_p` not for a model that refuses them (Claude Opus
    4.7 and later)."""
    if not claude.is_latest(body["model"]):
        if client.temperature is not None and body.get("temperature") is None:
            body["temperature"] = client.temperature
        if client.top_p is not None and body.get("top_p") is None:
            body["top_p"] = client.top_p
    if client.max_tokens is not None and body.get("max_tokens") is None and body.get("max_completion_tokens") is None:
        body["max_tokens"] = client.max_tokens
