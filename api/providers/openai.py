"""Provider type `openai`: any OpenAI-compatible API; base_url includes its /v1."""

from api.providers.base import Provider


class OpenAIProvider(Provider):
    pass
