"""Which keys the Configuration tab's forms offer for each kind of table, with a line of help each.

The keys and their meaning are api/config.py's; this module only says how to edit them.
"""

from __future__ import annotations

from dataclasses import replace

from api.config.settings import PROVIDER_TYPES, RESPONSES_MODES, ActivitySettings, LocalSettings, ServerSettings
from tui.widgets.form import Field

_server = ServerSettings(data_dir="")

SERVER = (
    Field("host", help="127.0.0.1 keeps the gateway private; 0.0.0.0 opens it (restarts)", default=_server.host),
    Field("port", "int", "the HTTP API's port (restarts the server)", default=_server.port),
    Field("api_key", "secret", "the server key: full access, /admin included (ctrl+r shows it)"),
    Field("workers", "int", "worker processes (restarts the server)", default=_server.workers),
    Field("data_dir", help="activity and other state; empty: the user data dir (restarts)"),
    Field("max_body_bytes", "int", "bigger request bodies get 413", default=_server.max_body_bytes),
    Field("request_timeout_s", "float", "wait for an upstream's next bytes before 504",
          default=_server.request_timeout_s),
    Field("connect_timeout_s", "float", "wait for a connection to an upstream before 502",
          default=_server.connect_timeout_s),
    Field("cors_origins", "list", "browser origins allowed by CORS (http://host:port, or *), comma-separated; "
                                  "empty: off"),
)

PROVIDER = (
    Field("type", "choice", "the API it speaks", choices=PROVIDER_TYPES),
    Field("base_url", help="the API root (openai: with /v1); empty: the type's default"),
    Field("api_key_env", help="preferred: the environment variable that holds the provider's key"),
    Field("api_key", "secret", "or the key itself, stored in the file (ctrl+r shows it)"),
    Field("models", "list", "models to serve, comma-separated; empty: ask the provider"),
    Field("responses", "choice", "openai, ollama: native passes /v1/responses through (Codex models need it), "
                                 "translate goes over chat; empty: native for OpenAI and Azure",
          choices=RESPONSES_MODES),
)

_local = LocalSettings()

LOCAL_PROVIDER = (
    Field("type", "choice", "llamacpp: GGUF models run inside Gatehouse", choices=PROVIDER_TYPES),
    Field("models_dir", help="every *.gguf file in this folder is a model (its name without .gguf)"),
    Field("n_ctx", "int", "context length in tokens; 0: the model's own", default=_local.n_ctx),
    Field("n_threads", "int", "CPU threads per generation; 0: llama.cpp's choice", default=_local.n_threads),
    Field("n_gpu_layers", "int", "layers on a GPU (-1 all; needs a GPU build)", default=_local.n_gpu_layers),
    Field("parallel", "int", "generations at once per model (a copy in memory each)", default=_local.parallel),
    Field("max_queue", "int", "requests waiting for a busy model; more get 429", default=_local.max_queue),
    Field("max_loaded", "int", "models kept in memory (least recently used unloaded)",
          default=_local.max_loaded),
    Field("max_memory_mb", "int", "budget for loaded models' file sizes; 0: none", default=_local.max_memory_mb),
)

LOCAL_MODEL = (
    Field("path", help="the GGUF file (or set package instead)"),
    Field("package", help="a PyPI package shipping the GGUF (written once into the data dir)"),
    Field("n_ctx", "int", "empty: the provider's"),
    Field("n_threads", "int", "empty: the provider's"),
    Field("n_gpu_layers", "int", "empty: the provider's"),
    Field("chat_template", "multiline", "a Jinja chat template instead of the file's own"),
)

PROMPT = (Field("text", "multiline", "the system prompt, sent first"),)

CLIENT = (
    Field("model", help="used when a request names none or says 'default' (provider:model)"),
    Field("prompt", "choice", "a prompt whose text goes first as a system message"),
    Field("temperature", "float", "0-2, only where a request sets none"),
    Field("top_p", "float", "0-1, only where a request sets none"),
    Field("max_tokens", "int", "only where a request sets none"),
    Field("api_key", "secret", "a key of this client's own: it identifies the client (ctrl+r shows it)"),
    Field("collections", "list", "LocalDocs collections (reserved)"),
)

_activity = ActivitySettings()

ACTIVITY = (
    Field("enabled", "bool", "record every API request", default=_activity.enabled),
    Field("retention_days", "float", "records older than this are deleted", default=_activity.retention_days),
    Field("max_rows", "int", "at most this many records are kept", default=_activity.max_rows),
)

TUI = (Field("theme", "choice", "the colours of this app (also: ctrl+p, 'theme')"),)


def client_fields(prompts: list[str]) -> tuple[Field, ...]:
    """The client form, its prompt choice offering the prompts that exist."""
    return tuple(replace(field, choices=tuple(prompts)) if field.key == "prompt" else field for field in CLIENT)


def tui_fields(themes: list[str]) -> tuple[Field, ...]:
    return (replace(TUI[0], choices=tuple(themes)),)
