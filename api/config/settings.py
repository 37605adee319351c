"""Typed, validated settings read from the TOML config file.

The config file is the single source of truth. `load_config` turns it into
frozen dataclasses or raises `ConfigError` whose message names every bad key
path and what is wrong with it, one per line (`providers.x.base_url: not a URL`).
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import secrets
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from api.config import locations

PROVIDER_TYPES = ("openai", "anthropic", "ollama", "llamacpp")
"""Provider types this version can serve; `llamacpp` runs GGUF models in-process."""

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
    host: str = "127.0.0.1"
    """Interface to listen on; 127.0.0.1 keeps the gateway private to this machine."""
    port: int = 8642
    """TCP port of the HTTP API."""
    api_key: str = ""
    """The server key: full access, including /admin. Required."""
    workers: int = 1
    """Granian worker processes."""
    data_dir: Path = field(default_factory=locations.default_data_dir)
    """Where activity and other non-configuration state is stored."""
    max_body_bytes: int = 10 * 1024 * 1024
    """Largest accepted request body; bigger ones get 413."""
    request_timeout_s: float = 600.0
    """Longest wait for an upstream's next bytes (headers or stream chunk)."""
    connect_timeout_s: float = 10.0
    """Longest wait to open a connection to an upstream."""
    cors_origins: tuple[str, ...] = ()
    """Origins allowed by CORS; empty means CORS is off."""


@dataclass(frozen=True, slots=True)
class ActivitySettings:
    enabled: bool = True
    """Record every API request (the TUI's Activity tab and /admin/activity read the records)."""
    retention_days: float = 30.0
    """Records older than this are deleted."""
    max_rows: int = 1_000_000
    """At most this many records are kept (the oldest go first)."""


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    id: str
    type: str
    base_url: str
    api_key: str = field(default="", repr=False)
    """The key sent upstream; resolved from `api_key_env` when that is set."""
    api_key_env: str = ""
    """Name of the environment variable holding the key, if any."""
    models: tuple[str, ...] | None = None
    """Models served by this provider; None means discover them from the provider."""
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    """Extra headers sent with every upstream request."""
    responses: str | None = None
    """How an `openai` or `ollama` provider serves /v1/responses: "native" (passed through to its own
    /responses) or "translate" (over its /chat/completions); None: native for OpenAI's own API and Azure's,
    else translate (older Ollama versions have no /v1/responses)."""
    local: LocalSettings | None = field(default=None, metadata={"inline": True})
    """The in-process models of a `llamacpp` provider (None for the HTTP types); its keys sit in
    the provider's own table."""


@dataclass(frozen=True, slots=True)
class LocalModelSettings:
    """One `[providers.ID.models.NAME]` table of a `llamacpp` provider."""

    name: str
    path: Path | None = None
    """The GGUF file."""
    package: str | None = None
    """A PyPI package shipping the GGUF, with an `assemble(output_path)` function; used when `path` is not set."""
    n_ctx: int | None = None
    """Context length in tokens; None: the provider's."""
    n_threads: int | None = None
    n_gpu_layers: int | None = None
    chat_template: str | None = None
    """A Jinja chat template used instead of the one in the GGUF file."""


@dataclass(frozen=True, slots=True)
class LocalSettings:
    """Where a `llamacpp` provider finds its GGUF files and how it runs them."""

    models_dir: Path | None = None
    """Every `*.gguf` file in it is a model named by its file name without `.gguf`."""
    models: dict[str, LocalModelSettings] = field(default_factory=dict)
    n_ctx: int = 4096
    """Context length in tokens (prompt and answer); 0 means the model's own (often large) length."""
    n_threads: int = 0
    """CPU threads per generation; 0 means llama.cpp's default."""
    n_gpu_layers: int = 0
    """Layers offloaded to a GPU (needs a GPU build of llama-cpp-python); -1 means all."""
    parallel: int = 1
    """Generations at once per model; each is a separate copy of the model in memory."""
    max_queue: int = 8
    """Requests waiting for a busy model; more get 429."""
    max_loaded: int = 2
    """Models kept in memory; the least recently used idle one is unloaded first."""
    max_memory_mb: int = 0
    """Sum of the loaded models' file sizes allowed in memory; 0 means no limit."""


@dataclass(frozen=True, slots=True)
class PromptSettings:
    name: str
    text: str


@dataclass(frozen=True, slots=True)
class ClientSettings:
    name: str
    model: str | None = None
    """Model used when a request names none or says `default`."""
    prompt: str | None = None
    """Name of a [prompts.X] whose text goes first as a system message."""
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    collections: tuple[str, ...] = ()
    """LocalDocs collections (used once LocalDocs exists)."""
    api_key: str = field(default="", repr=False)
    """A key of this client's own; requests made with it are this client's."""


@dataclass(frozen=True, slots=True)
class TuiSettings:
    theme: str = "gatehouse-dark"
    """The TUI's colour theme: a name from themes/*.toml or one of Textual's built-in themes."""


@dataclass(frozen=True, slots=True)
class Config:
    path: Path
    server: ServerSettings
    providers: dict[str, ProviderSettings]
    prompts: dict[str, PromptSettings]
    clients: dict[str, ClientSettings]
    activity: ActivitySettings = ActivitySettings()
    tui: TuiSettings = TuiSettings()
    stamp: tuple = ()
    """The file's identity and modification time as read (see `file_stamp`)."""

    def client(self, name: str) -> ClientSettings:
        """Settings of a client; unknown names get the `server` client's settings."""
        found = self.clients.get(name) or self.clients.get("server")
        return found or ClientSettings(name="server")


# --- reading -------------------------------------------------------------------

_MISSING = object()


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

    def number(self, data, key, path, default, *, minimum, maximum, integer=False):
        value = self.value(data, key, path, int if integer else (int, float), default)
        if value is not None and not minimum <= value <= maximum:
            self.fail(f"{path}.{key}", f"must be between {minimum} and {maximum}, not {value}")
            return default
        return value

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


_SERVER_KEYS = ("host", "port", "api_key", "workers", "data_dir", "max_body_bytes",
                "request_timeout_s", "connect_timeout_s", "cors_origins")
_PROVIDER_KEYS = ("type", "base_url", "api_key", "api_key_env", "models", "headers", "responses")
RESPONSES_MODES = ("native", "translate")
"""The values of a provider's `responses` key."""
_LOCAL_PROVIDER_KEYS = ("type", "models_dir", "models", "n_ctx", "n_threads", "n_gpu_layers", "parallel",
                        "max_queue", "max_loaded", "max_memory_mb")
_LOCAL_MODEL_KEYS = ("path", "package", "n_ctx", "n_threads", "n_gpu_layers", "chat_template")
_CLIENT_KEYS = ("model", "prompt", "temperature", "top_p", "max_tokens", "collections", "api_key")
_ACTIVITY_KEYS = ("enabled", "retention_days", "max_rows")
_TUI_KEYS = ("theme",)
_TOP_LEVEL = ("server", "providers", "prompts", "clients", "activity", "tui")


def _server(r: _Reader, data: dict) -> ServerSettings:
    path = "server"
    r.known_keys(data, _SERVER_KEYS, path)
    defaults = ServerSettings(data_dir=Path())
    api_key = r.value(data, "api_key", path, str)
    if api_key is not None and len(api_key) < 8:
        r.fail(f"{path}.api_key", "must be at least 8 characters (a fresh config gets a generated one)")
    data_dir = r.value(data, "data_dir", path, str, "")
    cors = r.string_list(data, "cors_origins", path) or ()
    for origin in cors:
        if problem := _origin_problem(origin):
            r.fail(f"{path}.cors_origins", problem)
    return ServerSettings(
        host=r.value(data, "host", path, str, defaults.host),
        port=r.number(data, "port", path, defaults.port, minimum=1, maximum=65535, integer=True),
        api_key=api_key or "",
        workers=r.number(data, "workers", path, defaults.workers, minimum=1, maximum=64, integer=True),
        data_dir=Path(data_dir).expanduser() if data_dir else locations.default_data_dir(),
        max_body_bytes=r.number(data, "max_body_bytes", path, defaults.max_body_bytes,
                                minimum=1024, maximum=1 << 31, integer=True),
        request_timeout_s=float(r.number(data, "request_timeout_s", path, defaults.request_timeout_s,
                                         minimum=0.1, maximum=86400)),
        connect_timeout_s=float(r.number(data, "connect_timeout_s", path, defaults.connect_timeout_s,
                                         minimum=0.1, maximum=600)),
        cors_origins=tuple(origin.lower() for origin in cors),  # browsers send them in lower case
    )


def _activity(r: _Reader, data: dict) -> ActivitySettings:
    path = "activity"
    r.known_keys(data, _ACTIVITY_KEYS, path)
    defaults = ActivitySettings()
    return ActivitySettings(
        enabled=r.value(data, "enabled", path, bool, defaults.enabled),
        retention_days=float(r.number(data, "retention_days", path, defaults.retention_days,
                                      minimum=0.00001, maximum=36500)),
        max_rows=r.number(data, "max_rows", path, defaults.max_rows, minimum=1, maximum=1 << 40, integer=True),
    )


def _tui(r: _Reader, data: dict) -> TuiSettings:
    r.known_keys(data, _TUI_KEYS, "tui")
    default = TuiSettings().theme
    theme = r.value(data, "theme", "tui", str, default)
    if not theme:
        r.fail("tui.theme", "must not be empty")
    return TuiSettings(theme=theme or default)


def _provider(r: _Reader, pid: str, data: Any, environ: dict) -> ProviderSettings | None:
    path = f"providers.{pid}"
    if not isinstance(data, dict):
        r.fail(path, "must be a table")
        return None
    if not _ID_RE.match(pid) or ":" in pid:
        r.fail(path, "provider ids use letters, digits, '-', '_' and '.' (no ':')")
    kind = r.value(data, "type", path, str)
    if kind == "llamacpp":
        r.known_keys(data, _LOCAL_PROVIDER_KEYS, path)
        return ProviderSettings(id=pid, type=kind, base_url="", local=_local(r, data, path))
    r.known_keys(data, _PROVIDER_KEYS, path)
    if kind is not None and kind not in PROVIDER_TYPES:
        r.fail(f"{path}.type", f"must be one of {', '.join(PROVIDER_TYPES)}, not '{kind}'")
    base_url = r.value(data, "base_url", path, str, DEFAULT_BASE_URLS.get(kind or "", ""))
    if not base_url:
        r.fail(f"{path}.base_url", "missing")
    elif "@" in urlsplit(base_url).netloc:  # named without the URL: it holds a password
        r.fail(f"{path}.base_url", "has credentials in it (user:password@host); put the key in api_key or "
                                   "api_key_env, or an Authorization header in headers")
    elif not _is_url(base_url):
        r.fail(f"{path}.base_url", f"not a URL: '{base_url}' (expected http:// or https://)")
    api_key = r.value(data, "api_key", path, str, "")
    api_key_env = r.value(data, "api_key_env", path, str, "")
    if api_key and api_key_env:
        r.fail(path, "set either api_key or api_key_env, not both")
    if api_key_env:
        api_key = environ.get(api_key_env, "")
    headers = r.value(data, "headers", path, dict, {})
    for name, value in headers.items():
        if not isinstance(value, str):
            r.fail(f"{path}.headers.{name}", "must be a string")
        elif "\r" in name + value or "\n" in name + value:
            r.fail(f"{path}.headers.{name}", "must not contain line breaks")
    responses = r.value(data, "responses", path, str, None)
    if responses is not None and responses not in RESPONSES_MODES:
        r.fail(f"{path}.responses", f"must be native or translate, not '{responses}'")
    elif responses is not None and kind not in ("openai", "ollama"):
        r.fail(f"{path}.responses", "only for types openai and ollama (other types always translate /v1/responses)")
    return ProviderSettings(
        id=pid,
        type=kind or "",
        base_url=(base_url or "").rstrip("/"),
        api_key=api_key,
        api_key_env=api_key_env,
        models=r.string_list(data, "models", path),
        headers={k: v for k, v in headers.items() if isinstance(v, str)},
        responses=responses,
    )


def _load_options(r: _Reader, data: dict, path: str, defaults: LocalSettings | None) -> dict:
    """n_ctx, n_threads and n_gpu_layers of a provider (with its defaults) or of a model (None: the provider's)."""
    def option(key, minimum, maximum):
        return r.number(data, key, path, getattr(defaults, key) if defaults else None,
                        minimum=minimum, maximum=maximum, integer=True)
    return {"n_ctx": option("n_ctx", 0, 1 << 24), "n_threads": option("n_threads", 0, 1024),
            "n_gpu_layers": option("n_gpu_layers", -1, 100_000)}


def _local_model(r: _Reader, name: str, data: Any, path: str) -> LocalModelSettings | None:
    if not isinstance(data, dict):
        r.fail(path, "must be a table with `path` or `package`")
        return None
    if ":" in name:
        r.fail(path, "model names cannot contain ':'")
    r.known_keys(data, _LOCAL_MODEL_KEYS, path)
    file = r.value(data, "path", path, str, "")
    package = r.value(data, "package", path, str, "")
    if bool(file) == bool(package):
        r.fail(path, "set either path (a GGUF file) or package (a PyPI package shipping one)")
    return LocalModelSettings(name=name, path=Path(file).expanduser() if file else None, package=package or None,
                              chat_template=r.value(data, "chat_template", path, str, None) or None,
                              **_load_options(r, data, path, None))


def _local(r: _Reader, data: dict, path: str) -> LocalSettings:
    defaults = LocalSettings()
    models_dir = r.value(data, "models_dir", path, str, "")
    table = r.value(data, "models", path, dict, {})
    models = {name: model for name, value in table.items()
              if (model := _local_model(r, name, value, f"{path}.models.{name}"))}
    if not models_dir and not table:
        r.fail(path, "a llamacpp provider needs models_dir or [providers.ID.models.NAME] tables")

    def count(key, minimum, maximum):
        return r.number(data, key, path, getattr(defaults, key), minimum=minimum, maximum=maximum, integer=True)
    return LocalSettings(models_dir=Path(models_dir).expanduser() if models_dir else None, models=models,
                         parallel=count("parallel", 1, 64), max_queue=count("max_queue", 0, 100_000),
                         max_loaded=count("max_loaded", 1, 1024), max_memory_mb=count("max_memory_mb", 0, 1 << 30),
                         **_load_options(r, data, path, defaults))


def _client(r: _Reader, name: str, data: Any, prompts: dict) -> ClientSettings | None:
    path = f"clients.{name}"
    if not isinstance(data, dict):
        r.fail(path, "must be a table")
        return None
    r.known_keys(data, _CLIENT_KEYS, path)
    prompt = r.value(data, "prompt", path, str, None)
    if prompt is not None and prompt not in prompts:
        known = ", ".join(sorted(prompts)) or "none defined"
        r.fail(f"{path}.prompt", f"no [prompts.{prompt}] (known prompts: {known})")
    api_key = r.value(data, "api_key", path, str, "")
    if api_key and len(api_key) < 8:
        r.fail(f"{path}.api_key", "must be at least 8 characters")
    return ClientSettings(
        name=name,
        model=r.value(data, "model", path, str, None) or None,
        prompt=prompt,
        temperature=r.number(data, "temperature", path, None, minimum=0, maximum=2),
        top_p=r.number(data, "top_p", path, None, minimum=0, maximum=1),
        max_tokens=r.number(data, "max_tokens", path, None, minimum=1, maximum=10_000_000, integer=True),
        collections=r.string_list(data, "collections", path) or (),
        api_key=api_key,
    )


def parse_config(data: dict, path: Path, environ: dict | None = None) -> Config:
    """Validate parsed TOML; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    r = _Reader()
    r.known_keys(data, _TOP_LEVEL, "")
    server = _server(r, r.table(data, "server", "server"))

    prompts = {}
    for name, value in r.table(data, "prompts", "prompts").items():
        if not isinstance(value, dict):
            r.fail(f"prompts.{name}", "must be a table with a `text` key")
            continue
        r.known_keys(value, ("text",), f"prompts.{name}")
        text = r.value(value, "text", f"prompts.{name}", str)
        prompts[name] = PromptSettings(name=name, text=text or "")

    providers = {}
    for pid, value in r.table(data, "providers", "providers").items():
        provider = _provider(r, pid, value, environ)
        if provider:
            providers[pid] = provider

    clients = {}
    for name, value in r.table(data, "clients", "clients").items():
        client = _client(r, name, value, prompts)
        if client:
            clients[name] = client

    keys = [("server.api_key", server.api_key)] + [
        (f"clients.{c.name}.api_key", c.api_key) for c in clients.values() if c.api_key
    ]
    seen: dict[str, str] = {}
    for key_path, key in keys:
        if key in seen:
            r.fail(key_path, f"same key as {seen[key]}; every key must identify one client")
        seen.setdefault(key, key_path)

    activity = _activity(r, r.table(data, "activity", "activity"))
    tui = _tui(r, r.table(data, "tui", "tui"))
    if r.errors:
        lines = (f"{key_path}: {message}" for key_path, message in r.errors)
        raise ConfigError(f"{path}: invalid configuration\n  " + "\n  ".join(lines), r.errors)
    return Config(path=path, server=server, providers=providers, prompts=prompts, clients=clients,
                  activity=activity, tui=tui)


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


# --- comparing -----------------------------------------------------------------

RESTART_KEYS = ("server.host", "server.port", "server.workers", "server.data_dir")
"""Keys whose change needs a new server process (a new listening socket, worker count or data dir)."""


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
    before, after = {}, {}
    for config, flat in ((old, before), (new, after)):
        if config is None:
            continue
        for section in ("server", "providers", "prompts", "clients", "activity", "tui"):
            _flatten(getattr(config, section), section, flat)
    return sorted(key for key in before.keys() | after.keys() if before.get(key, _MISSING) != after.get(key, _MISSING))
