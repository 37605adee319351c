"""Provider type `ollama`: Ollama's own model list (/api/tags), its OpenAI-compatible endpoints under /v1
(/v1/responses too, in recent versions: `responses = "native"`)."""

from __future__ import annotations

from api.upstream.providers.base import Provider
from api.wire.errors import ApiError


class OllamaProvider(Provider):
    api_prefix = "/v1"

    def listed(self, models: dict[str, dict], model: str) -> str | None:
        """Ollama lists `name:tag` and takes a bare name for `name:latest`."""
        if model in models:
            return model
        latest = f"{model}:latest"
        return latest if ":" not in model and latest in models else None

    async def discover(self) -> dict[str, dict]:
        document = await self.get_json(f"{self.settings.base_url}/api/tags")
        entries = document.get("models") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ApiError(502, f"provider '{self.id}' sent a model list without 'models'")
        return {entry["name"]: {"id": entry["name"], "owned_by": "ollama", "details": entry.get("details")}
                for entry in entries if isinstance(entry, dict) and isinstance(entry.get("name"), str)}
