"""Provider type `openai`: any OpenAI-compatible API; base_url includes its /v1."""

from __future__ import annotations

from urllib.parse import urlsplit

from api.config.settings import ProviderSettings, ServerSettings
from api.upstream.http_client import HttpClient
from api.upstream.providers.base import Provider

OPENAI_HOST = "api.openai.com"
AZURE_HOST_SUFFIX = ".openai.azure.com"


class OpenAIProvider(Provider):
    def __init__(self, settings: ProviderSettings, server: ServerSettings, http: HttpClient) -> None:
        super().__init__(settings, server, http)
        host = urlsplit(settings.base_url).hostname or ""
        self.openai_itself = host == OPENAI_HOST or host.endswith(AZURE_HOST_SUFFIX)
        self.responses_native = settings.responses == "native" if settings.responses else self.openai_itself
