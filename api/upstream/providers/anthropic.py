"""Provider type `anthropic`: the Anthropic Messages API (base_url without /v1)."""

from __future__ import annotations

from datetime import datetime

from api.upstream.providers.base import Provider
from api.wire.errors import ApiError

ANTHROPIC_VERSION = "2023-06-01"
BETA = "anthropic-beta"


class AnthropicProvider(Provider):
    dialect = "anthropic"
    api_prefix = "/v1"

    def auth_headers(self) -> dict[str, str]:
        key = self.settings.api_key
        return {"anthropic-version": ANTHROPIC_VERSION, **({"x-api-key": key} if key else {})}

    def with_headers(self, extra: dict[str, str]) -> dict[str, str]:
        """A client's `anthropic-version` in place of the provider's; its `anthropic-beta` features
        along with those the config gives the provider."""
        merged = super().with_headers(extra)
        if (configured := self.headers.get(BETA)) and (sent := extra.get(BETA)):
            features = (feature.strip() for feature in f"{sent},{configured}".split(","))
            merged[BETA] = ",".join(dict.fromkeys(feature for feature in features if feature))
        return merged

    async def discover(self) -> dict[str, dict]:
        document = await self.get_json(self.url("/models?limit=1000"))
        entries = document.get("data") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ApiError(502, f"provider '{self.id}' sent a model list without 'data'")
        return {entry["id"]: {"id": entry["id"], "owned_by": "anthropic", "created": _timestamp(entry),
                              "display_name": entry.get("display_name")}
                for entry in entries if isinstance(entry, dict) and isinstance(entry.get("id"), str)}


def _timestamp(entry: dict) -> int:
    try:
        return int(datetime.fromisoformat(entry["created_at"].replace("Z", "+00:00")).timestamp())
    except (KeyError, AttributeError, ValueError):
        return 0
