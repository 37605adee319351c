"""Upstream providers, one class per provider type."""

from api.providers.anthropic import AnthropicProvider
from api.providers.base import Provider
from api.providers.llamacpp import LlamaCppProvider
from api.providers.ollama import OllamaProvider
from api.providers.openai import OpenAIProvider

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    "openai": OpenAIProvider,
    "ollama": OllamaProvider,
    "anthropic": AnthropicProvider,
    "llamacpp": LlamaCppProvider,
}

__all__ = ["PROVIDER_CLASSES", "Provider"]
