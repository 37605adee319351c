"""What every upstream provider does: build its URLs and headers, send requests, discover models; and what
some providers can do beyond that, as protocols (`CountsTokens`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol, runtime_checkable

import orjson

from api.config.settings import ProviderSettings, ServerSettings
from api.upstream import instance
from api.upstream.http_client import ConnectError, HttpClient, HttpError, ReadTimeout, header_lines
from api.wire.errors import ApiError, Dialect

USER_AGENT = "gatehouse/0.1"
DISCOVERY_READ_TIMEOUT_S = 10.0
"""Model discovery waits this long for a model list at most (less when request_timeout_s is shorter)."""


class UpstreamBody(Protocol):
    def iter_any(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive."""
        ...


class UpstreamResponse(Protocol):
    """What the relay uses of a provider's answer: an HTTP response (`api.upstream.http_client.Response`), or
    an in-process model's answer made to look like one (`api.upstream.providers.llamacpp.LocalAnswer`)."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]:
        """Names in lower case."""
        ...

    @property
    def content(self) -> UpstreamBody: ...

    async def read(self) -> bytes:
        """The whole body."""
        ...

    def release(self) -> None:
        """Give the connection back once the body has been read to its end."""

    def close(self) -> None:
        """Drop the connection (or stop the generation): the answer will not be read to its end."""


@runtime_checkable
class CountsTokens(Protocol):
    """A provider that counts a chat request's input tokens itself (local models: as their generation would)."""

    async def count_tokens(self, body: dict) -> int: ...


@runtime_checkable
class HoldsModels(Protocol):
    """A provider that keeps models loaded and can say which, and load and unload them on request: local GGUF
    models (api/local/hosts.py) and Ollama (its /api/ps). An entry of `loaded_models` is what
    GET /admin/models/loaded shows: `model` ("provider:model"), `provider`, `pid` (the process holding it; None
    when it is not ours), `memory_mb`, `loaded_at` (ISO 8601), `requests`, `tokens_per_s` (of its last answers;
    None before any), `pinned`, `expires_at` (ISO 8601 or None)."""

    id: str

    async def loaded_models(self) -> list[dict]: ...

    async def load_model(self, model: str, keep_alive: float | None) -> dict:
        """Load `model` (a name of this provider) and keep it `keep_alive` seconds after its last request
        (negative: until unloaded; None: as configured); its entry."""
        ...

    async def unload_model(self, model: str) -> bool:
        """Unload `model` once its requests in flight are done; False when it was not loaded."""
        ...


@runtime_checkable
class Preloads(Protocol):
    """A provider with models to load when the server starts (local models marked `preload`)."""

    async def preload(self) -> None: ...


class Provider:
    """One configured upstream, reached through the gateway's shared connection pool."""

    dialect: Dialect = "openai"
    """The API the provider speaks (asked only by the exchange, api/core/exchange.py)."""
    api_prefix = ""
    """Path between base_url and the endpoint paths (e.g. /v1 for Ollama)."""
    in_process = False
    """True when the model runs in this process (its answer is not an HTTP response)."""
    openai_itself = False
    """Whether this is OpenAI's own API (or Azure's), which takes `max_completion_tokens` rather than
    `max_tokens` and refuses fields it does not know, as other OpenAI-compatible servers do not."""
    def __init__(self, settings: ProviderSettings, server: ServerSettings, http: HttpClient) -> None:
        self.settings = settings
        self.id = settings.id
        self.type = settings.type
        self.http = http
        self.headers = {"content-type": "application/json", "user-agent": USER_AGENT, **self.auth_headers(),
                        **{name.lower(): value for name, value in settings.headers.items()},
                        instance.HEADER: instance.INSTANCE_ID}
        """The headers sent with every request (names in lower case); `gatehouse-instance` names this
        Gatehouse, which refuses a request carrying it (a provider pointing back at it: api/upstream/instance.py)."""
        self.header_lines = header_lines(self.headers)
        """The same, as the lines of a request head."""
        self.connect_timeout_s = server.connect_timeout_s
        self.discovery_connect_timeout_s = min(5.0, server.connect_timeout_s)
        self.discovery_read_timeout_s = min(DISCOVERY_READ_TIMEOUT_S, server.request_timeout_s)
        self.request_timeout_s = server.request_timeout_s
        self.unreachable: str | None = None
        """Why the last request could not connect to the provider, until one does (what this worker saw)."""
        self.points_here = instance.addresses_server(settings.base_url, server.host, server.port)
        """Whether base_url is this server's own address (a loop, refused without a request)."""
        self.responses_native = settings.responses == "native"
        """Whether a /v1/responses request is passed through to the provider's own /responses (else translated)."""

    def auth_headers(self) -> dict[str, str]:
        key = self.settings.api_key
        return {"authorization": f"Bearer {key}"} if key else {}

    @property
    def lists_all_models(self) -> bool:
        """Whether its model list holds every model it serves: configured in `models`, or its own files.
        A list it gives when asked may leave out names it takes (Anthropic's aliases)."""
        return self.in_process or self.settings.models is not None

    def with_headers(self, extra: dict[str, str]) -> dict[str, str]:
        """The provider's headers with a client's `extra` ones in place of theirs."""
        return {**self.headers, **extra}

    def url(self, path: str) -> str:
        return f"{self.settings.base_url}{self.api_prefix}{path}"

    async def post(self, path: str, body: bytes, request_id: str,
                   extra_headers: dict[str, str] | None = None) -> UpstreamResponse:
        """Send a request upstream, with `extra_headers` (a client's, in lower case) in place of the
        provider's own of those names; connection failures and timeouts become 502/504, and this
        Gatehouse's refusal of its own request (the provider is this Gatehouse) 508."""
        if self.points_here:
            raise self.loops()
        try:
            head = header_lines(self.with_headers(extra_headers)) if extra_headers else self.header_lines
            headers = f"{head}x-request-id: {request_id}\r\n"
            response = await self.http.request("POST", self.url(path), body, headers,
                                               connect_timeout=self.connect_timeout_s,
                                               read_timeout=self.request_timeout_s)
        except BaseException as exc:
            failure = self.failure(exc)
            if isinstance(exc, ConnectError) and isinstance(failure, ApiError):
                self.unreachable = failure.message
            raise failure from exc
        self.unreachable = None
        if response.status == instance.LOOP_STATUS and self._came_back(response):
            response.close()
            raise self.loops()
        return response

    def _came_back(self, response: UpstreamResponse) -> bool:
        """Whether an answer is this Gatehouse refusing a request it sent itself."""
        return response.headers.get(instance.HEADER) == instance.INSTANCE_ID

    def loops(self) -> ApiError:
        """The error for a provider that is this Gatehouse itself (also what /admin/status shows of it)."""
        error = instance.loops(self.id, self.settings.base_url)
        self.unreachable = error.message
        return error

    async def get_json(self, url: str) -> object:
        """GET a JSON document from the provider (model discovery)."""
        if self.points_here:
            raise self.loops()
        try:
            response = await self.http.request("GET", url, headers=self.header_lines,
                                               connect_timeout=self.discovery_connect_timeout_s,
                                               read_timeout=self.discovery_read_timeout_s)
            try:
                body = await response.read()
            finally:
                response.release()
            if response.status != 200:
                if response.status == instance.LOOP_STATUS and self._came_back(response):
                    raise self.loops()
                raise ApiError(502, f"provider '{self.id}' answered {response.status} to GET {url}: "
                                    f"{body[:200].decode('utf-8', 'replace')}")
            return orjson.loads(body)
        except ApiError:
            raise
        except orjson.JSONDecodeError:
            raise ApiError(502, f"provider '{self.id}' sent invalid JSON for GET {url}") from None
        except BaseException as exc:
            if isinstance(exc, ReadTimeout):
                raise self._timed_out(self.discovery_read_timeout_s, f"model discovery: at most "
                                      f"{DISCOVERY_READ_TIMEOUT_S:g} s, request_timeout_s if shorter") from exc
            raise self.failure(exc) from exc

    def _timed_out(self, seconds: float, limit: str) -> ApiError:
        return ApiError(504, f"provider '{self.id}' did not answer in time: nothing within {seconds:g} s ({limit}) "
                             f"from {self.settings.base_url}", code="upstream_timeout")

    def failure(self, exc: BaseException) -> BaseException:
        """The client-facing error for a failed upstream exchange (or `exc` itself if not ours); a timeout
        names the limit that fired (model discovery has its own: `get_json`)."""
        if isinstance(exc, ReadTimeout):
            return self._timed_out(self.request_timeout_s, "request_timeout_s")
        if isinstance(exc, ConnectError):
            return ApiError(502, f"provider '{self.id}' is unreachable at {self.settings.base_url}: {exc}",
                            code="upstream_unreachable")
        if isinstance(exc, HttpError):
            return ApiError(502, f"provider '{self.id}' failed: {exc}", code="upstream_error")
        return exc

    def status(self) -> dict:
        """What /admin/status shows of this provider beyond its reachability and model count."""
        return {}

    def listed(self, models: dict[str, dict], model: str) -> str | None:
        """The id under which a model list from `discover` (or the config) holds `model`, if it does."""
        return model if model in models else None

    async def discover(self) -> dict[str, dict]:
        """The provider's models, keyed by model id, from its OpenAI-style /models list."""
        document = await self.get_json(self.url("/models"))
        entries = document.get("data") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise ApiError(502, f"provider '{self.id}' sent a model list without 'data'")
        return {entry["id"]: entry for entry in entries if isinstance(entry, dict) and isinstance(entry.get("id"), str)}
