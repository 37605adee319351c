"""The TUI's only way into the server: its HTTP admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson


class AdminError(Exception):
    """The server could not be reached or refused; the message is meant for a person."""


class AdminClient:
    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"X-API-Key": key, "X-Client-Id": "tui"}
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers,
                                                  timeout=aiohttp.ClientTimeout(total=None, sock_connect=3))
        return self._session

    async def get(self, path: str, **params) -> dict:
        try:
            async with self._http().get(self.base_url + path, params=params,
                                        timeout=aiohttp.ClientTimeout(total=5)) as response:
                body = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise AdminError(f"{self.base_url} is not answering ({exc.__class__.__name__})") from exc
        document = orjson.loads(body) if body else {}
        if response.status != 200:
            message = (document.get("error") or {}).get("message") if isinstance(document, dict) else None
            raise AdminError(message or f"{path} answered {response.status}")
        return document

    async def tail(self) -> AsyncIterator[dict]:
        """Activity records as the server writes them (GET /admin/activity/stream)."""
        try:
            async with self._http().get(self.base_url + "/admin/activity/stream") as response:
                if response.status != 200:
                    raise AdminError(f"the activity stream answered {response.status}")
                async for line in response.content:
                    if line.startswith(b"data: "):
                        yield orjson.loads(line[6:])
        except aiohttp.ClientError as exc:
            raise AdminError(f"the activity stream ended ({exc.__class__.__name__})") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
