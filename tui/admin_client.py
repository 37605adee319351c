"""The TUI's only way into the server: its HTTP admin API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson


class Sources(list):
    """The LocalDocs sources of an answer, each {"id", "collection", "path", "title", "page", "text", "score"}."""


class AdminError(Exception):
    """The server could not be reached or refused; the message is meant for a person."""


class AdminClient:
    def __init__(self, base_url: str, key: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=3))
        return self._session

    @property
    def _headers(self) -> dict[str, str]:
        return {"X-API-Key": self.key, "X-Client-Id": "tui"}

    async def get(self, path: str, *, timeout_s: float = 15.0, **params) -> dict:
        try:
            async with self._http().get(self.base_url + path, params=params, headers=self._headers,
                                        timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                body = await response.read()
        except TimeoutError as exc:
            raise AdminError(f"{self.base_url} did not answer within {timeout_s:g} s") from exc
        except aiohttp.ClientError as exc:
            raise AdminError(f"{self.base_url} is not answering ({exc.__class__.__name__})") from exc
        return _document(path, response.status, body)

    async def post(self, path: str, body: dict | None = None, *, timeout_s: float = 15.0) -> dict:
        """POST a JSON body; the JSON answer (any 2xx), or the server's error as an AdminError."""
        try:
            async with self._http().post(self.base_url + path, data=orjson.dumps(body or {}),
                                         headers={**self._headers, "content-type": "application/json"},
                                         timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
                answer = await response.read()
        except TimeoutError as exc:
            raise AdminError(f"{self.base_url} did not answer within {timeout_s:g} s") from exc
        except aiohttp.ClientError as exc:
            raise AdminError(f"{self.base_url} is not answering ({exc.__class__.__name__})") from exc
        return _document(path, 200 if 200 <= response.status < 300 else response.status, answer)

    async def tail(self, since_id: int) -> AsyncIterator[dict]:
        """Activity records after `since_id`, then as the server writes them (GET /admin/activity/stream)."""
        try:
            async with self._http().get(self.base_url + "/admin/activity/stream", params={"since_id": since_id},
                                        headers=self._headers) as response:
                if response.status != 200:
                    raise AdminError(f"the activity stream answered {response.status}")
                async for line in response.content:
                    if line.startswith(b"data: "):
                        yield orjson.loads(line[6:])
        except aiohttp.ClientError as exc:
            raise AdminError(f"the activity stream ended ({exc.__class__.__name__})") from exc

    async def chat(self, body: dict) -> AsyncIterator[str]:
        """The text of a streamed chat completion, piece by piece, as client `tui`."""
        async for piece in self.chat_events(body):
            if isinstance(piece, str):
                yield piece

    async def chat_events(self, body: dict) -> AsyncIterator[str | Sources]:
        """A streamed chat completion as client `tui`: its text piece by piece, and the LocalDocs sources
        the answer used (the stream's `localdocs.sources` event) as one `Sources` when there are any."""
        path = "/v1/chat/completions"
        try:
            async with self._http().post(self.base_url + path, data=orjson.dumps({**body, "stream": True}),
                                         headers={**self._headers, "content-type": "application/json"}) as response:
                if response.status != 200:
                    _document(path, response.status, await response.read())
                async for line in response.content:
                    if line.startswith(b"data: {"):
                        event = orjson.loads(line[6:])
                        if "error" in event:
                            raise AdminError(event["error"].get("message") or "the stream failed")
                        if event.get("object") == "localdocs.sources":
                            found = event.get("sources") or (event.get("localdocs") or {}).get("sources")
                            yield Sources(found or [])
                            continue
                        for choice in event.get("choices") or ():
                            if text := (choice.get("delta") or {}).get("content"):
                                yield text
        except aiohttp.ClientConnectorError as exc:
            raise AdminError(f"{self.base_url} is not answering; is the server running?") from exc
        except aiohttp.ClientError as exc:
            raise AdminError(f"the answer was cut off ({exc.__class__.__name__})") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


def _document(path: str, status: int, body: bytes) -> dict:
    """A JSON answer, or the server's error message as an AdminError."""
    try:
        document = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        document = {}
    if status != 200:
        message = (document.get("error") or {}).get("message") if isinstance(document, dict) else None
        raise AdminError(message or f"{path} answered {status}")
    return document
