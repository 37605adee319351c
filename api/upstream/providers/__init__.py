"""Upstream providers, one class per provider type."""

from api.upstream.providers.anthropic import AnthropicProvider
from api.upstream.providers.base import Provider
from api.upstream.providers.llamacpp import LlamaCppProvider
from api.upstream.providers.ollama import OllamaProvider
from api.upstream.providers.openai import OpenAIProvider

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    "openai": OpenAIProvider,
    "ollama": OllamaProvider,
    "anthropic": AnthropicProvider,
    "llamacpp": LlamaCppProvider,
}

__all__ = ["PROVIDER_CLASSES", "Provider"]
