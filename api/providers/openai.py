"""Provider type `openai`: any OpenAI-compatible API; base_url includes its /v1."""

from urllib.parse import urlsplit

from api.providers.base import Provider

OPENAI_HOST = "api.openai.com"
AZURE_HOST_SUFFIX = ".openai.azure.com"
"""OpenAI's own API and Azure's take `max_completion_tokens` for every model."""


class OpenAIProvider(Provider):
    @property
    def max_tokens_field(self) -> str:
        host = urlsplit(self.settings.base_url).hostname or ""
        official = host == OPENAI_HOST or host.endswith(AZURE_HOST_SUFFIX)
        return "max_completion_tokens" if official else "max_tokens"
