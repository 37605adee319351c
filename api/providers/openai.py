"""Provider type `openai`: any OpenAI-compatible API; base_url includes its /v1."""

from urllib.parse import urlsplit

from api.providers.base import Provider

OPENAI_HOST = "api.openai.com"
AZURE_HOST_SUFFIX = ".openai.azure.com"


class OpenAIProvider(Provider):
    @property
    def openai_itself(self) -> bool:
        host = urlsplit(self.settings.base_url).hostname or ""
        return host == OPENAI_HOST or host.endswith(AZURE_HOST_SUFFIX)
