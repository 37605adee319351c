"""Typed, validated settings read from the TOML config file.

The config file is the single source of truth. `load_config` turns it into
frozen dataclasses or raises `ConfigError` whose message names every bad key
path and what is wrong with it, one per line (`providers.x.base_url: not a URL`).
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import os
import re
import secrets
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from api.config import locations
from api.config.schema import Setting, declared, default_of, keys, setting

PROVIDER_TYPES = ("openai", "anthropic", "ollama", "llamacpp")
"""Provider types this version can serve; `llamacpp` runs GGUF models in-process."""
RESPONSES_MODES = ("native", "translate")
"""The values of a provider's `responses` key."""
ROUTE_STRATEGIES = ("fallback", "weighted", "least-busy", "lowest-latency")
"""How a route orders its targets for a request (docs/routes.md)."""
ROUTE_PREFIX = "route:"
"""A route's model id is `route:NAME`; no provider may be called `route`."""

DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
    "ollama": "http://127.0.0.1:11434",
}

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ConfigError(Exception):
    """The config file cannot be used; the message is meant for a person.

    `problems` lists each problem as (key path, message); the key path is "" for a problem
    of the whole file (unreadable, not TOML), and by default the message is the only problem.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems if problems is not None else [("", message)]


def _file_error(path: Path, message: str) -> ConfigError:
    return ConfigError(f"{path}: {message}", [("", message)])


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = setting("127.0.0.1", restart=True,
                        help="127.0.0.1 keeps the gateway private; 0.0.0.0 opens it (restarts)")
    port: int = setting(8642, kind="int", minimum=1, maximum=65535, restart=True,
                        help="the HTTP API's port (restarts the server)")
    api_key: str = setting("", kind="secret", required=True,
                           help="the server key: full access, /admin included (ctrl+r shows it)")
    workers: int = setting(1, kind="int", minimum=1, maximum=64, restart=True,
                           help="worker processes (restarts the server)")
    data_dir: Path = setting(default_factory=locations.default_data_dir, restart=True,
                             help="activity and other state; empty: the user data dir (restarts)")
    max_body_bytes: int = setting(10 * 1024 * 1024, kind="int", minimum=1024, maximum=1 << 31,
                                  help="bigger request bodies get 413")
    request_timeout_s: float = setting(600.0, kind="float", minimum=0.1, maximum=86400,
                                       help="wait for an upstream's next bytes before 504")
    """Longest wait for an upstream's next bytes (headers or stream chunk)."""
    connect_timeout_s: float = setting(10.0, kind="float", minimum=0.1, maximum=600,
                                       help="wait for a connection to an upstream before 502")
    cors_origins: tuple[str, ...] = setting((), kind="list",
                                            help="browser origins allowed by CORS (http://host:port, or *), "
                                                 "comma-separated; empty: off")
    body_timeout_s: float = setting(60.0, kind="float", minimum=0.1, maximum=3600,
                                    help="wait for a request's body to arrive before 408")
    """Longest wait for a request body to arrive in full; a slower or stalled one gets 408."""
    metrics_port: int | None = setting(None, kind="int", minimum=1, maximum=65535, restart=True,
                                       help="a port of its own where GET /metrics answers without a key "
                                            "(Prometheus); empty: /metrics on the API port, with the server key")
    metrics_host: str = setting("127.0.0.1", restart=True,
                                help="the address of metrics_port: 127.0.0.1 keeps it on this machine")


@dataclass(frozen=True, slots=True)
class ActivitySettings:
    enabled: bool = setting(True, kind="bool", help="record every API request")
    """The TUI's Activity tab and /admin/activity read the records."""
    retention_days: float = setting(30.0, kind="float", minimum=0.00001, maximum=36500,
                                    help="records older than this are deleted")
    max_rows: int = setting(1_000_000, kind="int", minimum=1, maximum=1 << 40,
                            help="at most this many records are kept")
    """The oldest go first."""


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    id: str
    type: str = setting(kind="choice", choices=PROVIDER_TYPES, required=True, help="the API it speaks")
    base_url: str = setting(help="the API root (openai: with /v1); empty: the type's default")
    api_key_env: str = setting("", help="preferred: the environment variable that holds the provider's key")
    api_key: str = setting("", kind="secret", help="or the key itself, stored in the file (ctrl+r shows it)")
    """The key sent upstream; resolved from `api_key_env` when that is set."""
    models: tuple[str, ...] | None = setting(None, kind="list",
                                             help="models to serve, comma-separated; empty: ask the provider")
    """None means discover them from the provider."""
    headers: dict[str, str] = setting(default_factory=dict, kind="table", secret=True,
                                      help="extra headers sent with every upstream request")
    """Their values often carry credentials."""
    responses: str | None = setting(None, kind="choice", choices=RESPONSES_MODES,
                                    help="openai, ollama: native passes /v1/responses through (Codex models need "
                                         "it), translate goes over chat; empty: native for OpenAI and Azure")
    """How an `openai` or `ollama` provider serves /v1/responses: "native" (passed through to its own
    /responses) or "translate" (over its /chat/completions); None: native for OpenAI's own API and Azure's,
    else translate (older Ollama versions have no /v1/responses)."""
    num_ctx: int | None = setting(None, kind="int", minimum=1, maximum=1 << 24,
                                  help="ollama only: context length its models run with; empty: Ollama's default")
    """Ollama's `num_ctx` for this provider's models (chat requests then go to Ollama's native /api/chat, whose
    `options` carry it: its OpenAI-compatible endpoints cannot set it); None: Ollama's own default."""
    num_ctx_models: dict[str, int] = setting(default_factory=dict, kind="table",
                                             help="ollama only: num_ctx per model, \"name:tag\" = tokens")
    """Per-model `num_ctx`, over the provider's (a bare name means `name:latest`)."""
    prices: dict[str, dict[str, float]] = setting(default_factory=dict, kind="table",
                                                  help="USD per million tokens by model, over the price table")
    """`{model: {input, output[, cache_read, cache_write, cache_write_1h]}}` (PRICE_KEYS; docs/costs.md)."""
    local: LocalSettings | None = field(default=None, metadata={"inline": True})
    """The in-process models of a `llamacpp` provider (None for the HTTP types); its keys sit in
    the provider's own table, beside `type`."""


@dataclass(frozen=True, slots=True)
class LocalModelSettings:
    """One `[providers.ID.models.NAME]` table of a `llamacpp` provider."""

    name: str
    path: Path | None = setting(None, help="the GGUF file (or set package instead)")
    package: str | None = setting(None, help="a PyPI package shipping the GGUF (written once into the data dir)")
    """Its `assemble(output_path)` function writes the GGUF; used when `path` is not set."""
    n_ctx: int | None = setting(None, kind="int", minimum=0, maximum=1 << 24, help="empty: the provider's")
    """Context length in tokens; None: the provider's."""
    n_threads: int | None = setting(None, kind="int", minimum=0, maximum=1024, help="empty: the provider's")
    n_gpu_layers: int | None = setting(None, kind="int", minimum=-1, maximum=100_000,
                                       help="empty: the provider's")
    chat_template: str | None = setting(None, kind="multiline",
                                        help="a Jinja chat template instead of the file's own")
    keep_alive: int | None = setting(None, kind="int", minimum=-1, maximum=1 << 31,
                                     help="seconds idle before it is unloaded, -1 never; empty: the provider's")
    preload: bool = setting(False, kind="bool", help="load it when the server starts, not on first use")


@dataclass(frozen=True, slots=True)
class LocalSettings:
    """Where a `llamacpp` provider finds its GGUF files and how it runs them."""

    models_dir: Path | None = setting(None, help="every *.gguf file in this folder is a model (its name without "
                                                 ".gguf)")
    models: dict[str, LocalModelSettings] = setting(default_factory=dict, kind="table",
                                                    help="one table per model, [providers.ID.models.NAME]")
    n_ctx: int = setting(4096, kind="int", minimum=0, maximum=1 << 24,
                         help="context length in tokens; 0: the model's own")
    """Prompt and answer together; the model's own length is often large."""
    n_threads: int = setting(0, kind="int", minimum=0, maximum=1024,
                             help="CPU threads per generation; 0: llama.cpp's choice")
    n_gpu_layers: int = setting(0, kind="int", minimum=-1, maximum=100_000,
                                help="layers on a GPU (-1 all; needs a GPU build)")
    """Needs a GPU build of llama-cpp-python."""
    parallel: int = setting(1, kind="int", minimum=1, maximum=64,
                            help="generations at once per model (a copy in memory each)")
    max_queue: int = setting(8, kind="int", minimum=0, maximum=100_000,
                             help="requests waiting for a busy model; more get 429")
    max_loaded: int = setting(2, kind="int", minimum=1, maximum=1024,
                              help="models kept in memory (least recently used unloaded)")
    """The least recently used idle one is unloaded first."""
    max_memory_mb: int = setting(0, kind="int", minimum=0, maximum=1 << 30,
                                 help="budget for loaded models' file sizes; 0: none")
    keep_alive: int = setting(300, kind="int", minimum=-1, maximum=1 << 31,
                              help="seconds a model stays loaded after its last request; -1: until unloaded")
    """As Ollama's `keep_alive` (5 minutes by default); a request's own `keep_alive` field overrides it."""


@dataclass(frozen=True, slots=True)
class PromptSettings:
    name: str
    text: str = setting(kind="multiline", required=True, help="the system prompt, sent first")


@dataclass(frozen=True, slots=True)
class ClientSettings:
    name: str
    model: str | None = setting(None, help="used when a request names none or says 'default' (provider:model)")
    prompt: str | None = setting(None, kind="choice", help="a prompt whose text goes first as a system message")
    """The name of a [prompts.X]; the choices are the prompts the file has."""
    temperature: float | None = setting(None, kind="float", minimum=0, maximum=2,
                                        help="0-2, only where a request sets none")
    top_p: float | None = setting(None, kind="float", minimum=0, maximum=1, help="0-1, only where a request sets none")
    max_tokens: int | None = setting(None, kind="int", minimum=1, maximum=10_000_000,
                                     help="only where a request sets none")
    api_key: str = setting("", kind="secret",
                           help="a key of this client's own: it identifies the client (ctrl+r shows it)")
    """Requests made with it are this client's."""
    collections: tuple[str, ...] = setting((), kind="list",
                                           help="LocalDocs collections whose snippets go with this client's requests")
    rpm: int | None = setting(None, kind="int", minimum=1, maximum=100_000_000,
                              help="requests per minute, across all workers; empty: no limit")
    tpm: int | None = setting(None, kind="int", minimum=1, maximum=10**12,
                              help="tokens per minute (input + output), across all workers; empty: no limit")
    max_concurrent: int | None = setting(None, kind="int", minimum=1, maximum=1_000_000,
                                         help="requests in flight at once, across all workers; empty: no limit")
    budget: BudgetSettings | None = setting(None, kind="table",
                                            help='what it may spend: { amount, currency = "usd" | "tokens", '
                                                 'period = "day" | "month" }')

    @property
    def limited(self) -> bool:
        """Whether any limit or budget applies to the client's requests."""
        return bool(self.rpm or self.tpm or self.max_concurrent or self.budget)


MAX_LIMITED_CLIENTS = 4096
"""Clients that may have limits or a budget at once: each takes an entry of the limits ledger, which has this many
(api/govern/ledger.py)."""
SERVER_CLIENT = ClientSettings(name="server")
"""The settings of the server key's client when the config has no `[clients.server]` (made once: a request of
that client asks for them twice)."""


@dataclass(frozen=True, slots=True)
class BudgetSettings:
    """A client's `budget = { amount, currency, period }`: what it may spend per calendar period (UTC)."""

    amount: float = setting(None, kind="float", minimum=0, maximum=1e15, required=True,
                            help="how much per period: US dollars by the price table, or tokens")
    currency: str = setting("usd", kind="choice", choices=("usd", "tokens"),
                            help='"usd" (costs by the price table) or "tokens" (input + output)')
    period: str = setting("month", kind="choice", choices=("day", "month"),
                          help='"day" or "month" (calendar periods in UTC)')


@dataclass(frozen=True, slots=True)
class RouteSettings:
    """One `[routes.NAME]`: a model id (`route:NAME`) whose requests go to the first of its targets that answers."""

    name: str
    targets: tuple[str, ...] = setting((), kind="list", required=True,
                                       help="provider:model ids, comma-separated, tried in the strategy's order")
    strategy: str = setting("fallback", kind="choice", choices=ROUTE_STRATEGIES,
                            help="fallback: in order; weighted: first by weights; least-busy; lowest-latency")
    weights: tuple[float, ...] = setting((), kind="numbers", minimum=0, maximum=1e6,
                                         help="weighted only: one positive number per target, comma-separated")
    retries: int = setting(2, kind="int", minimum=0, maximum=10,
                           help="tries again on the same target after a failure that may pass (429, 5xx, network)")
    deadline_s: float = setting(60.0, kind="float", minimum=1, maximum=3600,
                                help="seconds after which no new try starts and no wait goes on")
    max_wait_s: float = setting(10.0, kind="float", minimum=0, maximum=3600,
                                help="a longer retry-after than this moves on to the next target at once")
    failures: int = setting(3, kind="int", minimum=1, maximum=1000,
                            help="failures in a row after which a target is cooled down (skipped)")
    cooldown_s: float = setting(30.0, kind="float", minimum=1, maximum=86400,
                                help="seconds a failing target is skipped before one request tries it again")

    @property
    def model_id(self) -> str:
        return ROUTE_PREFIX + self.name


@dataclass(frozen=True, slots=True)
class CollectionSettings:
    """One `[collections.NAME]`: local folders and files indexed for LocalDocs."""

    name: str
    paths: tuple[str, ...] = setting((), kind="list", required=True,
                                     help="folders and files to index, comma-separated (~ expanded; relative to "
                                          "the config file's folder)")
    include: tuple[str, ...] = setting((), kind="list",
                                       help="glob patterns of files to index (e.g. *.md); empty: every supported type")
    exclude: tuple[str, ...] = setting((), kind="list", help="glob patterns of files and folders to leave out")
    embedding_model: str | None = setting(None, help="a provider:model serving /v1/embeddings through Gatehouse; "
                                                     "empty: the built-in offline embedder")
    chunk_chars: int = setting(1000, kind="int", minimum=200, maximum=20_000,
                               help="characters per indexed chunk (changing it re-indexes)")
    top_k: int = setting(5, kind="int", minimum=1, maximum=100, help="snippets added to a chat request")

    def folders(self, config_path: Path) -> tuple[Path, ...]:
        """`paths` as absolute paths: `~` expanded, relative ones under the config file's folder."""
        return tuple((config_path.parent / Path(path).expanduser()).absolute() for path in self.paths)


@dataclass(frozen=True, slots=True)
class TuiSettings:
    theme: str = setting("gatehouse-dark", kind="choice", help="the colours of this app (also: ctrl+p, 'theme')")
    """A name from themes/*.toml or one of Textual's built-in themes; the choices are the themes the TUI has."""


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    server: ServerSettings
    providers: dict[str, ProviderSettings]
    prompts: dict[str, PromptSettings]
    clients: dict[str, ClientSettings]
    collections: dict[str, CollectionSettings] = field(default_factory=dict)
    routes: dict[str, RouteSettings] = field(default_factory=dict)
    activity: ActivitySettings = ActivitySettings()
    tui: TuiSettings = TuiSettings()
    stamp: tuple = ()
    """The file's identity and modification time as read (see `file_stamp`)."""

    def client(self, name: str) -> ClientSettings:
        """Settings of a client; unknown names get the `server` client's settings."""
        found = self.clients.get(name) or self.clients.get("server")
        return found or SERVER_CLIENT


SECTIONS = tuple(part.name for part in fields(Config) if part.name not in ("path", "stamp"))
"""The config file's top-level tables."""


# --- reading -------------------------------------------------------------------

_MISSING = object()
_TOML_TYPES = {"text": str, "secret": str, "multiline": str, "choice": str, "bool": bool, "table": dict}
"""The TOML type of each kind of key that is not a number or a list."""


class _Reader:
    """Collects every problem of a config file instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []

    def fail(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def table(self, data: dict, key: str, path: str) -> dict:
        value = data.get(key, {})
        if not isinstance(value, dict):
            self.fail(path, "must be a table")
            return {}
        return value

    def known_keys(self, data: dict, allowed: tuple[str, ...], path: str) -> None:
        for key in data:
            if key not in allowed:
                hint = difflib.get_close_matches(key, allowed, n=1)
                more = f"; did you mean '{hint[0]}'?" if hint else f"; known keys: {', '.join(allowed)}"
                self.fail(f"{path}.{key}" if path else key, f"unknown key{more}")

    def settings(self, data: dict, path: str, settings: type, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
        """The keys `settings` declares (but those in `skip`) as read from its table `data` at `path`."""
        return {field.name: self.setting(data, path, field, described)
                for field, described in declared(settings) if field.name not in skip}

    def key(self, data: dict, path: str, settings: type, name: str) -> Any:
        """One key `settings` declares, as read from its table `data` at `path`."""
        [(field, described)] = [(field, described) for field, described in declared(settings) if field.name == name]
        return self.setting(data, path, field, described)

    def setting(self, data: dict, path: str, field: dataclasses.Field, described: Setting) -> Any:
        """One declared key: its value if of the key's TOML type, in its bounds and among its choices, else
        (the problem noted) its default; None for a required key that is missing or wrong."""
        key, default = field.name, default_of(field)
        if described.kind in ("int", "float"):
            value = self.number(data, key, path, _MISSING if described.required else default,
                                minimum=described.minimum, maximum=described.maximum, integer=described.kind == "int")
            # a number with a float default is a float (600 means 600.0); one that is only passed on, such as a
            # client's temperature, stays as written
            return float(value) if isinstance(default, float) else value
        if described.kind in ("list", "numbers") and described.required and key not in data:
            self.fail(f"{path}.{key}", "missing")
            return default
        if described.kind == "list":
            found = self.string_list(data, key, path)
            return default if found is None else found
        if described.kind == "numbers":
            numbers = self.number_list(data, key, path, described.minimum, described.maximum)
            return default if numbers is None else numbers
        if described.kind == "table":
            default = {}
        value = self.value(data, key, path, _TOML_TYPES[described.kind], _MISSING if described.required else default)
        if described.choices and value is not None and value not in described.choices:
            self.fail(f"{path}.{key}", f"must be {_one_of(described.choices)}, not '{value}'")
            return default
        if value == "" and default is None and described.kind in ("text", "multiline"):
            return None  # an empty text is no text
        return value

    def value(self, data: dict, key: str, path: str, kind: type | tuple, default: Any = _MISSING) -> Any:
        if key not in data:
            if default is _MISSING:
                self.fail(f"{path}.{key}", "missing")
            return None if default is _MISSING else default
        value = data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            value = _MISSING  # TOML booleans are not numbers here
        if value is _MISSING or not isinstance(value, kinds):
            self.fail(f"{path}.{key}", f"must be {_kind_name(kinds)}, not {_toml_type(data[key])}")
            return None if default is _MISSING else default
        return value

    def number(self, data: dict, key: str, path: str, default: Any, *, minimum: Any, maximum: Any,
               integer: bool) -> Any:
        """A number in its bounds; `default` when it is missing or wrong (`_MISSING`: required, then None)."""
        value = self.value(data, key, path, int if integer else (int, float), default)
        if value is not None and not minimum <= value <= maximum:
            self.fail(f"{path}.{key}", f"must be between {minimum} and {maximum}, not {value}")
            return None if default is _MISSING else default
        return value

    def number_list(self, data: dict, key: str, path: str, minimum: Any, maximum: Any) -> tuple[float, ...] | None:
        value = self.value(data, key, path, list, None)
        if value is None:
            return None
        if not all(isinstance(item, (int, float)) and not isinstance(item, bool) for item in value):
            self.fail(f"{path}.{key}", "must be a list of numbers")
            return None
        if not all(minimum <= item <= maximum for item in value):
            self.fail(f"{path}.{key}", f"each must be between {minimum} and {maximum}")
            return None
        return tuple(float(item) for item in value)

    def string_list(self, data: dict, key: str, path: str) -> tuple[str, ...] | None:
        value = self.value(data, key, path, list, None)
        if value is None:
            return None
        if not all(isinstance(item, str) and item for item in value):
            self.fail(f"{path}.{key}", "must be a list of non-empty strings")
            return None
        return tuple(value)


def _kind_name(kinds: tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
             list: "a list", dict: "a table"}
    if set(kinds) == {int, float}:
        return "a number"
    return " or ".join(names[k] for k in kinds)


def _toml_type(value: Any) -> str:
    for kind, name in ((bool, "a boolean"), (int, "an integer"), (float, "a number"),
                       (str, "a string"), (list, "a list"), (dict, "a table")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _one_of(choices: tuple[str, ...]) -> str:
    return " or ".join(choices) if len(choices) <= 2 else f"one of {', '.join(choices)}"


def _path(value: str | None) -> Path | None:
    """A path as written in the file (`~` is the home directory); None when not set."""
    return Path(value).expanduser() if value else None


def _is_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _origin_problem(origin: str) -> str | None:
    """Why `origin` can never match a browser's Origin header (scheme://host[:port], nothing more), if it cannot."""
    if origin == "*":
        return None
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc or "@" in parts.netloc or " " in origin:
        return f"'{origin}' is not an origin: expected scheme://host[:port] (e.g. http://localhost:3000) or '*'"
    if parts.path or parts.query or parts.fragment or origin.endswith(("?", "#")):
        return f"'{origin}' is not an origin: browsers send scheme://host[:port] only, so drop the path"
    return None


EXAMPLE_KEY = "change-me-please"
"""The placeholder server key in config.example.toml, refused so a hand-copied config is not served with it."""


def _server_key_problem(key: str, host: str) -> str | None:
    """Why `key` may not be the server key: the example's placeholder, too short, or short on a non-loopback host."""
    if key == EXAMPLE_KEY:
        return "is the placeholder from config.example.toml"
    if len(key) < 8:
        return "must be at least 8 characters"
    if len(key) < 16 and not _loopback(host):
        return f"must be at least 16 characters when server.host ({host}) is not a loopback address"
    return None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _server(r: _Reader, data: dict) -> ServerSettings:
    path = "server"
    r.known_keys(data, keys(ServerSettings), path)
    values = r.settings(data, path, ServerSettings)
    api_key = values["api_key"]
    if api_key is not None and (problem := _server_key_problem(api_key, values["host"])):
        r.fail(f"{path}.api_key", problem + "; make one with: "
               "python -c \"import secrets; print('gh-' + secrets.token_urlsafe(32))\" "
               "(or delete the config file and let the first run create one)")
    for origin in values["cors_origins"]:
        if problem := _origin_problem(origin):
            r.fail(f"{path}.cors_origins", problem)
    if values["metrics_port"] is not None and values["metrics_port"] == values["port"]:
        r.fail(f"{path}.metrics_port", "must differ from server.port (the API's own port)")
    return ServerSettings(**values | {
        "api_key": api_key or "",
        "data_dir": _path(values["data_dir"]) or locations.default_data_dir(),
        "cors_origins": tuple(origin.lower() for origin in values["cors_origins"]),  # as browsers send them
    })


def _activity(r: _Reader, data: dict) -> ActivitySettings:
    r.known_keys(data, keys(ActivitySettings), "activity")
    return ActivitySettings(**r.settings(data, "activity", ActivitySettings))


def _tui(r: _Reader, data: dict) -> TuiSettings:
    r.known_keys(data, keys(TuiSettings), "tui")
    theme = r.settings(data, "tui", TuiSettings)["theme"]
    if not theme:
        r.fail("tui.theme", "must not be empty")
    return TuiSettings(theme=theme or TuiSettings().theme)


def _named_table(r: _Reader, path: str, name: str, data: Any, names: str, not_a_table: str) -> bool:
    """Whether `data`, the table `[path]`, is a table (else the problem `not_a_table`); a `name` that is not an id
    is a problem too (`names` says of what)."""
    if not isinstance(data, dict):
        r.fail(path, not_a_table)
        return False
    if not _ID_RE.match(name) or ":" in name:
        r.fail(path, f"{names} use letters, digits, '-', '_' and '.' (no ':')")
    return True


def _provider(r: _Reader, pid: str, data: Any, environ: Mapping[str, str]) -> ProviderSettings | None:
    path = f"providers.{pid}"
    if not _named_table(r, path, pid, data, "provider ids", "must be a table"):
        return None
    if pid + ":" == ROUTE_PREFIX:
        r.fail(path, f"'{pid}' is reserved: model ids starting '{ROUTE_PREFIX}' name [routes.NAME]")
    kind = r.key(data, path, ProviderSettings, "type")
    if kind == "llamacpp":
        r.known_keys(data, ("type", *keys(LocalSettings)), path)
        return ProviderSettings(id=pid, type=kind, base_url="", local=_local(r, data, path))
    r.known_keys(data, keys(ProviderSettings), path)
    values = r.settings(data, path, ProviderSettings, skip=("type", "base_url"))
    base_url = _base_url(r, data, path, kind)
    if values["api_key"] and values["api_key_env"]:
        r.fail(path, "set either api_key or api_key_env, not both")
    if values["api_key_env"]:
        values["api_key"] = environ.get(values["api_key_env"], "")
    if values["responses"] is not None and kind not in ("openai", "ollama"):
        r.fail(f"{path}.responses", "only for types openai and ollama (other types always translate /v1/responses)")
    for key in ("num_ctx", "num_ctx_models"):
        if key in data and kind != "ollama":
            r.fail(f"{path}.{key}", "only for type ollama (Ollama's context length; llamacpp models have n_ctx)")
    return ProviderSettings(**values | {"id": pid, "type": kind or "", "base_url": base_url,
                                        "headers": _headers(r, values["headers"], f"{path}.headers"),
                                        "num_ctx_models": _num_ctx_models(r, values["num_ctx_models"],
                                                                          f"{path}.num_ctx_models"),
                                        "prices": _prices(r, values["prices"], f"{path}.prices")})


PRICE_KEYS = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
"""What a model's price says, each in USD per million tokens; `input` and `output` are required."""


def _prices(r: _Reader, table: dict, path: str) -> dict[str, dict[str, float]]:
    """A provider's prices by model: tables of PRICE_KEYS, each a number of dollars, 0 or more."""
    good = {}
    for model, price in table.items():
        if not isinstance(price, dict):
            r.fail(f"{path}.{model}", "must be a table: { input = ..., output = ... } in USD per million tokens")
            continue
        r.known_keys(price, PRICE_KEYS, f"{path}.{model}")
        for key in ("input", "output"):
            if key not in price:
                r.fail(f"{path}.{model}.{key}", "missing")
        numbers = {}
        for key, value in price.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
                r.fail(f"{path}.{model}.{key}", "must be a number of USD per million tokens, 0 or more")
            elif key in PRICE_KEYS:
                numbers[key] = float(value)
        if "input" in numbers and "output" in numbers:
            good[model] = numbers
    return good


def _num_ctx_models(r: _Reader, table: dict, path: str) -> dict[str, int]:
    """An Ollama provider's context length per model: whole numbers of tokens (others are problems)."""
    good = {}
    for name, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1 << 24:
            r.fail(f"{path}.{name}", f"must be a whole number of tokens from 1 to {1 << 24}")
        else:
            good[name] = value
    return good


def _headers(r: _Reader, table: dict, path: str) -> dict[str, str]:
    """A provider's extra headers: those that are strings, and fit in one line (others are problems)."""
    for name, value in table.items():
        if not isinstance(value, str):
            r.fail(f"{path}.{name}", "must be a string")
        elif "\r" in name + value or "\n" in name + value:
            r.fail(f"{path}.{name}", "must not contain line breaks")
    return {name: value for name, value in table.items() if isinstance(value, str)}


def _base_url(r: _Reader, data: dict, path: str, kind: str | None) -> str:
    """A provider's base URL (its type's default when not written), checked; without a trailing slash."""
    base_url = r.value(data, "base_url", path, str, DEFAULT_BASE_URLS.get(kind or "", ""))
    if not base_url:
        r.fail(f"{path}.base_url", "missing")
    elif "@" in urlsplit(base_url).netloc:  # named without the URL: it holds a password
        r.fail(f"{path}.base_url", "has credentials in it (user:password@host); put the key in api_key or "
                                   "api_key_env, or an Authorization header in headers")
    elif not _is_url(base_url):
        r.fail(f"{path}.base_url", f"not a URL: '{base_url}' (expected http:// or https://)")
    return (base_url or "").rstrip("/")


def _local(r: _Reader, data: dict, path: str) -> LocalSettings:
    values = r.settings(data, path, LocalSettings)
    models = {name: model for name, value in values["models"].items()
              if (model := _local_model(r, name, value, f"{path}.models.{name}"))}
    if not values["models_dir"] and not values["models"]:
        r.fail(path, "a llamacpp provider needs models_dir or [providers.ID.models.NAME] tables")
    return LocalSettings(**values | {"models_dir": _path(values["models_dir"]), "models": models})


def _local_model(r: _Reader, name: str, data: Any, path: str) -> LocalModelSettings | None:
    if not isinstance(data, dict):
        r.fail(path, "must be a table with `path` or `package`")
        return None
    if ":" in name:
        r.fail(path, "model names cannot contain ':'")
    r.known_keys(data, keys(LocalModelSettings), path)
    values = r.settings(data, path, LocalModelSettings)
    if bool(values["path"]) == bool(values["package"]):
        r.fail(path, "set either path (a GGUF file) or package (a PyPI package shipping one)")
    return LocalModelSettings(name=name, **values | {"path": _path(values["path"])})


def _prompt(r: _Reader, name: str, data: Any) -> PromptSettings | None:
    path = f"prompts.{name}"
    if not isinstance(data, dict):
        r.fail(path, "must be a table with a `text` key")
        return None
    r.known_keys(data, keys(PromptSettings), path)
    return PromptSettings(name=name, text=r.settings(data, path, PromptSettings)["text"] or "")


def _collection(r: _Reader, name: str, data: Any) -> CollectionSettings | None:
    path = f"collections.{name}"
    if not _named_table(r, path, name, data, "collection names", "must be a table with `paths`"):
        return None
    r.known_keys(data, keys(CollectionSettings), path)
    values = r.settings(data, path, CollectionSettings)
    if "paths" in data and not values["paths"]:
        r.fail(f"{path}.paths", "name at least one folder or file")
    if values["embedding_model"] is not None and ":" not in values["embedding_model"]:
        r.fail(f"{path}.embedding_model", "a provider:model id (or leave it out for the built-in embedder)")
    return CollectionSettings(name=name, **values)


def _client(r: _Reader, name: str, data: Any, prompts: dict,
            collections: dict[str, CollectionSettings]) -> ClientSettings | None:
    path = f"clients.{name}"
    if not isinstance(data, dict):
        r.fail(path, "must be a table")
        return None
    r.known_keys(data, keys(ClientSettings), path)
    values = r.settings(data, path, ClientSettings)
    prompt = values["prompt"]
    if prompt is not None and prompt not in prompts:
        known = ", ".join(sorted(prompts)) or "none defined"
        r.fail(f"{path}.prompt", f"no [prompts.{prompt}] (known prompts: {known})")
    if values["api_key"] and len(values["api_key"]) < 8:
        r.fail(f"{path}.api_key", "must be at least 8 characters")
    for collection in values["collections"]:
        if collection not in collections:
            known = ", ".join(sorted(collections)) or "none defined"
            r.fail(f"{path}.collections", f"no [collections.{collection}] (known collections: {known})")
    return ClientSettings(name=name, **values | {"budget": _budget(r, data, f"{path}.budget")})


def _route(r: _Reader, name: str, data: Any, providers: dict[str, ProviderSettings]) -> RouteSettings | None:
    path = f"routes.{name}"
    if not _named_table(r, path, name, data, "route names", "must be a table with `targets`"):
        return None
    r.known_keys(data, keys(RouteSettings), path)
    values = r.settings(data, path, RouteSettings)
    targets, weights = values["targets"], values["weights"]
    for target in targets:
        provider, sep, model = target.partition(":")
        if provider + sep == ROUTE_PREFIX:
            r.fail(f"{path}.targets", f"'{target}': a route cannot be a target (its targets are provider:model ids)")
        elif not sep or not model:
            r.fail(f"{path}.targets", f"'{target}' is not a provider:model id")
        elif provider not in providers:
            known = ", ".join(sorted(providers)) or "none defined"
            r.fail(f"{path}.targets", f"'{target}': no [providers.{provider}] (known providers: {known})")
    if "targets" in data and not targets:
        r.fail(f"{path}.targets", "name at least one provider:model")
    if len(set(targets)) < len(targets):
        r.fail(f"{path}.targets", "each target once")
    if values["strategy"] == "weighted":
        if len(weights) != len(targets) or not any(weights):
            r.fail(f"{path}.weights", f"one weight per target ({len(targets)}), not all 0")
    elif weights:
        r.fail(f"{path}.weights", 'only with strategy = "weighted"')
    return RouteSettings(name=name, **values)


def _budget(r: _Reader, client: dict, path: str) -> BudgetSettings | None:
    """A client's budget table, when it has one."""
    data = client.get("budget")
    if not isinstance(data, dict):
        return None  # absent; a value of another type is already reported by the key's own check
    r.known_keys(data, keys(BudgetSettings), path)
    values = r.settings(data, path, BudgetSettings)
    if values["amount"] is None:
        return None
    return BudgetSettings(**values | {"amount": float(values["amount"])})


def _named(r: _Reader, data: dict, section: str, read: Callable[[str, Any], Any]) -> dict:
    """The entries of a section of named tables ([providers.ID], ...) that could be read."""
    return {name: entry for name, value in r.table(data, section, section).items() if (entry := read(name, value))}


def _unique_keys(r: _Reader, server: ServerSettings, clients: dict[str, ClientSettings]) -> None:
    """Each key identifies one client: the server key and the clients' own keys all differ."""
    identities = [("server.api_key", server.api_key)] + [
        (f"clients.{c.name}.api_key", c.api_key) for c in clients.values() if c.api_key
    ]
    seen: dict[str, str] = {}
    for key_path, key in identities:
        if key in seen:
            r.fail(key_path, f"same key as {seen[key]}; every key must identify one client")
        seen.setdefault(key, key_path)


def parse_config(data: dict, path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Validate parsed TOML; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    r = _Reader()
    r.known_keys(data, SECTIONS, "")
    server = _server(r, r.table(data, "server", "server"))
    prompts = _named(r, data, "prompts", lambda name, value: _prompt(r, name, value))
    providers = _named(r, data, "providers", lambda pid, value: _provider(r, pid, value, environ))
    routes = _named(r, data, "routes", lambda name, value: _route(r, name, value, providers))
    collections = _named(r, data, "collections", lambda name, value: _collection(r, name, value))
    clients = _named(r, data, "clients", lambda name, value: _client(r, name, value, prompts, collections))
    _unique_keys(r, server, clients)
    if (limited := sum(client.limited for client in clients.values())) > MAX_LIMITED_CLIENTS:
        r.fail("clients", f"{limited} clients have limits or a budget; at most {MAX_LIMITED_CLIENTS} can")
    activity = _activity(r, r.table(data, "activity", "activity"))
    tui = _tui(r, r.table(data, "tui", "tui"))
    if r.errors:
        lines = (f"{key_path}: {message}" for key_path, message in r.errors)
        raise ConfigError(f"{path}: invalid configuration\n  " + "\n  ".join(lines), r.errors)
    return Config(path=path, server=server, providers=providers, prompts=prompts, clients=clients,
                  collections=collections, routes=routes, activity=activity, tui=tui)


def file_stamp(path: Path) -> tuple:
    """What tells one version of a file from another: inode, modification time, size (empty if missing)."""
    try:
        stat = os.stat(path)
    except OSError:
        return ()
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def read_config_text(path: Path) -> str:
    """The config file's text; ConfigError if it is missing, unreadable or not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise _file_error(path, "no such file") from None
    except OSError as exc:
        raise _file_error(path, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise _file_error(path, "not UTF-8 text") from None


def parse_toml(text: str, path: Path) -> dict:
    """The config file's TOML as plain data; ConfigError on a syntax error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _file_error(path, f"not valid TOML: {exc}") from None


def load_config(path: Path, environ: dict | None = None) -> Config:
    """Read and validate the config file at `path`."""
    stamp = file_stamp(path)
    data = parse_toml(read_config_text(path), path)
    return dataclasses.replace(parse_config(data, path, environ), stamp=stamp)


# --- first run -----------------------------------------------------------------

def example_config_text() -> str:
    """The documented example config shipped with Gatehouse."""
    return locations.example_config_path().read_text(encoding="utf-8")


def create_config(path: Path) -> str:
    """Write a new config at `path` from the example, with a fresh server key.

    Returns the generated key. The file is created readable by its owner only.
    """
    import tomlkit

    document = tomlkit.parse(example_config_text())
    key = "gh-" + secrets.token_urlsafe(32)
    document["server"]["api_key"] = key
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(tomlkit.dumps(document))
    return key


def open_config(explicit: str | None, say: Callable[[str], None]) -> tuple[Path, Config]:
    """The config file a command uses (`--config`, else as `locations.resolve_config_path` finds it) and its
    settings; a missing file is first created from the example with a new server key, and `say` gets the
    line that tells so.

    Raises ConfigError, whose text is what to print after "gatehouse: ", also when the file cannot be created.
    """
    path = locations.resolve_config_path(explicit)
    try:
        if not path.exists():
            create_config(path)
            say(f"gatehouse: created {path} with a new server key ([server].api_key)")
    except OSError as exc:
        raise ConfigError(str(exc)) from exc
    return path, load_config(path)


# --- comparing -----------------------------------------------------------------

RESTART_KEYS = tuple(f"{section}.{field.name}"
                     for section, settings in (("server", ServerSettings), ("activity", ActivitySettings),
                                               ("tui", TuiSettings))
                     for field, described in declared(settings) if described.restart)
"""Keys whose change needs a new server process (those declared `restart`: a new listening socket, worker count
or data dir); only a section that is one table can hold them."""


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    """Leaves of a config part under their key paths; an `inline` field's keys are its parent's."""
    if hasattr(value, "__dataclass_fields__"):
        for part in fields(value):
            if part.metadata.get("inline"):
                if (inner := getattr(value, part.name)) is not None:
                    _flatten(inner, prefix, out)
            else:
                _flatten(getattr(value, part.name), f"{prefix}.{part.name}", out)
    elif isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    else:
        out[prefix] = value


def changed_keys(old: Config | None, new: Config) -> list[str]:
    """Key paths whose values differ between two configs (names only: safe to log).

    With no old config (the file did not validate), every key of the new one counts as changed.
    """
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for config, flat in ((old, before), (new, after)):
        if config is None:
            continue
        for section in SECTIONS:
            _flatten(getattr(config, section), section, flat)
    return sorted(key for key in before.keys() | after.keys() if before.get(key, _MISSING) != after.get(key, _MISSING))
